"""Decoding: hostile files give one-line errors, odd-but-valid files give sane RGB images."""

from __future__ import annotations

import numpy as np
import pytest

from fakeface.edge.errors import ImageError
from fakeface.edge.imageio import decode_image, frame_to_rgb, iter_image_paths, load_image

hostile_files = pytest.importorskip("hostile_files", reason="needs Pillow (the [dev] extra)")


@pytest.fixture(scope="module")
def photo(sample_photo):
    return load_image(sample_photo)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, photo):
    folder = tmp_path_factory.mktemp("hostile")
    return folder, hostile_files.build_corpus(folder, photo)


def test_sample_photo_is_upright_rgb(photo):
    assert photo.shape == (512, 512, 3) and photo.dtype == np.uint8
    # The flag behind the astronaut fills the left edge: more red than blue there.
    assert photo[:, :100, 0].mean() > photo[:, :100, 2].mean()


def test_every_hostile_file_gets_an_error_or_a_sane_image(corpus):
    folder, expectations = corpus
    for name, expect in expectations.items():
        path = folder / name
        if expect == "error":
            with pytest.raises(ImageError) as info:
                load_image(path)
            msg = str(info.value)
            assert str(path) in msg and "\n" not in msg, msg
        else:
            img = load_image(path)
            assert img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.uint8, name


def smooth(img: np.ndarray) -> np.ndarray:
    """A 7x7 box blur: it averages out a palette's dithering, never a swap of channels."""
    import cv2

    return cv2.blur(img.astype(np.float32), (7, 7))


def test_odd_formats_keep_their_content(corpus, photo):
    """Each channel against the same channel of the original, so that a swap of red and blue
    (which channel means cannot see) fails: swapped, these files are 32-38 levels off."""
    folder, expectations = corpus
    # Mean error per channel, in 8-bit levels, and why it is allowed.
    tolerances = {
        "rgba.png": 0.0,  # lossless, the alpha channel dropped
        "sixteen_bit.png": 0.5,  # lossless 16 bit, value * 257: back to 8 bits exactly
        "cmyk.jpg": 4.0,  # a JPEG round trip at Pillow's default quality 75 (2.4 measured)
        "animated.gif": 3.0,  # the 216-colour web palette, dithered: 0.75 measured after smoothing
    }
    for name, tolerance in tolerances.items():
        if expectations[name] != "ok":
            continue
        img = load_image(folder / name)
        assert img.shape == photo.shape, name
        compare = smooth if name == "animated.gif" else (lambda a: a.astype(np.float32))
        error = np.abs(compare(img) - compare(photo)).mean(axis=(0, 1))
        swapped = np.abs(compare(img[..., ::-1]) - compare(photo)).mean()
        assert (error <= tolerance).all(), (name, error)
        assert swapped > 5 * max(tolerance, 4.0), (name, swapped)  # far above every tolerance: a swap fails
    assert np.array_equal(load_image(folder / "rgba.png"), photo)
    gray = load_image(folder / "gray.jpg").astype(np.float32)
    # Grey stays grey (three equal channels), with the ITU-R 601 luma Pillow's "L" computes;
    # 4 levels: a JPEG round trip at quality 75 (2.2 measured).
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()
    luma = photo.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    assert np.abs(gray[..., 0] - luma).mean() <= 4.0


def test_bomb_is_refused_from_its_header_without_decoding(corpus, monkeypatch):
    """The 30000x30000 PNG is refused for its size, read from the header, and the decoder is
    never called (it would allocate 2.7 GB before finding the data short)."""
    import cv2

    from fakeface.edge import HARD_MAX_PIXELS

    folder, _ = corpus

    def no_decoding(*args, **kwargs):
        raise AssertionError("the decoder was called for a file that its header already rules out")

    monkeypatch.setattr(cv2, "imdecode", no_decoding)
    with pytest.raises(ImageError) as info:
        load_image(folder / "bomb.png")
    assert str(info.value) == f"{folder / 'bomb.png'}: 30000x30000 image exceeds the {HARD_MAX_PIXELS:,}-pixel limit"


def test_pixel_cap_is_configurable(sample_photo):
    with pytest.raises(ImageError, match="pixel limit"):
        load_image(sample_photo, max_pixels=100_000)
    assert load_image(sample_photo, max_pixels=512 * 512).shape[:2] == (512, 512)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(photo, orientation):
    data = hostile_files.exif_rotated_jpeg(photo, orientation)
    img = decode_image(data, f"orientation-{orientation}.jpg")
    assert img.shape == photo.shape
    assert np.abs(img.astype(int) - photo.astype(int)).mean() < 6


def test_folder_walk_reports_empty_folders_and_missing_paths(tmp_path, sample_photo):
    (tmp_path / "empty").mkdir()
    items = list(iter_image_paths([sample_photo, tmp_path / "empty", tmp_path / "missing.jpg"]))
    assert items[0] == (sample_photo, None)
    assert "holds no images" in items[1][1]
    assert "no such file" in items[2][1]


def test_frames_of_any_channel_layout_become_rgb():
    gray = np.full((4, 5), 7, np.uint8)
    assert frame_to_rgb(gray).shape == (4, 5, 3)
    bgra = np.zeros((4, 5, 4), np.uint8)
    bgra[..., 0] = 255  # blue
    assert frame_to_rgb(bgra)[0, 0].tolist() == [0, 0, 255]
    with pytest.raises(ImageError):
        frame_to_rgb(np.zeros((0, 0, 3), np.uint8))
