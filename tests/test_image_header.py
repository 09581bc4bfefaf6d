"""Image headers, read before decoding: phone JPEGs with data after their end, truly cut-off
JPEGs, and a pixel cap that holds whatever was imported first."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from fakeface.edge.cli import main
from fakeface.edge.errors import ImageError
from fakeface.edge.image_header import jpeg_end, read_header
from fakeface.edge.imageio import decode_image, load_image


@pytest.fixture(scope="module")
def jpeg(sample_photo) -> bytes:
    return sample_photo.read_bytes()


@pytest.fixture(scope="module")
def photo_rgb(sample_photo):
    return load_image(sample_photo)


def with_trailer(jpeg: bytes, kind: str) -> bytes:
    """The photo with what phones append after the end-of-image marker."""
    rng = np.random.default_rng(7)
    if kind == "samsung":  # 2 KB of trailer records, ending in their own tag, no 0xFFD9 near the end
        return jpeg + rng.integers(0, 256, 2048, dtype=np.uint8).tobytes() + b"\x00" * 60 + b"SEFT"
    if kind == "motion-photo":  # Google Motion Photo: an MP4 after the still image
        return jpeg + b"\x00\x00\x00\x18ftypmp42" + rng.integers(0, 256, 200_000, dtype=np.uint8).tobytes()
    return jpeg + b"\x00" * 4096  # padding


@pytest.mark.parametrize("kind", ["samsung", "motion-photo", "padding"])
def test_jpeg_with_data_after_its_end_is_a_photo(jpeg, kind, tmp_path, capsys):
    data = with_trailer(jpeg, kind)
    assert jpeg_end(data) == len(jpeg)
    assert np.array_equal(decode_image(data, "phone.jpg"), decode_image(jpeg, "photo.jpg"))
    (tmp_path / "phone.jpg").write_bytes(data)
    code = main(["check", str(tmp_path / "phone.jpg"), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["error"] is None and len(report["faces"]) == 1 and code == 0


@pytest.mark.parametrize("progressive", [False, True])
def test_a_jpeg_cut_anywhere_is_refused_in_one_line(photo_rgb, progressive):
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(photo_rgb, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_PROGRESSIVE, int(progressive), cv2.IMWRITE_JPEG_RST_INTERVAL, 8])
    data = buf.tobytes()
    assert read_header(data).complete
    for cut in range(8, len(data) - 1, max(1, len(data) // 150)):
        with pytest.raises(ImageError) as info:
            decode_image(data[:cut], "cut.jpg")
        assert str(info.value) == "cut.jpg: truncated JPEG (no end-of-image marker)", cut
    # Cut, then given 2 KB of trailer: still cut (the old check saw only the last 64 bytes).
    with pytest.raises(ImageError, match="truncated JPEG"):
        decode_image(data[: len(data) // 2] + b"\x00" * 2048, "cut.jpg")


@pytest.mark.parametrize("ext", [".jpg", ".png", ".bmp", ".webp", ".tiff", ".ppm", ".gif"])
def test_size_comes_from_the_header(ext):
    if not cv2.haveImageWriter("x" + ext):
        pytest.skip(f"this OpenCV cannot write {ext}")
    ok, buf = cv2.imencode(ext, np.zeros((200, 300, 3), np.uint8))
    header = read_header(buf.tobytes())
    assert (header.width, header.height) == (300, 200) and header.complete


def test_max_pixels_refuses_before_decoding(sample_photo, monkeypatch):
    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded a file whose header already says it is too large")

    monkeypatch.setattr(cv2, "imdecode", no_decoding)
    with pytest.raises(ImageError, match=r"512x512 image exceeds the 100,000-pixel limit"):
        load_image(sample_photo, max_pixels=100_000)


def run_python(code: str, *args, env=None) -> subprocess.CompletedProcess:
    env = {**{k: v for k, v in os.environ.items() if k not in ("FAKEFACE_MAX_PIXELS", "OPENCV_IO_MAX_IMAGE_PIXELS")},
           **(env or {})}
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=120)


def test_pixel_cap_holds_when_cv2_was_imported_first(tmp_path):
    """A Python-API user who imports cv2 first: OpenCV never sees the package's cap, yet a
    100-megapixel header is refused, and the decoder is not called."""
    hostile_files = pytest.importorskip("hostile_files", reason="needs Pillow (the [dev] extra)")
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(hostile_files.bomb_png(10_000, 10_000))
    code = (
        "import sys, cv2\n"
        "cv2.imdecode = lambda *a: sys.exit('decoded')\n"
        "from fakeface.edge.imageio import load_image\n"
        "from fakeface.edge.errors import ImageError\n"
        "try:\n    load_image(sys.argv[1])\nexcept ImageError as exc:\n    print(exc.reason)\n"
    )
    proc = run_python(code, bomb)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "10000x10000 image exceeds the 64,000,000-pixel limit"


@pytest.mark.parametrize("value", ["lots", "-5", "0", "1e9"])
def test_malformed_max_pixels_setting_warns_and_keeps_the_default(sample_photo, value):
    code = ("import sys; from fakeface.edge import HARD_MAX_PIXELS; from fakeface.edge.cli import main; "
            "print(HARD_MAX_PIXELS); sys.exit(main(['check', sys.argv[1], '--json']))")
    proc = run_python(code, sample_photo, env={"FAKEFACE_MAX_PIXELS": value})
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stdout.splitlines()[0] == "64000000"
    assert f"FAKEFACE_MAX_PIXELS={value!r} is not a whole number of pixels" in proc.stderr
    assert len([line for line in proc.stderr.splitlines() if "FAKEFACE_MAX_PIXELS" in line]) == 1


def test_max_pixels_setting_lowers_the_cap(sample_photo):
    code = "import sys; from fakeface.edge.cli import main; sys.exit(main(['check', sys.argv[1], '--json']))"
    proc = run_python(code, sample_photo, env={"FAKEFACE_MAX_PIXELS": " 100000 "})
    assert json.loads(proc.stdout)["error"] == "512x512 image exceeds the 100,000-pixel limit"
    assert proc.returncode == 4 and "Traceback" not in proc.stderr
