"""Which crop geometry and which depth of EfficientNet-Lite0 to fine-tune, measured cheaply:
a logistic regression on frozen, pooled ImageNet features, per input size and margin.

    fakeface prepare ../shared/data/faces work/crops224 --crop resize --crop-margin 0.4 --input-size 224
    python -m fakeface.train.reports.probe_geometry work/crops224 --sizes 128,160 --margins 0.1,0.25,0.4

Every smaller margin is cut from the centre of the 0.4-margin crops and resized, so one
`prepare` serves the whole grid.  Reports validation AUC overall and per twin pair, and the
SD 1.4 fakes caught and worst real source accepted at 95 % real acceptance, for the pooled
features of block 11 (``b10``, the truncated backbone), the head, and all taps together.
"""

from __future__ import annotations

import argparse
import json

import cv2
import numpy as np

from fakeface.edge.strict_json import dumps

from ..data.dataset import load_split, sample_weights
from ..data.layout import TWIN_PAIRS
from ..models.efficientnet_lite import MULTI_TAPS, tap_layer
from .metrics import roc_auc

TAPS = {f"b{i:02d}": i for i in MULTI_TAPS}  # the blocks lite0_multi's head reads


def tapped_backbone(size: int):
    """The pretrained Lite0 backbone with pooled outputs after blocks 4, 7, 10, 14 and the head."""
    import keras

    from ..models.efficientnet_lite import build_lite0_backbone

    full = build_lite0_backbone(size, pooled=False)
    outs = {}
    for key, i in TAPS.items():
        outs[key] = keras.layers.GlobalAveragePooling2D()(full.get_layer(tap_layer(i)).output)
    outs["head"] = keras.layers.GlobalAveragePooling2D()(full.output)
    return keras.Model(full.input, outs)


def recut(images: np.ndarray, src_margin: float, margin: float, size: int) -> np.ndarray:
    """The centre square a ``margin`` crop would have been, resized to ``size``."""
    side = images.shape[1]
    keep = int(round(side * (1 + 2 * margin) / (1 + 2 * src_margin)))
    off = (side - keep) // 2
    interp = cv2.INTER_AREA if keep > size else cv2.INTER_LINEAR
    return np.stack([cv2.resize(im[off:off + keep, off:off + keep], (size, size), interpolation=interp)
                     for im in images])


def fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float = 1e-2, steps: int = 30):
    """Weighted, L2-regularised logistic regression by Newton's method on standardised features."""
    mean, std = x.mean(0), x.std(0) + 1e-6

    def design(v):
        return np.hstack([(v - mean) / std, np.ones((len(v), 1))])

    z, beta = design(x), np.zeros(x.shape[1] + 1)
    w = w / w.mean()
    reg = l2 * len(x) * np.eye(len(beta))
    reg[-1, -1] = 0.0  # the intercept is not shrunk
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-z @ beta))
        grad = z.T @ (w * (p - y)) + reg @ beta
        hess = (z * (w * p * (1 - p))[:, None]).T @ z + reg
        beta -= np.linalg.solve(hess, grad)
    return lambda v: 1.0 / (1.0 + np.exp(-design(v) @ beta))


def summarise(p: np.ndarray, cs) -> dict:
    src, y = np.array(cs.sources), cs.labels
    out = {"auc": roc_auc(y, p)}
    for fake, real in TWIN_PAIRS.items():
        m = (src == fake) | (src == real)
        out[fake.split("/")[1]] = roc_auc(y[m], p[m])
    reals = np.sort(p[y == 0])
    t = reals[min(len(reals) - 1, int(0.95 * len(reals)))]
    accepted = {s: float(np.mean(p[src == s] < t)) for s in set(cs.sources) if s.startswith("real/")}
    out["worst_real_accepted"] = min(accepted.values())
    out["sd14_caught"] = float(np.mean(p[src == "fake/sd14-blonde-woman"] >= t)) \
        if (src == "fake/sd14-blonde-woman").any() else float("nan")
    return {k: round(float(v), 3) for k, v in out.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fakeface.train.reports.probe_geometry", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("crops", help="crops from 'fakeface prepare --crop resize' with the largest margin")
    ap.add_argument("--sizes", default="128,160", help="input sizes, comma list (default 128,160)")
    ap.add_argument("--margins", default="0.1,0.25,0.4", help="margins, comma list (default 0.1,0.25,0.4)")
    ap.add_argument("--limit", type=int, default=3000, help="training crops (default 3000)")
    args = ap.parse_args(argv)
    from fakeface.edge.tf_environment import set_tf_environment

    set_tf_environment()

    from pathlib import Path

    src_margin = float(json.loads((Path(args.crops) / "crops.json").read_text())["crop_margin"])
    train, _ = load_split(args.crops, "train", progress=False, limit=args.limit)
    val, _ = load_split(args.crops, "val", progress=False)
    weights = sample_weights(train, "source").astype(np.float64)
    for size in (int(s) for s in args.sizes.split(",")):
        model = tapped_backbone(size)
        for margin in (float(m) for m in args.margins.split(",")):
            if margin > src_margin:
                raise SystemExit(f"--margins: {margin} is wider than the crops' own margin {src_margin}")
            f_train = model.predict(recut(train.images, src_margin, margin, size).astype(np.float32), verbose=0)
            f_val = model.predict(recut(val.images, src_margin, margin, size).astype(np.float32), verbose=0)
            f_train["multi"] = np.hstack([f_train[k] for k in (*TAPS, "head")])
            f_val["multi"] = np.hstack([f_val[k] for k in (*TAPS, "head")])
            for feat in ("b10", "head", "multi"):
                fit = fit_logistic(f_train[feat].astype(np.float64), train.labels.astype(np.float64), weights)
                row = {"size": size, "margin": margin, "features": feat,
                       **summarise(fit(f_val[feat].astype(np.float64)), val)}
                print(dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
