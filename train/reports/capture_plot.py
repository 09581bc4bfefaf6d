"""capture.png: acceptance of every variant, one bar per source, with the 0.93 line (for
generated faces, ``--fakes``: the share still caught, so higher is better in both).

matplotlib comes with the [bench] and [train] extras, not with [edge]: without it the
chart is skipped and :func:`plot_capture` says so in one line instead of failing.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Optional

import numpy as np

from .capture_report import CaptureReport


def plot_capture(report: CaptureReport, path) -> tuple[Optional[Path], str]:
    """(the PNG written, or None, and a one-line note when it was skipped)."""
    if importlib.util.find_spec("matplotlib") is None:
        return None, 'capture.png skipped: matplotlib is not installed (pip install "fakeface[bench]")'
    from .plots import pyplot, save_figure

    plt = pyplot()
    from matplotlib.patches import Patch

    names = [c.name for c in report.sources[0].slices] if report.sources else []
    n = max(1, len(report.sources))
    width = 0.8 / n
    fig, ax = plt.subplots(figsize=(max(8.0, 0.28 * len(names) * n + 3), 4.5))
    x = np.arange(len(names))
    palette = [c for i, c in enumerate(plt.get_cmap("tab10").colors) if i != 3]  # red is for flags
    colours = [palette[i % len(palette)] for i in range(n)]
    handles = [Patch(facecolor=colours[i], label=f"{s.source} (counted by {s.counted_by})")
               for i, s in enumerate(report.sources)]
    handles += [Patch(facecolor="white", edgecolor="black", hatch="//", label=f"under {report.rules.min_faces} faces"),
                Patch(facecolor="white", edgecolor="tab:red", lw=2, label="flagged (!)")]
    fakes = report.photos_are == "fake"
    for i, s in enumerate(report.sources):
        acc, lo, hi = _bars(s.slices, fakes)
        bars = ax.bar(x - 0.4 + width * (i + 0.5), np.nan_to_num(acc), width, yerr=np.nan_to_num(np.vstack([lo, hi])),
                      color=colours[i], capsize=2, error_kw={"lw": 0.7})
        for b, c in zip(bars, s.slices):
            if c.too_small:
                b.set_hatch("//")
                b.set_alpha(0.5)
            if c.flags:
                b.set_edgecolor("tab:red")
                b.set_linewidth(2)
                ax.text(b.get_x() + b.get_width() / 2, 0.02, "!", color="tab:red", ha="center", fontweight="bold")
    handles.append(ax.axhline(report.rules.floor, color="tab:red", ls="--", lw=1,
                              label=f"flag below {report.rules.floor:g}"))
    ax.set_xticks(x, names, rotation=35, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    what = "generated faces caught" if fakes else "real faces accepted"
    ax.set_ylabel(what)
    ax.set_title(f"Capture: {what} at threshold {report.threshold:.3g} (split {report.split})", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return save_figure(plt, fig, path), ""


def _bars(slices: list, fakes: bool) -> tuple:
    """(heights, lower and upper error lengths) per slice: the acceptance, or for generated
    faces the share caught (1 - acceptance, its interval mirrored); NaN where there is none."""
    def rate(c, value):
        if c.acceptance is None:
            return np.nan
        return 1.0 - value if fakes else value

    height = np.array([rate(c, c.acceptance) for c in slices])
    lo_end = np.array([rate(c, c.interval[1] if fakes else c.interval[0]) for c in slices])
    hi_end = np.array([rate(c, c.interval[0] if fakes else c.interval[1]) for c in slices])
    return height, np.maximum(0.0, height - lo_end), np.maximum(0.0, hi_end - height)
