"""The pyramid without a float copy of the image, and the state kept from frame to frame.

The reference for a level is what mtcnn does: normalise the whole image to float, then
area-resize (OpenCV's INTER_AREA on float, the same average as TF's AREA resize).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fakeface.edge.mtcnn.area import IntegralShrink, enlarge, integral_image, shrink_integral
from fakeface.edge.mtcnn.detector import Detector, DetectorOptions
from fakeface.edge.mtcnn.nets import bucket_sizes
from fakeface.edge.mtcnn.pyramid import PyramidPlan, normalize


@pytest.fixture(scope="module")
def photo(sample_photo) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(sample_photo)), cv2.COLOR_BGR2RGB)


def frame(photo, width, height) -> np.ndarray:
    return cv2.resize(photo, (width, height), interpolation=cv2.INTER_LINEAR)


@pytest.mark.parametrize("size, min_face", [((640, 480), 20), ((640, 480), 80), ((1280, 720), 40), ((300, 200), 10),
                                            ((640, 480), "photo")])
def test_every_level_matches_resizing_the_normalised_float_image(photo, size, min_face, monkeypatch):
    if min_face == "photo":
        # A frame above INTEGRAL_MAX_PIXELS takes the photo path: uint16 copy, levels made
        # one at a time into a shared buffer.
        import fakeface.edge.mtcnn.pyramid as pyramid_module

        monkeypatch.setattr(pyramid_module, "INTEGRAL_MAX_PIXELS", 100_000)
        min_face = 20
    image = frame(photo, *size)
    plan = PyramidPlan(image.shape[0], image.shape[1], min_face, 0.709)
    reference = normalize(image)
    assert len(plan.levels) >= 4
    # Each way of resizing gets exercised somewhere in these cases.
    if min_face == 10:
        assert plan.methods[0] == "enlarge"
    elif min_face == 20 and plan.frame:
        assert {"opencv", "integral"} <= set(plan.methods)
    elif min_face == 20:
        assert set(plan.methods) == {"opencv"} and plan._fine is not None
    # A photo's level is only valid until the next is made: compare each as it comes.
    for (scale, level), method in zip(plan.scan(image), plan.methods):
        h, w = level.shape[1:3]
        if method == "enlarge":
            want = normalize(enlarge(image, (h, w)))
        else:
            want = cv2.resize(reference, (w, h), interpolation=cv2.INTER_AREA)
        # 1/256 of a grey level (the uint16 copy) is 3e-5 in these units.
        np.testing.assert_allclose(level[0], want, atol=4e-5, err_msg=f"{method} level {h}x{w}")


def test_integral_shrink_is_the_area_average(photo):
    image = frame(photo, 640, 480)
    sums = integral_image(image, np.empty((481, 641, 3), np.int32))
    for h, w in ((36, 48), (13, 17), (100, 61)):
        want = cv2.resize(image.astype(np.float64), (w, h), interpolation=cv2.INTER_AREA)
        np.testing.assert_allclose(shrink_integral(sums, (h, w)), want, atol=1e-6)


def test_integral_shrink_makes_several_sizes_at_once(photo):
    image = frame(photo, 640, 480)
    sums = integral_image(image, np.empty((481, 641, 3), np.int32))
    sizes = [(36, 48), (13, 17), (100, 61)]
    together = IntegralShrink(480, 640, sizes)
    corners = together.corners(sums)
    for k, size in enumerate(sizes):
        out = np.empty(size + (3,), np.float64)
        np.testing.assert_array_equal(together.level(corners, k, out), shrink_integral(sums, size))


def test_a_camera_frame_makes_every_level_before_the_first_is_used(photo):
    """Levels of a frame stay valid for the whole scan (they are all made up front)."""
    image = frame(photo, 640, 480)
    plan = PyramidPlan(480, 640, 20, 0.709)
    levels = [level for _, level in plan.scan(image)]
    fresh = [level.copy() for _, level in PyramidPlan(480, 640, 20, 0.709).scan(image)]
    for kept, want in zip(levels, fresh):
        np.testing.assert_array_equal(kept, want)
    assert len({id(level.base) for level in levels}) == 1 and not np.shares_memory(levels[0], levels[1])


def test_bucket_sizes_add_up_without_padding():
    for n in (0, 1, 3, 4, 17, 64, 249, 1000):
        sizes = bucket_sizes(n)
        assert sum(sizes) == n
        assert set(sizes) <= {64, 16, 4, 1}
        assert sizes == sorted(sizes, reverse=True)


@pytest.fixture
def tflite_backend() -> str:
    """The TFLite interpreter this environment has: ai-edge-litert, or tflite-runtime in the
    legacy (numpy < 2) environment."""
    from fakeface.edge.backends import available_backends

    have = available_backends()
    for name in ("litert", "tflite-runtime"):
        if name in have:
            return name
    pytest.skip("no TFLite interpreter installed")


def test_a_video_reuses_plan_and_interpreters(photo, tflite_backend):
    """Frames of one size: the same plan object, no new interpreter after the first frame,
    whatever the number of candidates; the same faces as a fresh detector."""
    frames = [frame(photo, 640, 480), frame(photo[:, ::-1], 640, 480), frame(photo[40:], 640, 480)]
    with Detector(DetectorOptions(backend=tflite_backend, model_format="tflite", threads=1)) as det:
        for f in frames:
            det.detect_array(f)
        plan = det.plan_for(480, 640)
        runners = {name: dict(net._runners) for name, net in det._nets.items()}
        results = [det.detect_array(f) for f in frames * 2]
        assert det.plan_for(480, 640) is plan
        for name, net in det._nets.items():
            assert net._runners == runners[name], f"{name} opened or dropped an interpreter in steady state"
        # R-Net saw candidate counts that are not bucket sizes, yet holds only bucket shapes.
        assert {shape[0] for shape in runners["rnet"]} <= {64, 16, 4, 1}
    for f, got in zip(frames * 2, results):
        with Detector(DetectorOptions(backend=tflite_backend, model_format="tflite", threads=1)) as fresh:
            np.testing.assert_allclose(got, fresh.detect_array(f), atol=1e-5)


def test_a_photo_sized_plan_is_not_kept(photo, monkeypatch, tflite_backend):
    import fakeface.edge.mtcnn.detector as detector_module

    image = frame(photo, 640, 480)
    with Detector(DetectorOptions(backend=tflite_backend, model_format="tflite", threads=1)) as det:
        kept = det.detect_array(image)
        assert det._plan is not None and det._plan.nbytes < detector_module.KEEP_PLAN_BYTES
        monkeypatch.setattr(detector_module, "KEEP_PLAN_BYTES", det._plan.nbytes - 1)
        dropped = det.detect_array(image)
        assert det._plan is None
    np.testing.assert_array_equal(kept, dropped)


def test_big_levels_do_not_keep_their_interpreters(photo, monkeypatch, tflite_backend):
    import fakeface.edge.mtcnn.nets as nets_module

    with Detector(DetectorOptions(backend=tflite_backend, model_format="tflite", threads=1)) as det:
        kept_all = det.detect_array(photo)
        monkeypatch.setattr(nets_module, "KEEP_INPUT_PIXELS", 50_000)
        det._nets["pnet"]._runners.clear()
        transient = det.detect_array(photo)
        shapes = list(det._nets["pnet"]._runners)
    # The astronaut's first levels (307x307, 217x217) are above the limit and were not kept.
    assert shapes and all(h * w <= 50_000 for _, h, w, _ in shapes), shapes
    np.testing.assert_allclose(transient, kept_all, atol=1e-5)


def crop_and_resize(image: np.ndarray, box, size: int) -> np.ndarray:
    """tf.image.crop_and_resize on mtcnn's normalised image, one sample at a time (float64)."""
    height, width = image.shape[:2]
    norm = (image.astype(np.float64) - 127.5) / 128
    out = np.zeros((size, size, 3))
    y1, y2 = box[1] / height * (height - 1), box[3] / height * (height - 1)
    x1, x2 = box[0] / width * (width - 1), box[2] / width * (width - 1)
    for i in range(size):
        y = y1 + i * (y2 - y1) / (size - 1)
        for j in range(size):
            x = x1 + j * (x2 - x1) / (size - 1)
            if not (0 <= y <= height - 1 and 0 <= x <= width - 1):
                continue
            top, left = int(np.floor(y)), int(np.floor(x))
            bottom, right = min(top + 1, height - 1), min(left + 1, width - 1)
            fy, fx = y - top, x - left
            upper = norm[top, left] + (norm[top, right] - norm[top, left]) * fx
            lower = norm[bottom, left] + (norm[bottom, right] - norm[bottom, left]) * fx
            out[i, j] = upper + (lower - upper) * fy
    return out


def test_patch_crops_reuse_their_workspace(photo):
    from fakeface.edge.mtcnn.boxes import Workspace, crop_patches

    image = np.ascontiguousarray(photo)
    boxes = np.array([[180.2, 90.7, 330.1, 260.4, 0.9], [-20.0, -5.0, 60.0, 70.0, 0.8], [400.5, 300.0, 530.0, 530.0, 0.7]])
    work = Workspace()
    first = crop_patches(image, boxes, 24, work)
    np.testing.assert_array_equal(first, crop_patches(image, boxes, 24))
    for patch, box in zip(first, boxes):
        np.testing.assert_allclose(patch, crop_and_resize(image, box, 24), atol=2e-6)
    # Out-of-image samples are mid-grey (0 once normalised), as tf.image.crop_and_resize gives.
    assert np.all(first[1, :2] == 0) and np.all(first[2, -2:] == 0)
    again = crop_patches(image, boxes[:2], 24, work)
    assert np.shares_memory(first, again)


@pytest.mark.parametrize("size, min_face", [((640, 480), 20), ((640, 480), 80), ((300, 200), 10)])
def test_pnet_stage_is_the_per_level_steps_of_mtcnn(photo, tflite_backend, size, min_face):
    """run_pnet decodes and suppresses every level together; the result is, bit for bit,
    mtcnn's per-level order: candidates, sorted, NMS 0.5 per level, NMS 0.7 over all, squared."""
    from fakeface.edge.mtcnn import stages
    from fakeface.edge.mtcnn.boxes import pnet_candidates, square
    from fakeface.edge.mtcnn.nets import PROBABILITY, REGRESSION
    from fakeface.edge.mtcnn.nms import nms

    images = [frame(photo, *size), frame(photo[::-1, ::-1], *size), frame(photo[100:400, 50:450], *size)]
    with Detector(DetectorOptions(backend=tflite_backend, model_format="tflite", threads=1, min_face_size=min_face)) as det:
        pnet = det._nets["pnet"]
        for image in images:
            plan = PyramidPlan(image.shape[0], image.shape[1], min_face, 0.709)
            kept = []
            for scale, level in plan.scan(image):
                out = pnet.run(level)
                cands = pnet_candidates(out[REGRESSION][0], out[PROBABILITY][0], scale, 0.6)
                kept.append(nms(cands, stages.NMS_PNET_LEVEL, "union", presorted=True))
            want = square(nms(np.concatenate(kept), stages.NMS_PNET_ALL, "union"))
            got = stages.run_pnet(pnet, image, det.plan_for(*image.shape[:2]), 0.6)
            assert len(got) > 1
            np.testing.assert_array_equal(got, want)


def test_pnet_nms_matches_nms_level_by_level():
    """pnet_nms on random boxes with ties and duplicates, levels of 0 to 40 boxes, against
    nms per level then nms over the survivors."""
    from fakeface.edge.mtcnn.nms import nms, pnet_nms, sort_by_score

    rng = np.random.default_rng(3)
    for trial in range(30):
        counts = rng.integers(0, 40, rng.integers(1, 8))
        levels = []
        for n in counts:
            xy = rng.uniform(0, 200, (n, 2))
            side = rng.uniform(5, 60, (n, 1))
            score = np.round(rng.uniform(0.6, 1.0, (n, 1)), 2)  # ties
            boxes = np.hstack([xy, xy + side, score])
            if n > 3:
                boxes[1] = boxes[0]  # an exact duplicate
            levels.append(sort_by_score(boxes))
        cands = np.concatenate(levels) if levels else np.empty((0, 5))
        kept = [nms(level, 0.5, "union", presorted=True) for level in levels]
        want = nms(np.concatenate(kept), 0.7, "union")
        np.testing.assert_array_equal(pnet_nms(cands, counts, 0.5, 0.7), want)


def test_pnet_nms_on_thousands_of_candidates_goes_level_by_level_and_stays_exact(monkeypatch):
    """A busy 12-MP photo's levels hold thousands of P-Net candidates: all their pairs at once
    took 120 MB more than the memory test allows, so above MAX_PAIRS the levels go one by one
    through nms's bounded blocks, with the same survivors."""
    from fakeface.edge.mtcnn import nms as nms_module
    from fakeface.edge.mtcnn.nms import nms, pnet_nms, sort_by_score

    rng = np.random.default_rng(5)
    levels = []
    for n in (900, 700, 30):
        xy = rng.uniform(0, 400, (n, 2))
        boxes = np.hstack([xy, xy + rng.uniform(10, 40, (n, 1)), np.round(rng.uniform(0.6, 1.0, (n, 1)), 2)])
        levels.append(sort_by_score(boxes))
    cands, counts = np.concatenate(levels), [len(level) for level in levels]
    want = nms(np.concatenate([nms(level, 0.5, "union", presorted=True) for level in levels]), 0.7, "union")
    assert sum(n * (n - 1) // 2 for n in counts) > nms_module.MAX_PAIRS
    np.testing.assert_array_equal(pnet_nms(cands, counts, 0.5, 0.7), want)
    monkeypatch.setattr(nms_module, "MAX_PAIRS", 10 ** 9)  # the one-pass path agrees too
    np.testing.assert_array_equal(pnet_nms(cands, counts, 0.5, 0.7), want)
