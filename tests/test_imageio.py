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


def test_odd_formats_keep_their_content(corpus, photo):
    folder, expectations = corpus
    for name in ("gray.jpg", "rgba.png", "cmyk.jpg", "sixteen_bit.png", "animated.gif"):
        if expectations[name] != "ok":
            continue
        img = load_image(folder / name)
        assert img.shape == photo.shape, name
        # Same picture, up to the format's loss (grey, palette, CMYK round-trip).
        assert np.abs(img.astype(float).mean(axis=2) - photo.astype(float).mean(axis=2)).mean() < 20, name
    sixteen = load_image(folder / "sixteen_bit.png")
    assert np.abs(sixteen.astype(int) - photo.astype(int)).max() <= 1


def test_bomb_is_refused_without_allocating(corpus):
    folder, _ = corpus
    with pytest.raises(ImageError, match="bomb.png"):
        load_image(folder / "bomb.png")


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
