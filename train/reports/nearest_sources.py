"""Which training sources does a model think a face resembles?

A leave-one-out fold turns some people of its held-out studio away.  This probe asks the
fold's own model where those faces sit: it embeds them and a sample of the training crops
with the model's pooled features (the input of its last Dense layer) and counts, for each
face, the sources of its k nearest training crops (cosine similarity).  A real face whose
neighbours are mostly one fake source is judged by what it shares with that source.

    python -m fakeface.train.reports.nearest_sources FOLD/run/model.keras work/crops \\
        --sources real/canada-studio
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

import numpy as np

from fakeface.edge.cli_numbers import positive_int
from fakeface.edge.contract import fake_probabilities, load_contract
from fakeface.edge.errors import FakeFaceError

from ..cli.options import source_list
from ..data.dataset import load_crops, model_pixels
from ..data.layout import SPLITS, scan_folder, select_split
from .common import check_inputs, pick_sources
from .scoring import load_keras_model


def nearest_counts(queries: np.ndarray, pool: np.ndarray, pool_sources, k: int) -> list[collections.Counter]:
    """For each query row, the sources of its ``k`` most cosine-similar pool rows."""
    def unit(x):
        x = np.asarray(x, np.float32).reshape(len(x), -1)
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    sources = np.asarray(pool_sources, dtype=object)
    k = min(k, len(sources))
    similar = unit(queries) @ unit(pool).T
    top = np.argsort(-similar, axis=1)[:, :k]
    return [collections.Counter(sources[row].tolist()) for row in top]


def features_and_scores(model_path):
    """(contract, run(pixels) -> (pooled features, p(fake))) for a .keras model, both from one
    forward pass: the features are the input of its last Dense layer."""
    if Path(model_path).suffix.lower() != ".keras":
        raise FakeFaceError(f"{model_path}: needs the .keras model (its pooled features), not an exported file")
    contract = load_contract(model_path, verify_hash=True)
    model = load_keras_model(Path(model_path))
    import keras

    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    if not dense:
        raise FakeFaceError(f"{model_path}: no Dense layer whose input could serve as the face's features")
    both = keras.Model(model.inputs[0] if len(model.inputs) == 1 else model.inputs, [dense[-1].input, model.output])

    def run(pixels):
        feats, out = both(pixels, training=False)
        return np.asarray(feats), fake_probabilities(out)

    return contract, run


def sample_pool(samples, per_source: int, seed: int) -> list:
    """At most ``per_source`` samples of each source, drawn at random (fixed seed)."""
    rng = np.random.default_rng(seed)
    by_source = collections.defaultdict(list)
    for s in samples:
        by_source[s.source].append(s)
    return [group[i] for _, group in sorted(by_source.items())
            for i in sorted(rng.permutation(len(group))[:per_source])]


def nearest_sources(model_path, crops_dir, sources: list, pool_split: str = "train", per_source: int = 250,
                    k: int = 15, seed: int = 0) -> list[dict]:
    check_inputs(model_path, crops_dir)
    everything = scan_folder(crops_dir, cropped=True)
    faces = pick_sources(everything, sources, crops_dir)
    picked = {s.source for s in faces}
    pool = sample_pool([s for s in select_split(everything, pool_split) if s.source not in picked], per_source, seed)
    if not faces or not pool:
        raise FakeFaceError(f"{crops_dir}: nothing to compare (faces {len(faces)}, {pool_split} pool {len(pool)})")
    contract, run = features_and_scores(model_path)

    def embed(samples):
        crops, _ = load_crops(samples, progress=False)
        pixels = model_pixels(crops, contract, crops_dir)
        parts = [run(pixels[i:i + 64].astype(np.float32)) for i in range(0, len(pixels), 64)]
        return crops, np.concatenate([f for f, _ in parts]), np.concatenate([p for _, p in parts])

    face_crops, face_feats, p_fake = embed(faces)
    pool_crops, pool_feats, _ = embed(pool)
    counts = nearest_counts(face_feats, pool_feats, pool_crops.sources, k)
    rows = []
    for path, p, c in zip(face_crops.paths, p_fake, counts):
        n = sum(c.values())
        rows.append({"face": Path(path).name, "p_fake": float(p),
                     "fake_neighbours": sum(v for s, v in c.items() if s.startswith("fake/")) / n,
                     "nearest": dict(c.most_common())})
    return rows


def to_markdown(rows: list, k: int) -> str:
    lines = [f"| face | p(fake) | fakes among {k} nearest | nearest training sources |", "|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: -r["p_fake"]):
        near = ", ".join(f"{s} {n}" for s, n in list(r["nearest"].items())[:4])
        lines.append(f"| {r['face']} | {r['p_fake']:.3f} | {r['fake_neighbours']:.2f} | {near} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fakeface.train.reports.nearest_sources", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="a .keras model, e.g. a leave-one-out fold's run/model.keras")
    ap.add_argument("crops", help="crop folder made by 'fakeface prepare'")
    ap.add_argument("--sources", type=source_list, required=True, metavar="A,B",
                    help="the source folders whose faces to place, e.g. real/canada-studio")
    ap.add_argument("--pool-split", choices=SPLITS + ("all",), default="train", help="split the neighbours come from (default train)")
    ap.add_argument("--per-source", type=positive_int, default=250, help="pool crops per source (default 250)")
    ap.add_argument("-k", type=positive_int, default=15, help="neighbours per face (default 15)")
    args = ap.parse_args(argv)
    try:
        rows = nearest_sources(args.model, args.crops, args.sources, args.pool_split, args.per_source, args.k)
    except FakeFaceError as exc:
        print(f"{ap.prog}: error: {exc}", file=sys.stderr)
        return 2
    print(to_markdown(rows, args.k))
    return 0


if __name__ == "__main__":
    sys.exit(main())
