"""`prepare` cuts its training crops from the boxes `check` reports (issue 32 item 9): the
same working copy of a large photo and the same min-face rule, through one function."""

from __future__ import annotations

import cv2
import numpy as np

from fakeface.edge.checker_options import CheckerOptions
from fakeface.edge.pipeline import FakeFaceChecker
from fakeface.train.data.detectors import make_detector


def test_prepare_and_check_find_the_same_boxes_on_a_large_photo(sample_photo):
    rgb = cv2.cvtColor(cv2.imread(str(sample_photo)), cv2.COLOR_BGR2RGB)
    big = cv2.resize(rgb, (1600, 1600), interpolation=cv2.INTER_CUBIC)  # 2.6 MP: searched on a shrunk copy
    big[:512, :512] = rgb  # and a smaller face at the photo's own scale
    with FakeFaceChecker(CheckerOptions(min_face_size=40, threads=1)) as checker:
        want = checker.detect(big)
    got = make_detector("edge", min_face_size=40)([big])[0]
    assert len(want) == 2
    assert [f.box for f in got] == [f.box for f in want]
    assert np.allclose([f.score for f in got], [f.score for f in want])
