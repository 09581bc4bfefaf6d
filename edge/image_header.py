"""What an image file says about itself before any pixel is decoded: its size, and for a JPEG
whether its compressed data run all the way to their end-of-image marker.

The size lets a too-large image be refused before the decoder allocates for it, whatever
OpenCV's own cap is (it reads that once, when cv2 is first imported).  The JPEG walk follows
the file's segments and scans, as a decoder does, so that data after the end of the image (a
Google Motion Photo's video, a Samsung trailer, padding) is not mistaken for a cut-off file,
and a file that stops inside its scan data is.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Header:
    kind: str  # jpeg | png | gif | bmp | webp | pnm | tiff
    width: int
    height: int
    # False for a JPEG whose data end before its end-of-image marker (a cut-off download).
    complete: bool = True

    @property
    def pixels(self) -> int:
        return self.width * self.height


def read_header(data: bytes) -> Optional[Header]:
    """The header of a JPEG, PNG, GIF, BMP, WebP, PNM or TIFF file; None for other formats
    and for a header too short or too damaged to read (the decoder then has the last word)."""
    for reader in (_jpeg, _png, _gif, _bmp, _webp, _pnm, _tiff):
        try:
            header = reader(data)
        except (struct.error, IndexError, ValueError):
            header = None
        if header is not None:
            return header
    return None


# -- JPEG ---------------------------------------------------------------------------
_SOI, _EOI, _SOS = 0xD8, 0xD9, 0xDA
# Start-of-frame markers carry the size: C0-CF except DHT (C4), JPG (C8) and DAC (CC).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field: TEM and the restart markers RST0-7.
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


def jpeg_end(data: bytes) -> Optional[int]:
    """Offset just past the end-of-image marker that closes a JPEG's data, or None when the
    data stop first.  Markers inside segments (an EXIF thumbnail's) and stuffed bytes inside
    scans are skipped, as a decoder skips them; anything after the marker is not read."""
    return _walk_jpeg(data)[0]


def _walk_jpeg(data: bytes) -> tuple[Optional[int], Optional[tuple[int, int]]]:
    n = len(data)
    size = None
    i = 2
    while True:
        i = data.find(b"\xff", i)  # a decoder skips stray bytes before a marker
        while 0 <= i < n - 1 and data[i + 1] == 0xFF:  # fill bytes
            i += 1
        if i < 0 or i + 1 >= n:
            return None, size
        marker = data[i + 1]
        if marker == _EOI:
            return i + 2, size
        if marker in _STANDALONE or marker == 0x00:
            i += 2
            continue
        if i + 4 > n:
            return None, size
        end = i + 2 + struct.unpack_from(">H", data, i + 2)[0]
        if end > n:
            return None, size
        if marker in _SOF and size is None and end >= i + 9:
            height, width = struct.unpack_from(">HH", data, i + 5)
            size = (width, height)
        i = end if marker != _SOS else _end_of_scan(data, end)
        if i < 0:
            return None, size


def _end_of_scan(data: bytes, i: int) -> int:
    """Where the entropy-coded data that start at ``i`` end: the next marker that is neither a
    stuffed 0xFF00 nor a restart marker; -1 when the data stop first."""
    n = len(data)
    while True:
        i = data.find(b"\xff", i)
        if i < 0 or i + 1 >= n:
            return -1
        following = data[i + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            i += 1 if following == 0xFF else 2
            continue
        return i


def _jpeg(data: bytes) -> Optional[Header]:
    if data[:3] != b"\xff\xd8\xff":
        return None
    end, size = _walk_jpeg(data)
    if size is None:
        # No frame header at all: a cut-off file when the data stop early, else the decoder's call.
        return Header("jpeg", 0, 0, complete=False) if end is None else None
    return Header("jpeg", size[0], size[1], complete=end is not None)


# -- other formats --------------------------------------------------------------------
def _png(data: bytes) -> Optional[Header]:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack_from(">II", data, 16)
    return Header("png", width, height)


def _gif(data: bytes) -> Optional[Header]:
    if data[:6] not in (b"GIF87a", b"GIF89a"):
        return None
    width, height = struct.unpack_from("<HH", data, 6)
    return Header("gif", width, height)


def _bmp(data: bytes) -> Optional[Header]:
    if data[:2] != b"BM":
        return None
    if struct.unpack_from("<I", data, 14)[0] == 12:  # OS/2 BITMAPCOREHEADER
        width, height = struct.unpack_from("<HH", data, 18)
    else:
        width, height = struct.unpack_from("<ii", data, 18)
    return Header("bmp", abs(width), abs(height))  # a negative height is a top-down bitmap


def _webp(data: bytes) -> Optional[Header]:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8X":
        width = 1 + int.from_bytes(data[24:27], "little")
        height = 1 + int.from_bytes(data[27:30], "little")
    elif chunk == b"VP8L" and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        width, height = 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    elif chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width, height = (v & 0x3FFF for v in struct.unpack_from("<HH", data, 26))
    else:
        return None
    return Header("webp", width, height)


_PNM = re.compile(rb"P[1-7]((?:\s+|#[^\n]*\n)+)(\d+)((?:\s+|#[^\n]*\n)+)(\d+)")


def _pnm(data: bytes) -> Optional[Header]:
    match = _PNM.match(data[:1024])
    if match is None:
        return None
    return Header("pnm", int(match.group(2)), int(match.group(4)))


def _tiff(data: bytes) -> Optional[Header]:
    order = {b"II*\x00": "<", b"MM\x00*": ">"}.get(data[:4])
    if order is None:
        return None
    ifd = struct.unpack_from(order + "I", data, 4)[0]
    count = struct.unpack_from(order + "H", data, ifd)[0]
    found = {}
    for k in range(count):
        tag, kind = struct.unpack_from(order + "HH", data, ifd + 2 + 12 * k)
        if tag in (256, 257):  # ImageWidth, ImageLength: SHORT or LONG
            fmt = order + ("H" if kind == 3 else "I")
            found[tag] = struct.unpack_from(fmt, data, ifd + 2 + 12 * k + 8)[0]
    if len(found) < 2:
        return None
    return Header("tiff", found[256], found[257])
