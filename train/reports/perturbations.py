"""Perturbations of face crops that a photo meets between the camera and the classifier.

Each one takes a batch of uint8 RGB crops (N, S, S, 3) and returns a batch of the same
shape: re-compression at three JPEG qualities, a 0.5x downscale-and-upscale, a Gaussian
blur, and the small geometric changes a different face detector makes (a whole-pixel
shift, a tighter crop).  Degrading the crop rather than the photo is a close, cheap
stand-in: the crop is what the classifier sees, and the detector is not under test.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np


def jpeg(images: np.ndarray, quality: int) -> np.ndarray:
    out = np.empty_like(images)
    for i, img in enumerate(images):
        ok, buf = cv2.imencode(".jpg", img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        out[i] = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]
    return out


def rescale(images: np.ndarray, factor: float) -> np.ndarray:
    size = images.shape[1]
    small = max(2, int(round(size * factor)))
    out = np.empty_like(images)
    for i, img in enumerate(images):
        s = cv2.resize(img, (small, small), interpolation=cv2.INTER_AREA)
        out[i] = cv2.resize(s, (size, size), interpolation=cv2.INTER_LINEAR)
    return out


def gaussian_blur(images: np.ndarray, sigma: float) -> np.ndarray:
    out = np.empty_like(images)
    for i, img in enumerate(images):
        out[i] = cv2.GaussianBlur(img, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
    return out


def shift(images: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Move the content by whole pixels, filling the uncovered edge by reflection (no resampling)."""
    m = max(abs(dx), abs(dy))
    if m == 0:
        return images.copy()
    padded = np.pad(images, ((0, 0), (m, m), (m, m), (0, 0)), mode="reflect")
    size_y, size_x = images.shape[1:3]
    y0, x0 = m - dy, m - dx
    return np.ascontiguousarray(padded[:, y0:y0 + size_y, x0:x0 + size_x])


def center_crop(images: np.ndarray, keep: float) -> np.ndarray:
    """Keep the central ``keep`` share of the side and enlarge it back: a tighter face box."""
    size = images.shape[1]
    side = max(2, int(round(size * keep)))
    o = (size - side) // 2
    out = np.empty_like(images)
    for i, img in enumerate(images):
        out[i] = cv2.resize(img[o:o + side, o:o + side], (size, size), interpolation=cv2.INTER_LINEAR)
    return out


# name -> (what it does, function); the names are the keys of the JSON report.
PERTURBATIONS: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    "jpeg_q90": ("JPEG re-encode, quality 90", lambda x: jpeg(x, 90)),
    "jpeg_q70": ("JPEG re-encode, quality 70", lambda x: jpeg(x, 70)),
    "jpeg_q50": ("JPEG re-encode, quality 50", lambda x: jpeg(x, 50)),
    "rescale_0.5x": ("downscale to 0.5x (area), upscale back (bilinear)", lambda x: rescale(x, 0.5)),
    "blur_1.0": ("Gaussian blur, sigma 1.0 px", lambda x: gaussian_blur(x, 1.0)),
    "shift_4px": ("shift 4 px right and 4 px down (reflected edge)", lambda x: shift(x, 4, 4)),
    "crop_0.9": ("central 90% of the crop, enlarged back", lambda x: center_crop(x, 0.9)),
}
