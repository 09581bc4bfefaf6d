"""Area-average resizing, the pyramid's resampling (tf.image.resize(method=AREA) in mtcnn).

An output pixel is the mean of the input under its footprint, partial pixels weighted by
the share covered.  Three exact ways, each fastest somewhere:

* ``shrink_opencv``: OpenCV's INTER_AREA.  It reads the whole input for every level, so a
  tiny level costs as much as a big one (~1 ms per level at 640x480 here).
* ``shrink_integral``: from an integral image made once per frame; costs in proportion
  to the *output*, ~50 ns a pixel against OpenCV's ~3.5 ns an input pixel (2-core AVX2
  x86, one thread), so it wins below about 1/12 of the image's pixels (``INTEGRAL_SHARE``).
* ``enlarge``: OpenCV interpolates when enlarging, so separable coverage weights
  (only for min_face_size < 12, where the first level is larger than the image).
"""

from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

from .workspace import Workspace

# Levels with at most this share of the image's pixels are cut from the integral image.
INTEGRAL_SHARE = 1 / 12
# The integral image costs 12 bytes a pixel (int32; exact while 255 * pixels < 2**31):
# used up to 2 MP (1080p frames), beyond that every level comes from OpenCV.
INTEGRAL_MAX_PIXELS = 2_100_000


def integral_image(image_u8: np.ndarray, out: np.ndarray) -> np.ndarray:
    """(H + 1, W + 1, C) int32 running sums of ``image_u8``, into ``out``."""
    return cv2.integral(image_u8, sum=out, sdepth=cv2.CV_32S)


def shrink_opencv(image: np.ndarray, size: tuple[int, int], out: np.ndarray) -> np.ndarray:
    """INTER_AREA to ``size`` = (h, w), into ``out``; the same integer type as ``image``."""
    h, w = size
    return cv2.resize(image, (w, h), dst=out, interpolation=cv2.INTER_AREA)


def _edges(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Footprint edges k * n_in / n_out, k = 0..n_out, as (whole pixel, fraction)."""
    edges = np.arange(n_out + 1) * (n_in / n_out)
    whole = np.minimum(np.floor(edges).astype(np.intp), n_in - 1)
    return whole, edges - whole


class IntegralShrink:
    """Area means of one level size from an integral image of one image size; the gather
    indices and weights depend only on those sizes, so a video makes them once.

    The integral of a piecewise-constant image is bilinear inside every pixel, so
    interpolating the running sums bilinearly at a footprint's fractional corners gives
    its exact covered sum; four corners per footprint, shared by neighbours.  Rows are
    kept flat, ((w + 1) * C), so numpy's loops run along a row, not along C = 3.
    """

    def __init__(self, in_h: int, in_w: int, size: tuple[int, int], channels: int = 3):
        h, w = self.size = size
        self.channels = channels
        xi, xf = _edges(in_w, w)
        yi, yf = _edges(in_h, h)
        stride = in_w + 1
        self._index = [(rows[:, None] * stride + cols[None, :]).ravel()
                       for rows, cols in ((yi, xi), (yi, xi + 1), (yi + 1, xi), (yi + 1, xi + 1))]
        self._fx = np.repeat(xf, channels)[None, :]
        self._fy = yf[:, None]
        self._scale = h * w / (in_h * in_w)

    def __call__(self, sums: np.ndarray, work: Optional[Workspace] = None) -> np.ndarray:
        """(h, w, C) float64 from ``sums`` = integral_image(image); with ``work``, the
        result lives in its arrays until their next use."""
        work = work or Workspace()
        h, w = self.size
        c = self.channels
        flat = sums.reshape(-1, c)
        shape = (h + 1, (w + 1) * c)

        def at(name: str, index: np.ndarray) -> np.ndarray:
            picked = np.take(flat, index, axis=0, out=work.array("picked", (index.size, c), sums.dtype))
            out = work.array(name, shape, np.float64)
            np.copyto(out, picked.reshape(shape))
            return out

        top_left, top_right, bottom_left, bottom_right = self._index
        # In place: upper = tl + fx * (tr - tl), lower likewise, corner = upper + fy * (lower - upper).
        upper, right = at("upper", top_left), at("right", top_right)
        upper += np.multiply(np.subtract(right, upper, out=right), self._fx, out=right)
        lower, right = at("lower", bottom_left), at("right", bottom_right)
        lower += np.multiply(np.subtract(right, lower, out=right), self._fx, out=right)
        upper += np.multiply(np.subtract(lower, upper, out=lower), self._fy, out=lower)
        corner = upper.reshape(h + 1, w + 1, c)
        covered = np.subtract(corner[1:, 1:], corner[:-1, 1:], out=work.array("covered", (h, w, c), np.float64))
        covered -= corner[1:, :-1]
        covered += corner[:-1, :-1]
        covered *= self._scale
        return covered


def shrink_integral(sums: np.ndarray, size: tuple[int, int], work: Optional[Workspace] = None) -> np.ndarray:
    """Area means (h, w, C) float64 of the image whose ``sums`` = integral_image(image)."""
    return IntegralShrink(sums.shape[0] - 1, sums.shape[1] - 1, size, sums.shape[2])(sums, work)


def enlarge(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-average resize to a larger ``size`` = (h, w), float32."""
    h, w = size
    in_h, in_w = image.shape[:2]
    out = np.einsum("yi,ijc->yjc", _coverage(in_h, h), image.astype(np.float32), optimize=True)
    return np.einsum("xj,yjc->yxc", _coverage(in_w, w), out, optimize=True)


def _coverage(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) matrix: share of input pixel i covered by output pixel o's footprint."""
    scale = n_in / n_out
    starts = np.arange(n_out) * scale
    ends = starts + scale
    edges = np.arange(n_in + 1, dtype=np.float64)
    lo = np.maximum(starts[:, None], edges[None, :-1])
    hi = np.minimum(ends[:, None], edges[None, 1:])
    return (np.clip(hi - lo, 0, None) / scale).astype(np.float32)
