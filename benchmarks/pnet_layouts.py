"""Is one P-Net interpreter at the largest level's shape, smaller levels zero-padded into it,
faster than one interpreter per level shape (what the detector does)?

P-Net is fully convolutional with valid padding, so a level padded into a larger input
gives the same outputs over its own cells; the question is only speed.  One interpreter
never re-plans and holds one set of buffers, but runs every level at the largest size.

    python -m fakeface.benchmarks.pnet_layouts --size 640x480 --min-face 20 80 --threads 1
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def level_inputs(size: tuple[int, int], min_face: int) -> list[np.ndarray]:
    """The P-Net inputs of the shipped sample photo letterboxed to ``size`` (W, H)."""
    from fakeface.edge.mtcnn.pyramid import PyramidPlan

    from .frames import letterbox, load_photos

    photos, _ = load_photos()
    frame = np.ascontiguousarray(letterbox(photos[0], size))
    plan = PyramidPlan(frame.shape[0], frame.shape[1], min_face, 0.709)
    return [level.copy() for _, level in plan.scan(frame)]


def time_layouts(levels: list[np.ndarray], threads: int, runs: int) -> dict[str, float]:
    """p50 ms per frame (all levels through P-Net) for each layout, runs interleaved."""
    from fakeface.edge.backends import open_model
    from fakeface.edge.mtcnn.nets import net_path

    path = net_path("pnet", "tflite")
    per_shape = [open_model(path, "litert", threads) for _ in levels]
    padded_runner = open_model(path, "litert", threads)
    big = np.zeros(levels[0].shape, np.float32)

    def run_per_shape():
        for runner, level in zip(per_shape, levels):
            runner.run(level)

    def run_padded():
        for level in levels:
            h, w = level.shape[1:3]
            big[:] = 0.0
            big[:, :h, :w] = level
            padded_runner.run(big)

    samples = {"one interpreter per shape": [], "one padded interpreter": []}
    for fn in (run_per_shape, run_padded):
        fn()  # plans and packs weights once
    for _ in range(runs):
        for name, fn in zip(samples, (run_per_shape, run_padded)):
            t0 = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - t0) * 1e3)
    return {name: float(np.median(s)) for name, s in samples.items()}


def main(argv=None) -> int:
    from .frames import parse_size

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=parse_size, default=(640, 480))
    ap.add_argument("--min-face", type=int, nargs="+", default=[20, 80])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args(argv)
    for min_face in args.min_face:
        levels = level_inputs(args.size, min_face)
        result = time_layouts(levels, args.threads, args.runs)
        per_shape, padded = result.values()
        print(f"{args.size[0]}x{args.size[1]} min face {min_face}, {len(levels)} levels, {args.threads} thread(s): "
              f"per shape {per_shape:.2f} ms, one padded {padded:.2f} ms ({padded / per_shape:.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
