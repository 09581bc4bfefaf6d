"""fakeface edge runtime: face detection plus real/fake classification without TensorFlow.

Import what you need from the submodules, e.g.::

    from fakeface.edge.pipeline import FakeFaceChecker, CheckerOptions

This package must never import TensorFlow, Keras or the ``mtcnn`` package.
"""

import os as _os

DEFAULT_MAX_PIXELS = 64_000_000


def _max_pixels_from_environment() -> int:
    """FAKEFACE_MAX_PIXELS as a whole number of pixels; a malformed value is named in a
    warning and the default applies (a typo must not stop every import with a traceback)."""
    raw = _os.environ.get("FAKEFACE_MAX_PIXELS")
    if raw is None:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(raw.strip())
    except ValueError:
        value = 0
    if value < 1:
        import warnings

        warnings.warn(f"FAKEFACE_MAX_PIXELS={raw!r} is not a whole number of pixels above 0; "
                      f"the default, {DEFAULT_MAX_PIXELS:,}, applies", RuntimeWarning, stacklevel=3)
        return DEFAULT_MAX_PIXELS
    return value


# The hard ceiling against decompression bombs (a 30000x30000 header would otherwise
# allocate 2.7 GB): imageio refuses a larger image from its header, before decoding;
# `load_image(max_pixels=...)` can only lower it.  Users raise it with FAKEFACE_MAX_PIXELS.
HARD_MAX_PIXELS = _max_pixels_from_environment()
# OpenCV's own cap, for formats whose header imageio does not read (JPEG 2000, AVIF).  OpenCV
# reads it once, when cv2 is first imported, so it holds only if nothing imported cv2 first.
_os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(HARD_MAX_PIXELS))
_os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

__all__ = ["__version__", "HARD_MAX_PIXELS"]
__version__ = "0.1.0"
