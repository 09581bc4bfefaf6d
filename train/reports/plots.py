"""PNG plots of a training run: learning curves, ROC curves, confusion matrix."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from fakeface.edge.atomic import atomic_path

from .metrics import roc_auc, roc_curve


def pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def save_figure(plt, fig, path: str | os.PathLike) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


def plot_history(history: dict, path) -> Path:
    """Loss and ROC AUC per epoch, training vs validation."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key in zip(axes, ("loss", "auc")):
        for prefix, style in (("", "-o"), ("val_", "-s")):
            vals = history.get(prefix + key)
            if vals:  # None: an epoch without that metric (validation skipped), left as a gap
                ax.plot(range(1, len(vals) + 1), np.asarray(vals, dtype=float), style, label=(prefix or "train_") + key)
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend()
    return save_figure(plt, fig, path)


def plot_roc(curves: dict, path) -> Path:
    """ROC curves; ``curves`` maps a name to (labels, scores)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, (labels, scores) in curves.items():
        fpr, tpr, _ = roc_curve(labels, scores)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc(labels, scores):.4f})")
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set_xlabel("real faces called fake (FPR)")
    ax.set_ylabel("fake faces caught (TPR)")
    ax.set_title("ROC")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return save_figure(plt, fig, path)


def plot_confusion(confusion, path, title: str = "confusion (test)") -> Path:
    plt = pyplot()
    m = np.asarray(confusion)
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(m, cmap="Blues")
    for i in range(2):
        for j in range(2):
            ax.text(j, i, str(m[i, j]), ha="center", va="center",
                    color="white" if m[i, j] > m.max() / 2 else "black", fontsize=14)
    ax.set_xticks([0, 1], ["real", "fake"])
    ax.set_yticks([0, 1], ["real", "fake"])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    return save_figure(plt, fig, path)
