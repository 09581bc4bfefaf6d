"""`fakeface watch` on a video file the test writes itself."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from fakeface.edge.cli import main
from fakeface.edge.imageio import load_image


def write_video(path, frames_bgr, fps=10):
    h, w = frames_bgr[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write MJPG/AVI")
    for f in frames_bgr:
        writer.write(f)
    writer.release()


def test_watch_a_real_face_clip_then_end_cleanly(sample_photo, tmp_path, capsys):
    bgr = cv2.cvtColor(load_image(sample_photo), cv2.COLOR_RGB2BGR)
    blank = np.full_like(bgr, 127)
    # 12 frames of the astronaut (slightly shifted, like a hand-held camera), then 3 without a face.
    frames = [np.roll(bgr, (i % 3) * 2, axis=1) for i in range(12)] + [blank] * 3
    clip = tmp_path / "clip.avi"
    write_video(clip, frames)
    code = main(["watch", "--source", str(clip), "--json", "--window", "10", "--threads", "1"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    per_frame, summary = lines[:-1], lines[-1]
    assert len(per_frame) == 15
    assert [f["label"] for f in per_frame[:12]] == ["real"] * 12
    assert [f["label"] for f in per_frame[12:]] == ["no-face"] * 3
    assert summary["verdict"] == "real" and summary["stopped"] == "end of stream"
    assert summary["frames_checked"] == 15 and summary["fps"] > 0
    assert code == 0


def test_watch_missing_source_exits_3(tmp_path, capsys):
    code = main(["watch", "--source", str(tmp_path / "nope.avi"), "--retries", "1"])
    assert code == 3
    assert "could not open" in capsys.readouterr().err
