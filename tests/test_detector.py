"""The TF-free MTCNN detector on its own: real photos, empty images, bad input, both backends.

Runs in the edge-only environment (no TensorFlow); expectations come from the photos
themselves (an aligned portrait has one face in the middle), not from mtcnn's output.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from fakeface.edge.backends import available_backends
from fakeface.edge.errors import ImageError
from fakeface.edge.mtcnn.detector import Detector, DetectorOptions

BACKENDS = [b for b in ("litert", "onnxruntime") if b in available_backends()]
FORMAT = {"litert": "tflite", "tflite-runtime": "tflite", "onnxruntime": "onnx"}


def read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, f"cannot read {path}"
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module", params=BACKENDS)
def detector(request):
    backend = request.param
    with Detector(DetectorOptions(backend=backend, model_format=FORMAT[backend], threads=1)) as det:
        yield det


@pytest.fixture(scope="module")
def astronaut(sample_photo) -> np.ndarray:
    return read_rgb(sample_photo)


def covers_centre(box, shape) -> bool:
    x, y, w, h = box
    cy, cx = shape[0] / 2, shape[1] / 2
    return x < cx < x + w and y < cy < y + h


def test_importing_the_detector_does_not_import_tensorflow():
    code = ("import sys, fakeface.edge.mtcnn.detector as d; d.Detector(); "
            "bad = [m for m in ('tensorflow', 'keras', 'mtcnn') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_one_face_on_the_sample_portrait(detector, astronaut):
    faces = detector.detect(astronaut)
    assert len(faces) == 1
    face = faces[0]
    x, y, w, h = face.box
    assert face.score > 0.99
    assert 60 < w < 300 and 60 < h < 300, face.box
    left_eye, right_eye, nose, mouth_left, mouth_right = face.landmarks
    for px, py in face.landmarks:
        assert x <= px <= x + w and y <= py <= y + h
    # Image-left eye first; eyes above the nose, the nose above the mouth.
    assert left_eye[0] < right_eye[0] and mouth_left[0] < mouth_right[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])


@pytest.mark.data
@pytest.mark.parametrize("source", ["ffhq-140k", "ffhq-128"])
def test_one_central_face_on_aligned_portraits(detector, faces_dir, source):
    paths = sorted((faces_dir / "real" / source).glob("*.jpg"))[:6]
    if not paths:
        pytest.skip(f"no photos in {faces_dir / 'real' / source}")
    for path in paths:
        image = read_rgb(path)
        faces = detector.detect(image)
        assert len(faces) == 1, f"{path.name}: {len(faces)} faces"
        x, y, w, h = faces[0].box
        assert covers_centre(faces[0].box, image.shape), f"{path.name}: {faces[0].box}"
        # FFHQ aligns faces to about a third to two thirds of the frame.
        assert 0.2 * image.shape[1] < w < 0.9 * image.shape[1], f"{path.name}: {faces[0].box}"


@pytest.mark.data
def test_crowded_scene_and_min_face_size(faces_dir):
    """A news photo with several people; raising min_face_size drops the small faces only."""
    scenes = sorted((faces_dir / "real" / "lfw-scenes").glob("*.jpg"))[:400]
    if not scenes:
        pytest.skip("no lfw-scenes photos")
    with Detector(DetectorOptions(threads=1)) as det:
        for path in scenes:
            image = read_rgb(path)
            faces = det.detect(image)
            sides = [min(f.box[2], f.box[3]) for f in faces]
            if len(faces) >= 2 and max(sides) > 3 * min(sides):
                break
        else:
            pytest.skip("no scene with faces of very different sizes in the first 400")
    scores = [f.score for f in faces]
    assert scores == sorted(scores, reverse=True)
    small, big = min(sides), max(sides)
    with Detector(DetectorOptions(min_face_size=int(2 * small) + 1, threads=1)) as det:
        fewer = det.detect(image)
    fewer_sides = [min(f.box[2], f.box[3]) for f in fewer]
    assert 1 <= len(fewer) < len(faces), (path.name, sides, fewer_sides)
    assert min(fewer_sides) > small * 1.5, (path.name, sides, fewer_sides)
    assert any(abs(s - big) < 0.1 * big for s in fewer_sides)


@pytest.mark.parametrize("make", ["black", "white", "grey", "noise", "gradient"])
def test_no_face_on_images_without_one(detector, make):
    rng = np.random.default_rng(7)
    shape = (480, 640, 3)
    image = {
        "black": lambda: np.zeros(shape, np.uint8),
        "white": lambda: np.full(shape, 255, np.uint8),
        "grey": lambda: np.full(shape, 128, np.uint8),
        "noise": lambda: rng.integers(0, 256, shape, dtype=np.uint8),
        "gradient": lambda: np.broadcast_to(np.linspace(0, 255, shape[1], dtype=np.uint8)[None, :, None], shape).copy(),
    }[make]()
    assert detector.detect(image) == []


@pytest.mark.parametrize("size", [(1, 1), (5, 7), (11, 11), (12, 30), (30, 12)])
def test_tiny_images_give_no_face(detector, size):
    assert detector.detect(np.full(size + (3,), 90, np.uint8)) == []


def test_backends_agree(astronaut):
    if len(BACKENDS) < 2:
        pytest.skip("needs both litert and onnxruntime")
    results = []
    for backend in BACKENDS:
        with Detector(DetectorOptions(backend=backend, model_format="auto", threads=1)) as det:
            results.append(det.detect_array(astronaut))
    assert results[0].shape == results[1].shape == (1, 15)
    np.testing.assert_allclose(results[0], results[1], atol=1e-2)


def test_repeated_and_interleaved_frame_sizes_give_the_same_faces(detector, astronaut):
    """P-Net keeps one interpreter per level shape; switching sizes must not mix them up."""
    first = detector.detect_array(astronaut)
    small = cv2.resize(astronaut, (300, 300), interpolation=cv2.INTER_AREA)
    on_small = detector.detect_array(small)
    again = detector.detect_array(astronaut)
    np.testing.assert_allclose(first, again, atol=1e-6)
    assert len(on_small) == 1
    # The same face, at 300/512 of the coordinates.
    np.testing.assert_allclose(on_small[0, :4], first[0, :4] * 300 / 512, atol=6)


def test_views_and_mirrored_images(detector, astronaut):
    mirrored = astronaut[:, ::-1]  # a non-contiguous view
    faces = detector.detect(mirrored)
    assert len(faces) == 1
    (x, y, w, h), (x0, y0, w0, h0) = faces[0].box, detector.detect(astronaut)[0].box
    assert abs((x + w / 2) - (astronaut.shape[1] - (x0 + w0 / 2))) < 8
    assert abs(y - y0) < 8 and abs(w - w0) < 8 and abs(h - h0) < 8  # the same face, mirrored


@pytest.mark.parametrize("bad, words", [
    (np.zeros((64, 64), np.uint8), "H x W x 3"),
    (np.zeros((64, 64, 4), np.uint8), "H x W x 3"),
    (np.zeros((64, 64, 3), np.float32), "uint8"),
    (np.zeros((0, 64, 3), np.uint8), "empty"),
    ([[0, 0, 0]], "numpy array"),
    (None, "numpy array"),
])
def test_bad_arrays_are_rejected_clearly(detector, bad, words):
    with pytest.raises(ValueError, match=words) as info:
        detector.detect(bad)
    # Also an ImageError, so the CLI prints it as one line and goes on with the batch.
    assert isinstance(info.value, ImageError)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("options", [
    DetectorOptions(min_face_size=0),
    DetectorOptions(scale_factor=1.0),
    DetectorOptions(thresholds=(0.6, 0.7)),
    DetectorOptions(thresholds=(0.6, 0.7, 1.5)),
    DetectorOptions(threads=0),
])
def test_bad_options_are_rejected(options):
    with pytest.raises(ValueError):
        Detector(options)


def test_unknown_backend_or_format_is_a_one_line_error():
    from fakeface.edge.errors import FakeFaceError

    for options in (DetectorOptions(backend="tensorflow"), DetectorOptions(model_format="caffe")):
        with pytest.raises(FakeFaceError) as info:
            Detector(options)
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_default_model_format_follows_the_backend(backend, astronaut):
    with Detector(DetectorOptions(backend=backend, threads=1)) as det:
        assert det.backend == backend
        assert len(det.detect(astronaut)) == 1


def test_shipped_nets_are_the_exported_ones():
    import json

    from fakeface.edge.contract import file_sha256
    from fakeface.edge.mtcnn.nets import FORMATS, MODEL_DIR, NET_NAMES

    recorded = json.loads((MODEL_DIR / "mtcnn_nets.json").read_text())["files"]
    for name in NET_NAMES:
        for fmt in FORMATS:
            path = MODEL_DIR / f"{name}.{fmt}"
            assert recorded[path.name]["sha256"] == file_sha256(path), path
