"""The TF-free detector against the reference ``mtcnn`` package, on real photos.

Same faces, boxes with IoU >= 0.95, landmarks within 2 px, with both shipped net formats.
The reference is mtcnn's unrounded output (``output_type="numpy"``): its JSON output rounds
to whole pixels, which alone moves a 13 px face's IoU below 0.95.
"""

from __future__ import annotations

import numpy as np
import pytest

from fakeface.edge.tf_environment import set_tf_environment

set_tf_environment()
pytest.importorskip("tensorflow")
mtcnn_pkg = pytest.importorskip("mtcnn")

import cv2  # noqa: E402

from fakeface.edge.faces import FaceBox  # noqa: E402
from fakeface.edge.mtcnn.detector import Detector, DetectorOptions  # noqa: E402
from fakeface.edge.mtcnn.pyramid import MIN_LEVEL_SIDE, pyramid_scales  # noqa: E402

pytestmark = [pytest.mark.tf, pytest.mark.data, pytest.mark.slow]

MIN_IOU = 0.95
MAX_LANDMARK_PX = 2.0

# Scenes chosen by file name only; which faces they hold is up to the detectors.
LFW_SCENES = ["real_0.jpg", "real_1.jpg", "real_10.jpg", "real_2.jpg", "real_20.jpg", "real_230.jpg",
              "real_233.jpg", "real_246.jpg", "real_1199.jpg", "real_1405.jpg", "real_1498.jpg"]
OTHER_SOURCES = ["real/ffhq-140k", "real/utkface", "real/ffhq-128", "fake/generated-photos",
                 "fake/stylegan2-tpdne-128", "fake/boredhumans"]


def read_rgb(path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, f"cannot read {path}"
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def parity_images(faces_dir, sample_photo) -> dict[str, np.ndarray]:
    images = {"astronaut": read_rgb(sample_photo)}
    for name in LFW_SCENES:
        path = faces_dir / "real" / "lfw-scenes" / name
        if path.is_file():
            images[f"lfw/{name}"] = read_rgb(path)
    for source in OTHER_SOURCES:
        for path in sorted((faces_dir / source).glob("*.jpg"))[:2]:
            images[f"{source}/{path.name}"] = read_rgb(path)
    # Two scenes enlarged to a 640x480 frame: a deeper pyramid than the 250 px originals.
    for name in LFW_SCENES[4:6]:
        key = f"lfw/{name}"
        if key in images:
            images[f"{key}@640x480"] = cv2.resize(images[key], (640, 480), interpolation=cv2.INTER_LINEAR)
    return images


class Reference:
    """mtcnn.MTCNN() with its answers remembered per (image, options): it is the slow side."""

    def __init__(self):
        self.mtcnn = mtcnn_pkg.MTCNN()
        self._seen = {}

    def faces(self, name: str, image: np.ndarray, **kwargs) -> list[FaceBox]:
        key = (name, tuple(sorted(kwargs.items())))
        if key not in self._seen:
            self._seen[key] = mtcnn_faces(self.mtcnn, image, **kwargs)
        return self._seen[key]


@pytest.fixture(scope="module")
def reference():
    return Reference()


@pytest.fixture(scope="module")
def images(faces_dir, sample_photo):
    return parity_images(faces_dir, sample_photo)


def mtcnn_faces(reference, image: np.ndarray, **kwargs) -> list[FaceBox]:
    # Rows: image index, x1, y1, x2, y2, score, x of the 5 landmarks, y of the 5 landmarks.
    rows = reference.detect_faces(image.copy(), output_type="numpy", box_format="xyxy", **kwargs)
    return [
        FaceBox(box=(r[1], r[2], r[3] - r[1], r[4] - r[2]), score=float(r[5]),
                landmarks=[(float(r[6 + i]), float(r[11 + i])) for i in range(5)])
        for r in np.asarray(rows, dtype=np.float64).reshape(-1, 16)
    ]


def iou(a, b) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def match(ours: list[FaceBox], theirs: list[FaceBox]) -> list[tuple[float, float]]:
    """(IoU, worst landmark distance) per reference face, each matched to our best-overlapping face."""
    assert len(ours) == len(theirs), f"{len(ours)} faces vs mtcnn's {len(theirs)}"
    free = list(range(len(ours)))
    pairs = []
    for ref in theirs:
        best = max(free, key=lambda i: iou(ours[i].box, ref.box))
        free.remove(best)
        dist = np.linalg.norm(np.asarray(ours[best].landmarks) - np.asarray(ref.landmarks), axis=1).max()
        pairs.append((iou(ours[best].box, ref.box), float(dist)))
    return pairs


def mtcnn_fails_on(image: np.ndarray, options: DetectorOptions) -> bool:
    """Whether mtcnn 1.0.0's pyramid reaches a level too small for P-Net.

    It then raises, or (depending on the size) catches TF's error and reports no face
    at all; the edge detector skips such levels.  Happens when min_face_size > ~20.
    """
    h, w = image.shape[:2]
    scales = pyramid_scales(h, w, options.min_face_size, options.scale_factor)
    return any(min(int(h * s), int(w * s)) < MIN_LEVEL_SIDE for s in scales)


def assert_parity(images, reference, detector, **mtcnn_kwargs) -> list[tuple[float, float]]:
    stats = []
    for name, image in images.items():
        if mtcnn_fails_on(image, detector.options):
            continue
        ours = detector.detect(image)
        theirs = reference.faces(name, image, **mtcnn_kwargs)
        assert len(ours) == len(theirs), f"{name}: {len(ours)} faces vs mtcnn's {len(theirs)}"
        pairs = match(ours, theirs)
        for box_iou, dist in pairs:
            assert box_iou >= MIN_IOU, f"{name}: box IoU {box_iou:.3f} with mtcnn"
            assert dist <= MAX_LANDMARK_PX, f"{name}: landmark {dist:.2f} px from mtcnn's"
        stats += pairs
    return stats


@pytest.mark.parametrize("model_format,backend", [("tflite", "litert"), ("onnx", "onnxruntime")])
def test_same_faces_as_mtcnn(images, reference, model_format, backend):
    with Detector(DetectorOptions(model_format=model_format, backend=backend, threads=1)) as det:
        stats = assert_parity(images, reference, det)
    ious, dists = np.array(stats).T
    # The set must hold single faces, crowds and faces of several sources.
    assert len(stats) >= len(images) + 8
    print(f"\n{model_format}: {len(stats)} faces on {len(images)} images; IoU min {ious.min():.6f} "
          f"mean {ious.mean():.6f}; landmark distance max {dists.max():.2e} px mean {dists.mean():.2e} px")


def test_multi_face_scenes_are_covered(images, reference):
    counts = [len(reference.faces(key, img)) for key, img in images.items() if key.startswith("lfw/")]
    assert sum(c >= 2 for c in counts) >= 4, counts


# 10 enlarges the first pyramid level (another resize path); above ~20 mtcnn itself breaks.
@pytest.mark.parametrize("min_face_size", [10, 15, 18])
def test_min_face_size_matches_mtcnn(images, reference, min_face_size):
    with Detector(DetectorOptions(min_face_size=min_face_size, backend="litert", threads=1)) as det:
        stats = assert_parity(images, reference, det, min_face_size=min_face_size)
    assert len(stats) >= len(images), "too few images compared at this min_face_size"


def test_mtcnn_breaks_where_we_skip_tiny_levels(images, reference):
    """The known mtcnn 1.0.0 failure the edge detector avoids (documents the one deviation)."""
    image = images["astronaut"]
    options = DetectorOptions(min_face_size=40, backend="litert", threads=1)
    assert mtcnn_fails_on(image, options)
    try:
        found = mtcnn_faces(reference.mtcnn, image, min_face_size=40)
    except ValueError:
        found = []
    assert found == []
    with Detector(options) as det:
        assert len(det.detect(image)) == 1


def test_thresholds_match_mtcnn(images, reference):
    thresholds = (0.5, 0.6, 0.9)
    with Detector(DetectorOptions(thresholds=thresholds, backend="litert", threads=1)) as det:
        assert_parity(images, reference, det, threshold_pnet=0.5, threshold_rnet=0.6, threshold_onet=0.9)


def test_shipped_nets_match_their_keras_originals():
    from fakeface.edge.mtcnn.nets import MODEL_DIR
    from fakeface.export.mtcnn_nets import net_parity

    for report in net_parity(MODEL_DIR):
        assert report.worst < 1e-4, (report.net, report.format, report.max_abs_diff)
