"""`--min-face PX` reports a face of about PX px even when the box comes back a little smaller.

MTCNN's min face sets the pyramid's first scale, and its box regression can return a face of
that size up to ~8 % smaller; a filter on the exact size dropped an 83-px face at --min-face 80
(issue 29, item 1).
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from fakeface.edge.cli import main
from fakeface.edge.imageio import load_image
from fakeface.edge.mtcnn.detector import Detector, DetectorOptions
from fakeface.edge.pipeline import CheckerOptions, FakeFaceChecker

from test_watch import write_video

# The sample photo's face is 85 px wide at 512 px; scaled by 0.95 it is ~83 px (81.5-85.3 px
# at min face 79 and 81), and the search at min face 80 returns it as a 77.7-px box.
SCALE = 0.95


@pytest.fixture(scope="module")
def frame_83px(sample_photo) -> np.ndarray:
    """A 640x480 RGB frame: the sample photo scaled by SCALE on grey, cropped to 480 rows."""
    photo = load_image(sample_photo)
    side = round(photo.shape[0] * SCALE)
    scaled = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)[:480]
    frame = np.full((480, 640, 3), 127, np.uint8)
    x0 = (640 - side) // 2
    frame[: scaled.shape[0], x0: x0 + side] = scaled
    return frame


def test_the_frame_shows_the_detector_box_error(frame_83px):
    """The case itself: around 83 px at 79 and 81, under 80 px when searched at 80."""
    sides = {}
    for min_face in (79, 80, 81):
        with Detector(DetectorOptions(min_face_size=min_face, threads=1)) as det:
            faces = det.detect(frame_83px)
        assert len(faces) == 1
        sides[min_face] = min(faces[0].box[2:])
    assert 80 < sides[79] < 87 and 80 < sides[81] < 87
    assert sides[80] < 80


def test_check_finds_an_83px_face_at_min_face_80(frame_83px):
    with FakeFaceChecker(CheckerOptions(min_face_size=80, threads=1)) as checker:
        faces = checker.check(frame_83px)
    assert len(faces) == 1 and faces[0].label == "real"


def test_check_cli_finds_it_at_min_face_80(frame_83px, tmp_path, capsys):
    path = tmp_path / "frame.png"
    cv2.imwrite(str(path), cv2.cvtColor(frame_83px, cv2.COLOR_RGB2BGR))
    code = main(["check", str(path), "--min-face", "80", "--json", "--threads", "1"])
    report = json.loads(capsys.readouterr().out.splitlines()[0])
    assert code == 0 and len(report["faces"]) == 1 and report["faces"][0]["label"] == "real"


def test_a_face_well_below_min_face_is_still_not_reported(frame_83px):
    with FakeFaceChecker(CheckerOptions(min_face_size=120, threads=1)) as checker:
        assert checker.check(frame_83px) == []


def test_watch_at_min_face_80_ends_real(frame_83px, tmp_path, capsys):
    bgr = cv2.cvtColor(frame_83px, cv2.COLOR_RGB2BGR)
    clip = tmp_path / "unlock.avi"
    write_video(clip, [bgr] * 8)
    code = main(["watch", "--source", str(clip), "--min-face", "80", "--json", "--window", "5", "--threads", "1"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[-1]["verdict"] == "real" and code == 0
