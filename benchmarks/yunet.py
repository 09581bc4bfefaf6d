"""YuNet (OpenCV Zoo) as a peer detector: a strong, fast baseline to set MTCNN beside.

The user brings the .onnx file (--yunet PATH); nothing is downloaded or shipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .frames import FrameSet
from .runners import TimingPlan, measure, whole_passes
from .suite import BenchRow, Job, fill_row

SCORE_THRESHOLD = 0.9  # OpenCV Zoo's demo default
NMS_THRESHOLD = 0.3
TOP_K = 5000


class YuNetDetector:
    def __init__(self, path: str | Path, size: Sequence[int], threads: int):
        import cv2

        if not Path(path).is_file():
            raise FileNotFoundError(f"{path}: YuNet model not found")
        # OpenCV's DNN module uses one global thread pool.
        cv2.setNumThreads(int(threads))
        self._det = cv2.FaceDetectorYN.create(str(path), "", (int(size[0]), int(size[1])),
                                              SCORE_THRESHOLD, NMS_THRESHOLD, TOP_K)

    def detect(self, frame_rgb):
        import cv2

        h, w = frame_rgb.shape[:2]
        self._det.setInputSize((w, h))
        # YuNet was trained on BGR frames, as OpenCV reads them.
        _, faces = self._det.detect(cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR))
        return [] if faces is None else list(faces)


def yunet_jobs(path: str, frame_sets: Sequence[FrameSet], plan: TimingPlan, threads: Sequence[int]) -> list[Job]:
    def make(fs: FrameSet, t: int):
        def execute(row: BenchRow) -> None:
            m, det = measure(lambda: YuNetDetector(path, fs.size, t),
                             lambda d, i: d.detect(fs.frames[i % len(fs.frames)]), whole_passes(plan, len(fs.frames)))
            row.faces = [len(det.detect(f)) for f in fs.frames]
            fill_row(row, m)
        return execute

    return [Job(BenchRow("detect", "yunet", "onnx fp32", "opencv-dnn", t, fs.label), make(fs, t))
            for t in threads for fs in frame_sets]
