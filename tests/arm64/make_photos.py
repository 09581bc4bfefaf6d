"""Write the photos that run_arm64.sh checks on x86 and on arm64, all made from one photo.

    python make_photos.py SOURCE.jpg OUT_DIR

The same files go to both sides, so they only need to be varied, not reproducible
across machines.  Each one takes a different path through decoding, the detector and
the classifier: several faces in one picture, pictures without a face, a grey PNG, a
picture above the working resolution, a face near the smallest size, bad JPEG
quality...  Prints one line per file: its name and the number of faces it was made to
hold (the detector may miss a small or turned one; the comparison only needs both
sides to agree).  Needs numpy and OpenCV (the x86 [edge] install has both).
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np


def collage(photo: np.ndarray, scales: list[float], height: int, gap: int = 16) -> np.ndarray:
    """The photo at each scale, side by side on a grey canvas, bottoms aligned."""
    tiles = [cv2.resize(photo, None, fx=s, fy=s, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
             for s in scales]
    width = sum(t.shape[1] for t in tiles) + gap * (len(tiles) + 1)
    canvas = np.full((height, width, 3), 128, np.uint8)
    x = gap
    for tile in tiles:
        h, w = tile.shape[:2]
        canvas[height - h:height, x:x + w] = tile
        x += w + gap
    return canvas


def photo_set(photo: np.ndarray) -> list[tuple[str, np.ndarray, list[int], int]]:
    """(file name, BGR or grey image, imwrite parameters, faces put in) for every photo of the set."""
    h, w = photo.shape[:2]
    jpeg = [cv2.IMWRITE_JPEG_QUALITY, 92]
    grid = np.vstack([np.hstack([photo, photo[:, ::-1]]), np.hstack([photo[:, ::-1], photo])])
    across, down = np.meshgrid(np.linspace(0, 255, w), np.linspace(0, 255, h))
    gradient = np.dstack([across, down, np.full((h, w), 96.0)]).astype(np.uint8)
    noise = np.random.default_rng(16).normal(0, 12, photo.shape)
    return [
        ("group-of-4.jpg", grid, jpeg, 4),
        ("group-of-3-sizes.jpg", collage(photo, [1.0, 0.7, 0.5], h), jpeg, 3),
        ("no-face-body.jpg", photo[int(h * 0.5):, :], jpeg, 0),  # below the chin: suit, flag, hands
        ("no-face-gradient.png", gradient, [], 0),
        ("mirrored.jpg", photo[:, ::-1], jpeg, 1),
        ("half-size.jpg", cv2.resize(photo, (w // 2, h // 2), interpolation=cv2.INTER_AREA), jpeg, 1),
        ("4x-size.jpg", cv2.resize(photo, (w * 4, h * 4), interpolation=cv2.INTER_CUBIC), jpeg, 1),  # > working px
        ("grey.png", cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY), [], 1),
        ("quality-15.jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, 15], 1),
        ("dark.jpg", (photo * 0.35).astype(np.uint8), jpeg, 1),
        ("wide-letterbox.jpg", cv2.copyMakeBorder(photo, 0, 0, w, w // 2, cv2.BORDER_CONSTANT, value=(40, 40, 40)),
         jpeg, 1),
        ("blurred.jpg", cv2.GaussianBlur(photo, (0, 0), 2.0), jpeg, 1),
        ("noisy.png", np.clip(photo + noise, 0, 255).astype(np.uint8), [], 1),
        ("turned-90.jpg", cv2.rotate(photo, cv2.ROTATE_90_CLOCKWISE), jpeg, 1),
    ]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    source, out = Path(argv[0]), Path(argv[1])
    photo = cv2.imread(str(source), cv2.IMREAD_COLOR)
    if photo is None:
        print(f"make_photos: cannot read {source}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    for name, image, params, faces in photo_set(photo):
        if not cv2.imwrite(str(out / name), np.ascontiguousarray(image), params):
            print(f"make_photos: cannot write {out / name}", file=sys.stderr)
            return 1
        print(f"{name} {faces}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
