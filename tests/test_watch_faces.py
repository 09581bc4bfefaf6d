"""`fakeface watch` end to end on clips with fake faces, and its options: the default window,
--max-frames, --threshold and --model.  Clips are written by the test; the generated faces
come from ../shared/data/faces (skipped, saying so, where it is absent)."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from fakeface.edge.classifier import default_model_path
from fakeface.edge.cli import main
from fakeface.edge.contract import sidecar_path
from fakeface.edge.imageio import frame_to_rgb, load_image
from fakeface.edge.pipeline import CheckerOptions, FakeFaceChecker

from test_watch import write_video

# A Stable Diffusion face the shipped model judges fake with p(fake) 0.996 (test_fake_photos),
# whose detection score (0.984) is below the astronaut's (0.998) when both are in one frame.
FAKE_FACE = "fake/sd14-blonde-woman/sd14_0003.jpg"
# A StyleGAN face the model is unsure of (p(fake) 0.55): thresholds fall on either side of it.
MID_RANGE_FAKE = "fake/stylegan1-140k/00S2D5CDKQ.jpg"


def side_by_side(left_rgb, right_rgb):
    """One BGR frame: the two pictures beside each other on grey, tops aligned to the middle."""
    height = max(left_rgb.shape[0], right_rgb.shape[0])
    frame = np.full((height, left_rgb.shape[1] + right_rgb.shape[1], 3), 127, np.uint8)
    for x, img in ((0, left_rgb), (left_rgb.shape[1], right_rgb)):
        y = (height - img.shape[0]) // 2
        frame[y:y + img.shape[0], x:x + img.shape[1]] = img
    return cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)


def decoded_frames(clip):
    cap = cv2.VideoCapture(str(clip))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame_to_rgb(frame))
    cap.release()
    return frames


def watch_json(args, capsys):
    code = main(["watch", *args, "--json", "--threads", "1"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return code, lines[:-1], lines[-1]


def test_a_fake_face_beside_a_real_one_makes_the_frame_fake(sample_photo, faces_dir, tmp_path, capsys):
    frame = side_by_side(load_image(sample_photo), load_image(faces_dir / FAKE_FACE))
    clip = tmp_path / "two.avi"
    write_video(clip, [frame] * 5)
    with FakeFaceChecker(CheckerOptions(threads=1)) as checker:
        judged = [checker.check(rgb) for rgb in decoded_frames(clip)]
    for faces in judged:
        # The real face is the detector's surer one: the old rule (the most confident face
        # decides) would have let this frame pass as real.
        assert [f.label for f in faces] == ["real", "fake"], [(f.label, f.score) for f in faces]
    code, per_frame, summary = watch_json(["--source", str(clip), "--window", "3"], capsys)
    assert [f["label"] for f in per_frame] == ["fake"] * 5
    assert [f["faces"] for f in per_frame] == [2] * 5
    # The frame's p(fake) is the fake face's, as check would score it on the same frame.
    assert [f["fake_probability"] for f in per_frame] == [round(faces[1].fake_probability, 5) for faces in judged]
    assert summary["verdict"] == "fake" and code == 1


def test_default_window_is_15_frames_at_60_percent(sample_photo, tmp_path, capsys):
    clip = tmp_path / "real.avi"
    write_video(clip, [cv2.imread(str(sample_photo))] * 10)
    code, per_frame, summary = watch_json(["--source", str(clip)], capsys)
    assert [f["verdict"] for f in per_frame] == ["unsure"] * 8 + ["real"] * 2  # 9 of 15 frames
    assert summary["verdict"] == "real" and code == 0


def test_max_frames_stops_the_watch(sample_photo, tmp_path, capsys):
    clip = tmp_path / "real.avi"
    write_video(clip, [cv2.imread(str(sample_photo))] * 6)
    code, per_frame, summary = watch_json(["--source", str(clip), "--max-frames", "2", "--window", "1"], capsys)
    assert [f["frame"] for f in per_frame] == [1, 2]
    assert summary["frames_read"] == 2 and summary["stopped"] == "reached --max-frames 2"
    assert summary["verdict"] == "real" and code == 0


def test_threshold_just_above_and_below_a_frame_score(faces_dir, tmp_path, capsys):
    # One frame: an unsure face's score moves with the pixels, and the writer's frames are not
    # all alike (0.60 and 0.22 for two frames of this one picture).
    clip = tmp_path / "mid.avi"
    write_video(clip, [cv2.imread(str(faces_dir / MID_RANGE_FAKE))])
    code, per_frame, summary = watch_json(["--source", str(clip), "--window", "1"], capsys)
    p = per_frame[0]["fake_probability"]
    assert 0.02 <= p <= 0.98, f"{MID_RANGE_FAKE} is no longer mid-range ({p}): choose another"
    for threshold, label, exit_code in ((p - 0.01, "fake", 1), (p + 0.01, "real", 0)):
        code, per_frame, summary = watch_json(
            ["--source", str(clip), "--window", "1", "--threshold", f"{threshold:.5f}"], capsys)
        assert per_frame[0]["label"] == label and per_frame[0]["fake_probability"] == p
        assert summary["verdict"] == label and code == exit_code
        assert summary["threshold"] == pytest.approx(threshold, abs=1e-5)


def test_model_option_picks_the_file_and_its_sidecar(sample_photo, tmp_path, capsys):
    src = default_model_path("onnxruntime")
    model = tmp_path / "mine.onnx"
    shutil.copy(src, model)
    meta = json.loads(sidecar_path(src).read_text())
    meta["threshold"] = 0.25  # a threshold only this copy has
    sidecar_path(model).write_text(json.dumps(meta))
    clip = tmp_path / "real.avi"
    write_video(clip, [cv2.imread(str(sample_photo))] * 2)
    code, per_frame, summary = watch_json(["--source", str(clip), "--window", "1", "--model", str(model)], capsys)
    assert summary["threshold"] == 0.25 and summary["verdict"] == "real" and code == 0
    code = main(["watch", "--source", str(clip), "--model", str(tmp_path / "missing.onnx")])
    assert code == 2 and "model file not found" in capsys.readouterr().err
