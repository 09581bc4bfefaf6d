"""The first phase of fine-tuning a pretrained backbone: fit only the head, on cached features.

Fine-tuning a pretrained network with a freshly initialised head lets the head's large,
random early gradients distort the backbone's features (Kumar et al., "Fine-Tuning can
Distort Pretrained Features", ICLR 2022).  Fitting the head first on frozen features
("linear probing, then fine-tuning") avoids that, and costs one forward pass over the
training crops: the features are computed once, without augmentation, and the head is
then fitted for many epochs in seconds.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from fakeface.edge.contract import fake_probabilities

from ..data.dataset import CropSet, at_most_per_source, sample_weights
from ..reports.metrics import roc_auc

HEAD_LAYER = "fake_probability"
# Training crops per source folder the probe computes features of.  The head only starts
# fine-tuning, and a logistic regression on 1,280 features needs a few thousand crops, not
# all 13k: the full set cost 2-3.5 of `make default-model`'s minutes, this cap about a third.
PROBE_CROPS_PER_SOURCE = 400


@dataclass
class ProbeResult:
    train_auc: Optional[float]  # None: the crops hold one class only, so AUC is undefined
    val_auc: Optional[float]
    seconds: float
    train_crops: int = 0

    def line(self) -> str:
        return (f"train: linear probe on frozen features of {self.train_crops:,} crops: train AUC {_auc(self.train_auc)}, "
                f"val AUC {_auc(self.val_auc)} ({self.seconds:.0f} s)")


def _auc(value: Optional[float]) -> str:
    return "n/a (needs real and fake crops)" if value is None else f"{value:.4f}"


def _features(extractor, images: np.ndarray, verbose: bool) -> np.ndarray:
    # Keras's bar is ANSI codes and carriage returns: only on a terminal, never into a log file
    bar = verbose and sys.stdout.isatty()
    return extractor.predict(images.astype(np.float32), batch_size=64, verbose=1 if bar else 0)


def fit_linear_probe(model, extractor, train_cs: CropSet, val_cs: CropSet, balance: str = "source",
                     source_weights: Optional[dict] = None,
                     epochs: int = 60, l2: float = 1e-3, seed: int = 1, verbose: bool = True,
                     per_source: int = PROBE_CROPS_PER_SOURCE) -> ProbeResult:
    """Fit ``model``'s final Dense layer (``fake_probability``) on ``extractor``'s features of
    at most ``per_source`` training crops of every source, and write the fitted weights into
    ``model``."""
    import keras

    t0 = time.perf_counter()
    train_cs = at_most_per_source(train_cs, per_source, seed)
    x_train = _features(extractor, train_cs.images, verbose)
    x_val = _features(extractor, val_cs.images, verbose) if len(val_cs) else np.zeros((0, x_train.shape[1]))
    # A feature that hardly varies on the training crops (a dead ReLU6 channel) must not get a
    # huge folded weight w / std: fine-tuning would wake it up and swamp the logit.
    mean, std = x_train.mean(0), np.maximum(x_train.std(0), 1e-2)

    keras.utils.set_random_seed(seed)
    inp = keras.Input((x_train.shape[1],))
    head = keras.layers.Dense(1, activation="sigmoid", kernel_regularizer=keras.regularizers.L2(l2))
    probe = keras.Model(inp, head(inp))
    probe.compile(optimizer=keras.optimizers.Adam(3e-3), loss="binary_crossentropy")
    probe.fit((x_train - mean) / std, train_cs.labels.astype(np.float32),
              sample_weight=sample_weights(train_cs, balance, source_weights), batch_size=256, epochs=epochs,
              shuffle=True, verbose=0)

    # Fold the standardisation into the Dense layer: w' = w / std, b' = b - sum(w * mean / std).
    w, b = head.get_weights()
    w_folded = (w[:, 0] / std)[:, None].astype(np.float32)
    b_folded = (b - np.sum(w[:, 0] * mean / std)).astype(np.float32)
    model.get_layer(HEAD_LAYER).set_weights([w_folded, b_folded])

    def auc(x, cs):
        if not len(cs) or len(set(cs.labels.tolist())) < 2:
            return None
        return roc_auc(cs.labels, fake_probabilities(probe.predict((x - mean) / std, batch_size=1024, verbose=0)))

    return ProbeResult(train_auc=auc(x_train, train_cs), val_auc=auc(x_val, val_cs),
                       seconds=time.perf_counter() - t0, train_crops=len(train_cs))
