"""Build a corpus of hostile image files for the robustness tests.

Every entry is (name, expectation) where expectation is "error" (a one-line error
is the only right answer) or "ok" (the file must decode to a sane RGB image).
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image


def _png_chunk(kind: bytes, data: bytes, crc: int | None = None) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF if crc is None else crc
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny file whose header promises width x height RGB pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    # A little compressed data; the decoder would have to allocate before finding out.
    idat = zlib.compress(b"\x00" * 4096)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def bad_crc_png(rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    data = bytearray(buf.tobytes())
    # Corrupt the IDAT payload (not only its CRC) so the decoder cannot trust it.
    i = data.find(b"IDAT")
    data[i + 8 : i + 24] = b"\xff" * 16
    return bytes(data)


def pil_bytes(img: Image.Image, fmt: str, **kw) -> bytes:
    out = io.BytesIO()
    img.save(out, format=fmt, **kw)
    return out.getvalue()


def build_corpus(folder: Path, photo_rgb: np.ndarray) -> dict[str, str]:
    """Write hostile files into ``folder``; return {file name: "ok" | "error"}."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    pil = Image.fromarray(photo_rgb)
    jpeg = pil_bytes(pil, "JPEG", quality=90)
    files: dict[str, tuple[bytes, str]] = {
        "zero.jpg": (b"", "error"),
        "random.jpg": (rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(), "error"),
        "text.jpg": (b"this is a text file, not a picture\n" * 20, "error"),
        "truncated.jpg": (jpeg[: len(jpeg) // 2], "error"),
        "bad_crc.png": (bad_crc_png(photo_rgb), "error"),
        "bomb.png": (bomb_png(), "error"),
        "one_pixel.png": (pil_bytes(Image.new("RGB", (1, 1), (128, 64, 32)), "PNG"), "ok"),
        "gray.jpg": (pil_bytes(pil.convert("L"), "JPEG"), "ok"),
        "rgba.png": (pil_bytes(pil.convert("RGBA"), "PNG"), "ok"),
        "cmyk.jpg": (pil_bytes(pil.convert("CMYK"), "JPEG"), "ok"),
        "sixteen_bit.png": (cv2.imencode(".png", (cv2.cvtColor(photo_rgb, cv2.COLOR_RGB2BGR).astype(np.uint16) * 257))[1].tobytes(), "ok"),
    }
    frames = [pil.convert("P"), pil.transpose(Image.Transpose.FLIP_LEFT_RIGHT).convert("P")]
    files["animated.gif"] = (pil_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0), "ok")
    for name, (data, expect) in files.items():
        (folder / name).write_bytes(data)
    expectations = {name: expect for name, (data, expect) in files.items()}
    # OpenCV reads GIF only from 4.12 on (the legacy numpy<2 set pins 4.11): there a clear
    # "not decodable" error is the right answer.
    if not cv2.haveImageReader(str(folder / "animated.gif")):
        expectations["animated.gif"] = "error"
    (folder / "a_directory.jpg").mkdir(exist_ok=True)
    expectations["a_directory.jpg"] = "error"
    loop = folder / "loop.jpg"
    if not loop.is_symlink():
        os.symlink(loop.name, loop)  # points at itself
    expectations["loop.jpg"] = "error"
    unreadable = folder / "unreadable.jpg"
    unreadable.write_bytes(jpeg)
    unreadable.chmod(0)
    # root can read anything: only expect an error when permissions really bite.
    expectations["unreadable.jpg"] = "error" if not os.access(unreadable, os.R_OK) else "ok"
    return expectations


# EXIF orientation n: how to turn the upright image into the stored pixels.
_STORE_FOR_ORIENTATION = {
    1: lambda im: im,
    2: lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
    3: lambda im: im.transpose(Image.Transpose.ROTATE_180),
    4: lambda im: im.transpose(Image.Transpose.FLIP_TOP_BOTTOM),
    5: lambda im: im.transpose(Image.Transpose.TRANSPOSE),
    6: lambda im: im.transpose(Image.Transpose.ROTATE_90),
    7: lambda im: im.transpose(Image.Transpose.TRANSVERSE),
    8: lambda im: im.transpose(Image.Transpose.ROTATE_270),
}


def exif_rotated_jpeg(upright_rgb: np.ndarray, orientation: int) -> bytes:
    """JPEG whose stored pixels need EXIF ``orientation`` to look like ``upright_rgb``."""
    stored = _STORE_FOR_ORIENTATION[orientation](Image.fromarray(upright_rgb))
    exif = Image.Exif()
    exif[0x0112] = orientation
    return pil_bytes(stored, "JPEG", quality=95, exif=exif.tobytes())
