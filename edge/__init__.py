"""fakeface edge runtime: face detection plus real/fake classification without TensorFlow.

Import what you need from the submodules, e.g.::

    from fakeface.edge.pipeline import FakeFaceChecker, CheckerOptions

This package must never import TensorFlow, Keras or the ``mtcnn`` package.
"""

import os as _os

# OpenCV reads its decode-size cap once, when cv2 is first loaded, so it has to be
# set before any module here imports cv2.  It is the hard ceiling against
# decompression bombs (a 30000x30000 header would otherwise allocate 2.7 GB);
# `load_image(max_pixels=...)` can only lower it.  Users raise it with FAKEFACE_MAX_PIXELS.
HARD_MAX_PIXELS = int(_os.environ.get("FAKEFACE_MAX_PIXELS", 64_000_000))
_os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(HARD_MAX_PIXELS))
_os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

__all__ = ["__version__", "HARD_MAX_PIXELS"]
__version__ = "0.1.0"
