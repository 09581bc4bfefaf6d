"""The annotated copy: every tag stays inside the image, and an image without a face says so."""

from __future__ import annotations

import numpy as np

from fakeface.edge.annotate import draw_results
from fakeface.edge.faces import FaceResult


def _face(box) -> FaceResult:
    x, y, w, h = box
    marks = [(x + w * 0.3, y + h * 0.4)] * 5
    return FaceResult(box=box, score=0.99, landmarks=marks, fake_probability=0.98765, label="fake")


def _painted_columns(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return np.flatnonzero((before != after).any(axis=(0, 2)))


def test_a_tag_near_the_right_edge_is_moved_inside_the_image():
    photo = np.full((200, 160, 3), 90, np.uint8)
    box = (120.0, 60.0, 36.0, 40.0)  # the face touches the right edge, its tag is wider than what is left
    drawn = draw_results(photo, [_face(box)])
    blank = draw_results(photo, [])  # the same photo with nothing but the no-face mark
    tag_rows = slice(0, 58)  # above the box, where the tag goes
    cols = _painted_columns(np.ascontiguousarray(photo[tag_rows][:, :, ::-1]), drawn[tag_rows])
    assert cols.size and cols.min() < 120 and cols.max() <= 159  # it starts left of the box and ends inside
    assert (blank != photo[:, :, ::-1]).any()


def test_an_image_without_a_face_is_marked_no_face_found():
    photo = np.full((120, 300, 3), 200, np.uint8)
    drawn = draw_results(photo, [])
    changed = (drawn != photo[:, :, ::-1]).any(axis=2)
    assert changed[:30].any() and not changed[40:].any()  # a label at the top, nothing else drawn


def test_a_tag_on_a_tiny_image_is_shrunk_to_fit():
    photo = np.full((60, 50, 3), 90, np.uint8)
    drawn = draw_results(photo, [_face((10.0, 25.0, 30.0, 30.0))])
    assert drawn.shape == (60, 50, 3)
    rows = (drawn != photo[:, :, ::-1]).any(axis=(1, 2))
    assert rows[:25].any()  # the tag is drawn above the face, inside the image
