"""Property-based fuzzing of decode -> detect -> crop -> classify (hypothesis).

Whatever bytes or arrays come in, the edge path either returns well-formed results
or raises one of fakeface's own one-line errors.  Nothing else may escape.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from fakeface.edge.contract import ModelContract, crop_face  # noqa: E402
from fakeface.edge.errors import FakeFaceError  # noqa: E402
from fakeface.edge.imageio import decode_image  # noqa: E402
from fakeface.edge.pipeline import CheckerOptions, FakeFaceChecker  # noqa: E402

from conftest import iou  # noqa: E402

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def checker():
    with FakeFaceChecker(CheckerOptions(threads=1)) as c:
        yield c


def assert_well_formed(results, shape):
    h, w = shape[:2]
    for r in results:
        x, y, bw, bh = r.box
        assert bw > 0 and bh > 0 and np.isfinite([x, y, bw, bh]).all()
        # Boxes may overhang the border a little (MTCNN squares them) but not fly off.
        assert -bw <= x <= w and -bh <= y <= h
        assert 0.0 <= r.fake_probability <= 1.0 and r.label in ("real", "fake")
        assert len(r.landmarks) == 5


def _encode(img: np.ndarray, ext: str) -> bytes:
    ok, buf = cv2.imencode(ext, img)
    assert ok
    return buf.tobytes()


@FUZZ
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_decode_or_fail_cleanly(data):
    try:
        img = decode_image(data, "fuzz.bin")
    except FakeFaceError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("fuzz.bin")
        return
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3


@FUZZ
@given(hnp.arrays(np.uint8, st.tuples(st.integers(1, 64), st.integers(1, 64), st.sampled_from([1, 3, 4]))),
       st.sampled_from([".png", ".jpg", ".bmp"]), st.integers(0, 200))
def test_mangled_real_encodings_never_escape(img, ext, cut):
    data = _encode(img, ext)
    data = data[: max(0, len(data) - cut)]  # truncate by a random amount
    try:
        out = decode_image(data, "mangled" + ext)
    except FakeFaceError:
        return
    assert out.shape[:2] == img.shape[:2] or cut > 0


@FUZZ
@given(hnp.arrays(np.uint8, st.tuples(st.integers(1, 160), st.integers(1, 160), st.just(3))))
def test_detect_and_classify_any_rgb_array(checker, img):
    # Random arrays hold no face: this is about shapes and crashes; the next test has faces.
    assert_well_formed(checker.check(img), img.shape)


# The sample's face with some of its surroundings, and where the face is in that patch
# (conftest.ASTRONAUT_FACE, moved by the patch's corner).
PATCH_ROWS, PATCH_COLS = slice(30, 210), slice(140, 320)
FACE_IN_PATCH = (40, 35, 85, 107)


@pytest.fixture(scope="module")
def face_patch(sample_photo):
    from fakeface.edge.imageio import load_image

    return load_image(sample_photo)[PATCH_ROWS, PATCH_COLS]


# Derandomised: the same examples on every run.  Over 150 random draws from these ranges the
# face was found every time, its box at IoU 0.83 or better with where it was pasted.
@settings(FUZZ, max_examples=25, derandomize=True)
@given(st.floats(0.5, 1.5), st.floats(0.6, 1.4), st.booleans(), st.lists(st.integers(0, 150), min_size=4, max_size=4),
       st.integers(0, 2**32 - 1))
def test_a_face_pasted_anywhere_is_found_and_judged(checker, face_patch, scale, gain, flip, margins, seed):
    """The face loop of ``assert_well_formed`` runs: a real face, resized, brightened or
    darkened, mirrored and pasted on a random background at a random place."""
    patch = cv2.resize(face_patch, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    if flip:
        patch = patch[:, ::-1]
    patch = np.clip(patch.astype(np.float32) * gain, 0, 255).astype(np.uint8)
    left, top, right, bottom = margins
    h, w = patch.shape[0] + top + bottom, patch.shape[1] + left + right
    coarse = np.random.default_rng(seed).integers(0, 256, (max(2, h // 16), max(2, w // 16), 3), dtype=np.uint8)
    canvas = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)
    canvas[top:top + patch.shape[0], left:left + patch.shape[1]] = patch
    fx, fy, fw, fh = FACE_IN_PATCH
    if flip:
        fx = face_patch.shape[1] - fx - fw
    pasted = (left + fx * scale, top + fy * scale, fw * scale, fh * scale)
    results = checker.check(canvas)
    assert results, "the pasted face was not found"
    assert_well_formed(results, canvas.shape)
    assert max(iou(pasted, r.box) for r in results) > 0.5, (pasted, [r.box for r in results])
    for r in results:
        assert r.label == ("fake" if r.fake_probability >= checker.threshold else "real")


@FUZZ
@given(st.integers(1, 96), st.integers(1, 96),
       st.floats(-50, 150), st.floats(-50, 150), st.floats(0.5, 200), st.floats(0.5, 200),
       st.floats(0.0, 0.5), st.integers(8, 64))
def test_crop_always_gives_the_contract_shape(h, w, x, y, bw, bh, margin, size):
    img = np.random.default_rng(h * 97 + w).integers(0, 256, (h, w, 3), dtype=np.uint8)
    contract = ModelContract(input_size=size, crop_margin=margin)
    try:
        crop = crop_face(img, (x, y, bw, bh), contract)
    except ValueError as exc:  # a box entirely outside the image
        assert "outside" in str(exc)
        return
    assert crop.shape == (size, size, 3) and crop.dtype == np.uint8


def test_bad_arrays_are_refused_clearly(checker):
    for bad in (np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32), np.zeros((0, 5, 3), np.uint8)):
        with pytest.raises((ValueError, FakeFaceError)):
            checker.check(bad)
