"""Area-average resizing, the pyramid's resampling (tf.image.resize(method=AREA) in mtcnn).

An output pixel is the mean of the input under its footprint, partial pixels weighted by
the share covered.  Three exact ways, each fastest somewhere:

* ``shrink_opencv``: OpenCV's INTER_AREA.  It reads the whole input for every level, so a
  tiny level costs as much as a big one (~1 ms per level at 640x480 here).
* ``shrink_integral``: from an integral image made once per frame (~0.35 ms at 640x480);
  costs in proportion to the *output*, ~40 ns a pixel against OpenCV's ~1 ns an input
  float value (2-core AVX2 x86, one thread), so it wins below about 1/12 of the image's
  pixels (``INTEGRAL_SHARE``).
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
    """Area means of one or more level sizes from an integral image of one image size; the
    gather indices and weights depend only on those sizes, so a video makes them once.

    The integral of a piecewise-constant image is bilinear inside every pixel, so
    interpolating the running sums bilinearly at a footprint's fractional corners gives
    its exact covered sum; four corners per footprint, shared by neighbours.  Every size's
    corner grid is gathered and interpolated in the same numpy calls (one take for all four
    corners of all sizes, on flat element indices), so the seven small levels of a
    640x480 pyramid cost a dozen calls together plus four each to finish.
    """

    def __init__(self, in_h: int, in_w: int, sizes, channels: int = 3):
        sizes = [sizes] if isinstance(sizes[0], (int, np.integer)) else list(sizes)
        self.sizes = [(int(h), int(w)) for h, w in sizes]
        self.size = self.sizes[0]
        self.channels = channels
        stride = in_w + 1
        corners, fxs, fys, self._offsets = [[], [], [], []], [], [], []
        offset = 0
        for h, w in self.sizes:
            xi, xf = _edges(in_w, w)
            yi, yf = _edges(in_h, h)
            for k, (dy, dx) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
                corners[k].append(((yi[:, None] + dy) * stride + (xi[None, :] + dx)).ravel())
            fxs.append(np.broadcast_to(xf[None, :], (h + 1, w + 1)).ravel())
            fys.append(np.broadcast_to(yf[:, None], (h + 1, w + 1)).ravel())
            self._offsets.append(offset)
            offset += (h + 1) * (w + 1)
        self._count = offset
        # Flat element indices (pixel * C + channel) and per-element weights: numpy's take
        # and arithmetic run ~1.5x faster on flat contiguous arrays than on (n, C) rows.
        pixel = np.concatenate([np.concatenate(c) for c in corners])
        self._index = (pixel[:, None] * channels + np.arange(channels)).ravel()
        self._fx = np.repeat(np.concatenate(fxs), channels)
        self._fy = np.repeat(np.concatenate(fys), channels)
        self._scales = [h * w / (in_h * in_w) for h, w in self.sizes]

    def corners(self, sums: np.ndarray, work: Optional[Workspace] = None) -> np.ndarray:
        """(count, C) float64: the interpolated running sums at every size's footprint
        corners, size after size (each a (h + 1, w + 1) grid)."""
        work = work or Workspace()
        n = self._count * self.channels
        picked = np.take(sums.reshape(-1), self._index, out=work.array("picked", (4 * n,), sums.dtype))
        grid = work.array("grid", (4 * n,), np.float64)
        np.copyto(grid, picked)
        top_left, top_right, bottom_left, bottom_right = (grid[k * n:(k + 1) * n] for k in range(4))
        # In place: upper = tl + fx * (tr - tl), lower likewise, corner = upper + fy * (lower - upper).
        top_right -= top_left
        top_right *= self._fx
        top_left += top_right
        bottom_right -= bottom_left
        bottom_right *= self._fx
        bottom_left += bottom_right
        bottom_left -= top_left
        bottom_left *= self._fy
        top_left += bottom_left
        return top_left.reshape(self._count, self.channels)

    def level(self, corners: np.ndarray, index: int, out: np.ndarray, scale: float = 1.0,
              shift: float = 0.0) -> np.ndarray:
        """Size ``index``'s area means times ``scale`` plus ``shift``, into ``out`` (h, w, C)."""
        h, w = self.sizes[index]
        start = self._offsets[index]
        grid = corners[start:start + (h + 1) * (w + 1)].reshape(h + 1, w + 1, self.channels)
        covered = np.subtract(grid[1:, 1:], grid[:-1, 1:])
        covered -= grid[1:, :-1]
        covered += grid[:-1, :-1]
        np.multiply(covered, self._scales[index] * scale, out=out, casting="same_kind")
        if shift:
            out += np.asarray(shift, out.dtype)
        return out

    def __call__(self, sums: np.ndarray, work: Optional[Workspace] = None) -> np.ndarray:
        """(h, w, C) float64 area means of the first size, from ``sums`` = integral_image(image)."""
        h, w = self.size
        return self.level(self.corners(sums, work), 0, np.empty((h, w, self.channels), np.float64))


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
