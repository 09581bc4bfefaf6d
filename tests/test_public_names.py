"""The names the README shows import from where it says (issue 29, item 10)."""

from __future__ import annotations


def test_detector_options_import_from_the_packages():
    from fakeface.edge.mtcnn import Detector, DetectorOptions
    from fakeface.edge.mtcnn.detector import Detector as D, DetectorOptions as O
    from fakeface.edge.pipeline import CheckerOptions, DetectorOptions as P

    assert (Detector, DetectorOptions, P) == (D, O, O)
    opts = CheckerOptions(min_face_size=40, detector=DetectorOptions(scale_factor=0.8))
    opts.validate()
    assert opts.detector_options().scale_factor == 0.8


def test_packages_declare_what_they_export():
    import fakeface.edge.mtcnn as mtcnn
    import fakeface.edge.pipeline as pipeline

    for module in (mtcnn, pipeline):
        for name in module.__all__:
            assert hasattr(module, name), (module.__name__, name)
