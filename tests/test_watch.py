"""`fakeface watch` on a video file the test writes itself."""

from __future__ import annotations

import json
import re

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
    raw = capsys.readouterr().out.splitlines()
    lines = [json.loads(line) for line in raw]
    per_frame, summary = lines[:-1], lines[-1]
    assert len(per_frame) == 15
    assert [f["label"] for f in per_frame[:12]] == ["real"] * 12
    assert [f["label"] for f in per_frame[12:]] == ["no-face"] * 3
    assert summary["verdict"] == "real" and summary["stopped"] == "end of stream"
    assert summary["frames_checked"] == 15 and summary["fps"] > 0
    for frame in per_frame[:12]:  # rounded to 5 decimals, as check writes them (2e-05 is one)
        p = frame["fake_probability"]
        assert 0.0 <= p <= 1.0 and round(p, 5) == p, frame
    for line in raw[12:15]:
        assert '"fake_probability": null,' in line, line
    assert 0 < summary["threshold"] < 1
    assert code == 0


def test_watch_missing_file_says_so_at_once(tmp_path, capsys, monkeypatch):
    opened = []
    monkeypatch.setattr(cv2, "VideoCapture", lambda *a: opened.append(a))
    code = main(["watch", "--source", str(tmp_path / "nope.avi")])
    err = capsys.readouterr().err
    assert code == 3 and "nope.avi: no such file" in err
    assert opened == [], "a missing file is not retried"


class NeverOpens:
    def __init__(self, *args):
        pass

    def isOpened(self):
        return False

    def release(self):
        pass


@pytest.mark.parametrize("retries, tries", [("0", 1), ("2", 3)])
def test_watch_retries_count_the_tries_after_the_first(retries, tries, capsys, monkeypatch):
    opened = []
    monkeypatch.setattr(cv2, "VideoCapture", lambda *a: opened.append(a) or NeverOpens())
    code = main(["watch", "--source", "7", "--retries", retries])
    err = capsys.readouterr().err
    assert code == 3 and len(opened) == tries
    assert f"after {tries} {'try' if tries == 1 else 'tries'}" in err


def test_watch_writes_one_line_per_frame_to_a_pipe(sample_photo, tmp_path, capsys):
    bgr = cv2.cvtColor(load_image(sample_photo), cv2.COLOR_RGB2BGR)
    clip = tmp_path / "clip.avi"
    write_video(clip, [bgr] * 4)
    code = main(["watch", "--source", str(clip), "--window", "3", "--threads", "1"])
    lines = capsys.readouterr().out.splitlines()  # captured stdout is not a terminal
    assert len(lines) == 5 and "\r" not in "".join(lines)
    assert all(line.startswith("frame ") for line in lines[:4])
    assert re.search(r"p\(fake\)=0\.\d{3} ", lines[0]) and "threshold" in lines[-1]
    assert lines[-1].startswith("verdict: real") and code == 0
