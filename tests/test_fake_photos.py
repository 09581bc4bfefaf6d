"""The classifier judged on photos of real and generated faces, on both backends.

The sample photo scores 0.0, so a classifier that always says "real" would pass every test
that uses it alone.  These photos come from ../shared/data/faces (research data that is never
copied into the repository: the tests skip, saying so, where it is absent).  Each was chosen
by running the shipped model: one face, far from the threshold on both backends (fakes 0.996
to 1.000, reals 0.000), so that a retrained model should judge them alike.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from fakeface.edge.classifier import Classifier
from fakeface.edge.cli import main
from fakeface.edge.pipeline import CheckerOptions, FakeFaceChecker

from conftest import SURE_FACE_BACKEND_GAP, installed_backends

# Photo under faces/ -> the label of its one face.
PHOTOS = {
    # generated.photos-style GAN portraits.  The first is also the one that ONNX Runtime's fused
    # int8 kernels turned from 1.000 into 0.000 on a CPU without VNNI (edge/backends.py).
    "fake/generated-photos/00c986fc-0e1d-4e84-a894-88b5b188a1b6.jpg": "fake",
    "fake/generated-photos/00018297-32c8-4a5b-b0cc-273c06c9342f.jpg": "fake",
    "fake/sd14-blonde-woman/sd14_0003.jpg": "fake",  # Stable Diffusion 1.4
    "real/utkface/100_1_0_20170110183726390.jpg.chip.jpg": "real",
    "real/pixabay-portraits/pixabay_man_adult-1867471_1280.jpg": "real",
}
# Score ranges: a fake must be judged fake with a margin, a real with one too.  The threshold
# is 0.627; 0.9 and 0.1 leave room for a retrained model and keep out a coin toss.
FAKE_AT_LEAST = 0.9
REAL_AT_MOST = 0.1
BACKENDS = installed_backends("litert", "onnxruntime")


def assert_verdicts(faces_by_photo: dict, threshold: float) -> None:
    """``faces_by_photo``: photo -> [(label, p(fake))] for each of PHOTOS."""
    assert sorted(faces_by_photo) == sorted(PHOTOS)
    for photo, expected in PHOTOS.items():
        faces = faces_by_photo[photo]
        assert len(faces) == 1, (photo, faces)
        label, p = faces[0]
        assert label == expected, (photo, label, p)
        assert label == ("fake" if p >= threshold else "real"), (photo, label, p, threshold)
        if expected == "fake":
            assert p >= FAKE_AT_LEAST, (photo, p)
        else:
            assert p <= REAL_AT_MOST, (photo, p)


def api_results(faces_dir, backend: str = "auto") -> tuple[dict, float]:
    with FakeFaceChecker(CheckerOptions(backend=backend, threads=1)) as checker:
        results = {}
        for photo in PHOTOS:
            report = checker.check_file(faces_dir / photo)
            assert report.error is None, (photo, report.error)
            results[photo] = [(f.label, f.fake_probability) for f in report.faces]
        return results, checker.threshold


def linked_photos(faces_dir, folder, which=PHOTOS):
    """The photos as links in ``folder``, named after their source; returns name -> photo."""
    folder.mkdir()
    names = {}
    for photo in which:
        name = photo.replace("/", "__")
        (folder / name).symlink_to(faces_dir / photo)
        names[name] = photo
    return names


@pytest.mark.parametrize("backend", BACKENDS)
def test_api_judges_each_face(faces_dir, backend):
    results, threshold = api_results(faces_dir, backend)
    assert_verdicts(results, threshold)


@pytest.mark.parametrize("backend", BACKENDS)
def test_check_command_judges_each_face(faces_dir, tmp_path, capsys, backend):
    names = linked_photos(faces_dir, tmp_path / "photos")
    code = main(["check", str(tmp_path / "photos"), "--json", "--backend", backend, "--threads", "1"])
    out, err = capsys.readouterr()
    reports = [json.loads(line) for line in out.splitlines()]
    results = {names[r["path"].rsplit("/", 1)[-1]]: [(f["label"], f["fake_probability"]) for f in r["faces"]]
               for r in reports}
    assert all(r["error"] is None for r in reports)
    assert_verdicts(results, reports[0]["threshold"])
    assert code == 1, "a face judged fake sets exit code 1"
    assert re.search(r"fakeface check: 5 image.{0,3}, 5 face.{0,3}, 3 judged fake, 0 error", err), err


@pytest.mark.parametrize("backend", BACKENDS)
def test_check_command_passes_the_real_photos(faces_dir, tmp_path, capsys, backend):
    reals = [p for p, label in PHOTOS.items() if label == "real"]
    linked_photos(faces_dir, tmp_path / "reals", reals)
    code = main(["check", str(tmp_path / "reals"), "--backend", backend, "--threads", "1"])
    out, err = capsys.readouterr()
    assert out.count("REAL") == len(reals) and "FAKE  p(fake)" not in out
    assert code == 0 and "0 judged fake" in err


def test_backends_agree_on_faces_the_model_is_sure_of(faces_dir):
    if len([b for b in BACKENDS if isinstance(b, str)]) < 2:
        pytest.skip("needs both litert and onnxruntime")
    litert, _ = api_results(faces_dir, "litert")
    onnx, _ = api_results(faces_dir, "onnxruntime")
    for photo in PHOTOS:
        (label_a, p_a), (label_b, p_b) = litert[photo][0], onnx[photo][0]
        assert label_a == label_b and abs(p_a - p_b) <= SURE_FACE_BACKEND_GAP, (photo, p_a, p_b)


@pytest.mark.parametrize("constant", [0.0, 1.0])
def test_a_constant_classifier_fails_the_verdicts(faces_dir, monkeypatch, constant):
    """The assertions above can fail: a classifier that always answers the same, as a model
    whose output is stuck would, is caught (always 0: the fakes pass as real; always 1:
    the reals are turned away)."""
    monkeypatch.setattr(Classifier, "predict_crops",
                        lambda self, crops: np.full(len(crops), constant, np.float32))
    results, threshold = api_results(faces_dir)
    with pytest.raises(AssertionError):
        assert_verdicts(results, threshold)
