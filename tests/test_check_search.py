"""What `check --working-pixels` and `CheckerOptions.max_faces` change: the copy faces are
searched on, and how many of the faces found are judged."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from fakeface.edge.cli import main
from fakeface.edge.imageio import load_image
from fakeface.edge.mtcnn.detector import Detector
from fakeface.edge.pipeline import CheckerOptions, FakeFaceChecker

from conftest import ASTRONAUT_FACE, iou

@pytest.fixture(scope="module")
def large_photo(sample_photo, tmp_path_factory):
    """A 1600x1200 photo (1.92 MP) with the sample pasted at (900, 500); where its face is."""
    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    photo = cv2.resize(coarse, (1600, 1200), interpolation=cv2.INTER_CUBIC)
    photo[500:1012, 900:1412] = cv2.imread(str(sample_photo))
    path = tmp_path_factory.mktemp("search") / "large.jpg"
    assert cv2.imwrite(str(path), photo, [cv2.IMWRITE_JPEG_QUALITY, 92])
    x, y, w, h = ASTRONAUT_FACE
    return path, (900 + x, 500 + y, w, h)


@pytest.mark.parametrize("working_pixels, searched", [
    (None, (612, 816)),  # the default, 500,000 pixels: a 4:3 photo becomes 816x612
    ("200000", (387, 516)),
    ("2000000", (1200, 1600)),  # more than the photo: searched as it is
])
def test_working_pixels_sets_the_copy_faces_are_searched_on(large_photo, monkeypatch, capsys,
                                                            working_pixels, searched):
    path, face = large_photo
    shapes = []
    detect = Detector.detect

    def recording_detect(self, image_rgb, clock=None):
        shapes.append(image_rgb.shape[:2])
        return detect(self, image_rgb, clock)

    monkeypatch.setattr(Detector, "detect", recording_detect)
    args = ["check", str(path), "--json", "--threads", "1"]
    if working_pixels:
        args += ["--working-pixels", working_pixels]
    code = main(args)
    report = json.loads(capsys.readouterr().out)
    assert shapes == [searched]
    assert shapes[0][0] * shapes[0][1] <= int(working_pixels or 500_000)
    # Wherever it was searched, the face comes back in the photo's own pixels.
    assert max(iou(face, f["box"]) for f in report["faces"]) > 0.8 and code == 0


def test_too_small_a_working_copy_is_refused(large_photo, capsys):
    path, _ = large_photo
    with pytest.raises(SystemExit) as info:
        main(["check", str(path), "--working-pixels", "1000"])
    assert info.value.code == 2
    assert "argument --working-pixels: must be an integer of at least 120000, not 1000" in capsys.readouterr().err


def test_max_faces_judges_only_the_most_confident(sample_photo):
    photo = load_image(sample_photo)
    twins = np.concatenate([photo, np.ascontiguousarray(photo[:, ::-1])], axis=1)  # two faces
    with FakeFaceChecker(CheckerOptions(threads=1)) as checker:
        every = checker.check(twins)
    with FakeFaceChecker(CheckerOptions(threads=1, max_faces=1)) as checker:
        one = checker.check(twins)
    assert len(every) == 2 and every[0].score >= every[1].score
    assert len(one) == 1 and one[0].box == every[0].box and one[0].fake_probability == every[0].fake_probability
