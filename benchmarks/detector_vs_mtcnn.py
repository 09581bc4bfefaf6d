"""Time the TF-free edge MTCNN against the reference ``mtcnn`` package on the same frames.

Needs the full (TensorFlow) environment and the face data::

    python -m fakeface.benchmarks.detector_vs_mtcnn --frames 20 --size 640x480

Frames are real lfw-scenes photos letterboxed to the frame size.  Every frame is timed
on every detector in turn (round robin), so a busy machine slows all of them alike.
Prints a Markdown table; ``--json`` also writes the numbers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fakeface.edge.tf_environment import set_tf_environment

set_tf_environment()  # before anything imports TensorFlow (the mtcnn package does)

import cv2
import numpy as np

from fakeface.edge.atomic import write_text_atomic
from fakeface.edge.strict_json import dumps
from fakeface.edge.mtcnn.detector import Detector, DetectorOptions

PAD_VALUE = 114
REPO = Path(__file__).resolve().parents[1]


def data_root() -> Path:
    env = os.environ.get("FAKEFACE_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def letterbox(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    scale = min(width / rgb.shape[1], height / rgb.shape[0])
    w, h = round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)
    frame = np.full((height, width, 3), PAD_VALUE, np.uint8)
    top, left = (height - h) // 2, (width - w) // 2
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    frame[top:top + h, left:left + w] = cv2.resize(rgb, (w, h), interpolation=interp)
    return frame


def load_frames(count: int, width: int, height: int) -> list[np.ndarray]:
    folder = data_root() / "faces" / "real" / "lfw-scenes"
    paths = sorted(folder.glob("*.jpg"))[:count]
    if not paths:
        raise SystemExit(f"no photos in {folder} (set FAKEFACE_DATA)")
    return [letterbox(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB), width, height) for p in paths]


@dataclass
class Timing:
    name: str
    ms: list[float] = field(default_factory=list)
    faces: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.ms)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.ms)


def make_detectors(edge_threads: list[int]) -> dict:
    """name -> callable(frame) -> number of faces.  The mtcnn package first: it is the baseline."""
    from mtcnn import MTCNN

    ref = MTCNN()
    detectors = {"mtcnn 1.0.0 (TensorFlow)": lambda f: len(ref.detect_faces(f))}
    for threads in edge_threads:
        det = Detector(DetectorOptions(backend="litert", model_format="tflite", threads=threads))
        detectors[f"edge tflite/litert, {threads} thread{'s' * (threads > 1)}"] = lambda f, d=det: len(d.detect(f))
    det = Detector(DetectorOptions(backend="onnxruntime", model_format="onnx", threads=1))
    detectors["edge onnx/onnxruntime, 1 thread"] = lambda f, d=det: len(d.detect(f))
    return detectors


def run(frames: list[np.ndarray], detectors: dict, warmup: int = 2, repeat: int = 1) -> list[Timing]:
    timings = {name: Timing(name) for name in detectors}
    for frame in frames[:warmup]:
        for fn in detectors.values():
            fn(frame)
    for _ in range(repeat):
        for frame in frames:
            for name, fn in detectors.items():
                t0 = time.perf_counter()
                n = fn(frame)
                timings[name].ms.append((time.perf_counter() - t0) * 1e3)
                timings[name].faces += n
    return list(timings.values())


def table(timings: list[Timing]) -> str:
    base = timings[0].median
    lines = ["| detector | median ms/frame | mean ms/frame | faces found | speed-up vs mtcnn (median) |",
             "|---|---:|---:|---:|---:|"]
    for t in timings:
        lines.append(f"| {t.name} | {t.median:.1f} | {t.mean:.1f} | {t.faces} | {base / t.median:.1f}x |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--size", default="640x480", help="frame WIDTHxHEIGHT")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="edge TFLite thread counts")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--json", type=Path, help="also write the timings here")
    args = ap.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    frames = load_frames(args.frames, width, height)
    timings = run(frames, make_detectors(args.threads), repeat=args.repeat)
    print(f"{len(frames)} lfw-scenes frames letterboxed to {width}x{height}, {os.cpu_count()} CPUs; "
          "mtcnn uses TensorFlow's default threading")
    print(table(timings))
    if args.json:
        rows = [dict(asdict(t), median_ms=t.median, mean_ms=t.mean) for t in timings]
        write_text_atomic(args.json, dumps({"size": [width, height], "frames": len(frames), "results": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
