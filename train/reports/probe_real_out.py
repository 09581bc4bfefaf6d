"""Leave one real studio or camera source out, on frozen features: which representation and which
crop could tell a studio nobody has seen from the fakes, measured in minutes instead of hours.

    python -m fakeface.train.reports.probe_real_out work/crops --variants plain,oval,margin0.1

For each crop variant, the pretrained EfficientNet-Lite0 (no fine-tuning) gives pooled features
after blocks 4, 7, 10 and 14 and after the head.  For each held-out real source, a weighted
logistic regression (sources balanced as in training) is fitted on the training split of every
other source, its threshold set at 95 % acceptance of the other sources' validation reals, and
the held-out source scored: acceptance counted by person, and its AUC against the fake test
faces (threshold-free).  Fine-tuning can only use what these features carry, or learn new
features; if no frozen representation separates a held-out studio from the fakes, more epochs on
the same crops are unlikely to, and a variant that raises this AUC is worth a full fold.

Variants: ``plain`` (the crops as they are), ``oval`` (the backdrop outside the face oval grey,
models/face_oval.py), ``marginM`` (the centre square of margin M, cut from the crops and resized),
``sizeN`` (the crops resized to N pixels: the input resolution).  ``--drop-source`` leaves a
source out of every fold's training as well, to see what it teaches.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from fakeface.edge.strict_json import dumps

from ..data.dataset import load_split, sample_weights, take
from ..data.layout import group_of, source_key_of_crop
from .leave_one_real_out import STUDIO_SOURCES
from .metrics import rate_by_group, roc_auc, threshold_for_real_acceptance
from .probe_geometry import TAPS, fit_logistic, recut, tapped_backbone

FEATURES = ("b04", "b07", "b10", "b14", "head", "multi")


def variant_images(images: np.ndarray, variant: str, margin: float) -> np.ndarray:
    """The crops as ``variant`` sees them, float32 0..255."""
    if variant == "plain":
        return images.astype(np.float32)
    if variant == "oval":
        from ..models.face_oval import FILL, oval_weights

        w = oval_weights(images.shape[1], margin)
        return images.astype(np.float32) * w + FILL * (1.0 - w)
    if variant.startswith("size"):
        import cv2

        n = int(variant[len("size"):])
        interp = cv2.INTER_AREA if n < images.shape[1] else cv2.INTER_LINEAR
        return np.stack([cv2.resize(im, (n, n), interpolation=interp) for im in images]).astype(np.float32)
    if variant.startswith("margin"):
        return recut(images, margin, float(variant[len("margin"):]), images.shape[1]).astype(np.float32)
    raise SystemExit(f"--variants: unknown variant {variant!r} (plain, oval, marginM)")


def fold_row(feats: dict, splits: dict, held: str, feature: str, l2: float = 1e-2, drop: tuple = ()) -> dict:
    """One fold: fitted without ``held`` (and without the ``drop`` sources, to see what they teach)."""
    train, val, test = (splits[k] for k in ("train", "val", "test"))
    keep_tr = np.array([s != held and s not in drop for s in train.sources])
    tr = take(train, keep_tr)
    x_tr = feats["train"][feature][keep_tr]
    fit = fit_logistic(x_tr, tr.labels.astype(np.float64), sample_weights(tr, "source").astype(np.float64), l2=l2)
    val_real = np.array([lab == 0 and s != held for lab, s in zip(val.labels, val.sources)])
    threshold = threshold_for_real_acceptance(fit(feats["val"][feature][val_real]), 0.95)
    p_held = np.concatenate([fit(feats[k][feature][[s == held for s in splits[k].sources]]) for k in splits])
    held_paths = [p for k in splits for p, s in zip(splits[k].paths, splits[k].sources) if s == held]
    fakes = test.labels == 1
    p_fake = fit(feats["test"][feature][fakes])
    accepted, people = rate_by_group(p_held < threshold, [group_of(source_key_of_crop(p)) for p in held_paths])

    def auc_against(p_f):
        return round(roc_auc(np.r_[np.ones(len(p_f)), np.zeros(len(p_held))], np.r_[p_f, p_held]), 3)

    row = {"held_out": held, "feature": feature, "l2": l2, "people": people, "accepted": round(accepted, 3),
           "held_out_auc": auc_against(p_fake), "test_fakes_caught": round(float(np.mean(p_fake >= threshold)), 3)}
    if drop:
        seen = np.array([s not in drop for s, f in zip(test.sources, fakes) if f])
        row.update(dropped=list(drop), held_out_auc_seen_fakes=auc_against(p_fake[seen]))
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fakeface.train.reports.probe_real_out", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("crops", help="crops from 'fakeface prepare --crop resize'")
    ap.add_argument("--variants", default="plain,oval", help="comma list: plain, oval, marginM (default plain,oval)")
    ap.add_argument("--features", default="head,multi", help=f"comma list of {', '.join(FEATURES)} (default head,multi)")
    ap.add_argument("--l2", default="0.01", help="comma list of L2 strengths of the regression (default 0.01)")
    ap.add_argument("--drop-source", action="append", default=[], metavar="SOURCE",
                    help="also leave this source out of every fold's training (repeatable): what does it teach?")
    ap.add_argument("--drop-each", action="store_true",
                    help="repeat every fold with each fake source left out of training in turn")
    ap.add_argument("--limit", type=int, default=6000, help="training crops (default 6000, every studio crop kept)")
    ap.add_argument("--out", help="also write the rows to this JSON file")
    args = ap.parse_args(argv)
    from fakeface.edge.tf_environment import set_tf_environment

    set_tf_environment()
    margin = float(json.loads((Path(args.crops) / "crops.json").read_text())["crop_margin"])
    splits = {k: load_split(args.crops, k, progress=False)[0] for k in ("train", "val", "test")}
    train = splits["train"]
    if args.limit and len(train) > args.limit:  # thin the large sources, keep every studio face
        rng = np.random.default_rng(1)
        studio = np.array([s in STUDIO_SOURCES for s in train.sources])
        others = np.flatnonzero(~studio)
        keep = np.zeros(len(train), bool)
        keep[studio] = True
        keep[rng.choice(others, max(0, args.limit - int(studio.sum())), replace=False)] = True
        splits["train"] = take(train, keep)
    models = {}
    rows = []
    for variant in args.variants.split(","):
        feats = {}
        for k, cs in splits.items():
            images = variant_images(cs.images, variant, margin)
            if images.shape[1] not in models:
                models[images.shape[1]] = tapped_backbone(images.shape[1])
            out = models[images.shape[1]].predict(images, batch_size=64, verbose=0)
            out["multi"] = np.hstack([out[t] for t in (*TAPS, "head")])
            feats[k] = {f: out[f].astype(np.float64) for f in FEATURES}
        drops = [tuple(args.drop_source)]
        if args.drop_each:  # every fake source left out in turn, after the run with none left out
            drops += [(src,) for src in sorted({x for x in splits["train"].sources if x.startswith("fake/")})]
        for feature in args.features.split(","):
            for l2 in (float(v) for v in args.l2.split(",")):
                for drop in drops:
                    for held in STUDIO_SOURCES:
                        row = {"variant": variant, **fold_row(feats, splits, held, feature, l2, drop)}
                        rows.append(row)
                        print(dumps(row), flush=True)
    if args.out:
        Path(args.out).write_text(dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
