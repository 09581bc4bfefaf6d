"""`fakeface generalise capture`: real photos taken differently, run through the edge pipeline.

Edge-runnable (no TensorFlow): the variants really change the pixels, the person counting,
the flag rule, strict JSON, the command end to end on the shipped model (the committed
sample photo, and a few real photos of ../shared/data where it is present), bad input.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO

from fakeface.edge.cli import main
from fakeface.edge.strict_json import loads_strict as strict_json
from fakeface.train.reports import capture_variants as cv
from fakeface.train.reports.capture import Measurement, PhotoResult, match_face, measure_photo
from fakeface.train.reports.capture_groups import acceptance_by_group, acceptance_by_name_group, name_groups
from fakeface.train.reports.capture_inputs import find_photos
from fakeface.train.reports.capture_report import Rules, capture_report, flag_slice

MODEL = REPO / "edge" / "models" / "fakeface.tflite"




@pytest.fixture(scope="module")
def checker():
    from fakeface.edge.pipeline import CheckerOptions, FakeFaceChecker

    with FakeFaceChecker(CheckerOptions(model_path=str(MODEL), threads=1)) as c:
        yield c


@pytest.fixture(scope="module")
def photo_and_face(checker, sample_photo):
    from fakeface.edge.imageio import load_image

    rgb = load_image(sample_photo)
    return rgb, checker.check(rgb)[0].box


# -- the variants ----------------------------------------------------------------------------------
def test_plain_background_is_flat_grey_outside_the_face(photo_and_face):
    rgb, box = photo_and_face
    out = cv.plain_background(rgb, box)
    keep = cv.face_ellipse(rgb.shape, box)[..., 0]
    assert (out[keep == 0] == cv.GREY).all() and (keep == 0).mean() > 0.3
    assert (rgb[keep == 0] != cv.GREY).any(axis=-1).mean() > 0.9  # the sample's backdrop was not grey
    x, y, w, h = (int(v) for v in box)
    np.testing.assert_array_equal(out[y + h // 4: y + 3 * h // 4, x + w // 4: x + 3 * w // 4],
                                  rgb[y + h // 4: y + 3 * h // 4, x + w // 4: x + 3 * w // 4])


def test_blurred_background_blurs_outside_only(photo_and_face):
    rgb, box = photo_and_face
    out = cv.blurred_background(rgb, box)
    keep = cv.face_ellipse(rgb.shape, box)[..., 0]
    outside = keep == 0
    assert np.abs(out[outside].astype(int) - rgb[outside]).mean() > 5
    np.testing.assert_array_equal(out[keep == 1], rgb[keep == 1])
    # Blurred: far less high-frequency energy outside the face.
    lap = lambda img: np.abs(np.diff(img.astype(float), axis=1))[outside[:, 1:]].mean()  # noqa: E731
    assert lap(out) < 0.5 * lap(rgb)


def test_jpeg_changes_pixels_and_lossless_does_not(photo_and_face):
    rgb, _ = photo_and_face
    np.testing.assert_array_equal(cv.lossless(rgb), rgb)
    q50, q90 = cv.jpeg(rgb, 50), cv.jpeg(rgb, 90)
    err50, err90 = (np.abs(q.astype(int) - rgb).mean() for q in (q50, q90))
    assert err50 > err90 > 0


def test_exposure_scales_every_pixel_and_clips_at_white(photo_and_face):
    rgb, _ = photo_and_face
    dark, bright = cv.exposure(rgb, 0.8), cv.exposure(rgb, 1.25)
    assert dark.shape == rgb.shape and dark.dtype == np.uint8
    mid = (rgb > 20) & (rgb < 180)  # away from rounding at black and clipping at white
    assert np.abs(dark[mid] - 0.8 * rgb[mid]).max() <= 1 and np.abs(bright[mid] - 1.25 * rgb[mid]).max() <= 1
    assert np.all(bright[rgb >= 204] == 255)


def test_camera_frame_is_640x480_letterboxed(photo_and_face):
    rgb, box = photo_and_face
    frame, place = cv.camera_frame(rgb)
    assert frame.shape == (480, 640, 3)
    assert rgb.shape[0] == rgb.shape[1]  # the sample is square: bars left and right
    left = int(place.dx)
    assert left > 0 and (frame[:, :left] == 0).all() and (frame[:, -left:] == 0).all()
    assert place.sx == pytest.approx(480 / rgb.shape[0], rel=1e-3)


@pytest.mark.parametrize("side", [64, 256])
def test_rescaled_face_is_found_at_its_new_size(checker, photo_and_face, side):
    rgb, box = photo_and_face
    out, place = cv.rescale_face(rgb, box, side)
    assert min(place.box(box)[2:]) == pytest.approx(side, rel=0.02)
    found = match_face(checker.check(out), place.box(box))
    assert found is not None and min(found.box[2:]) == pytest.approx(side, rel=0.15)


def test_huge_enlargement_is_cut_around_the_face():
    rgb = np.random.default_rng(0).integers(0, 255, (3000, 2000, 3), np.uint8)
    box = (1500.0, 200.0, 16.0, 20.0)
    out, place = cv.rescale_face(rgb, box, 256)
    assert out.shape[0] * out.shape[1] <= cv.MAX_VARIANT_PIXELS * 1.01
    x, y, w, h = place.box(box)
    assert w == pytest.approx(256, rel=0.01) and 0 <= x and x + w <= out.shape[1] and 0 <= y and y + h <= out.shape[0]


def test_match_face_takes_the_best_overlap():
    from fakeface.edge.faces import FaceBox

    faces = [FaceBox((0, 0, 10, 10), 0.99), FaceBox((100, 100, 50, 50), 0.9)]
    assert match_face(faces, (102, 98, 50, 52)) is faces[1]
    assert match_face(faces, (300, 300, 20, 20)) is None and match_face([], (0, 0, 5, 5)) is None


def test_measure_photo_gives_every_variant(checker, photo_and_face):
    rgb, _ = photo_and_face
    scores, sides = measure_photo(checker, rgb)
    assert list(scores) == list(cv.VARIANT_NAMES)
    assert all(p is not None for p in scores.values())
    assert scores["lossless"] == scores["as-is"] and sides["face-64px"] == pytest.approx(64, rel=0.15)
    assert measure_photo(checker, np.full((200, 200, 3), 90, np.uint8)) is None  # no face as it is


# -- groups, person counting, the flag rule ------------------------------------------------------------
def test_name_groups():
    assert name_groups("real/utkface/26_1_2_20170116.jpg.chip.jpg") == {"sex": "female", "race": "Asian", "sex x race": "female Asian", "age": "18-39"}
    assert name_groups("real/utkface/70_0_3_2017.jpg.chip.jpg") == {"sex": "male", "race": "Indian", "sex x race": "male Indian", "age": "60+"}
    assert name_groups("real/studio-3dsk/3dsk_male_josef.jpg") == {"sex": "male"}
    assert name_groups("real/nuaa-webcam/nuaa_0009_00_00_01_12.jpg") == {"person": "nuaa_0009"}
    assert name_groups("real/taiwanese-studio/tw_1901a02.jpg") == {"person": "tw_19"}
    assert name_groups("real/canada-studio/canada_095m.jpg") == {"sex": "male", "person": "canada_095"}
    assert name_groups("real/lfw-scenes/George_Bush_0001.jpg") == {}


def test_a_person_with_40_frames_counts_once():
    keys = [f"real/nuaa-webcam/nuaa_0001_00_00_01_{i}.jpg" for i in range(40)]
    keys += ["real/nuaa-webcam/nuaa_0002_00_00_01_0.jpg", "real/nuaa-webcam/nuaa_0003_00_00_01_0.jpg"]
    accepted = [False] * 40 + [True, True]
    acc, units = acceptance_by_group(accepted, keys)
    assert units == 3 and acc == pytest.approx(2 / 3)  # by frame it would be 2/42
    # Without persons in the names: the plain share of faces.
    assert acceptance_by_group([True, False, True, True], [f"x/{i}.jpg" for i in range(4)]) == (0.75, 4)
    assert acceptance_by_group([], []) == (None, 0)


def test_acceptance_by_sex_counts_people_and_leaves_out_names_without_one():
    keys = ["real/canada-studio/canada_019f.jpg", "real/canada-studio/canada_022f.jpg",
            "real/canada-studio/canada_095m.jpg", "real/lfw-scenes/George_Bush_0001.jpg"]
    by_sex = acceptance_by_name_group([False, True, True, False], keys, "sex")
    assert by_sex == {"female": (0.5, 2), "male": (1.0, 1)}
    assert acceptance_by_name_group([True], ["real/lfw-scenes/George_Bush_0001.jpg"], "sex") == {}


def test_flag_rule():
    assert flag_slice(0.92, None, 50) == (False, ["below 0.93"])
    assert flag_slice(0.95, None, 50) == (False, [])
    assert flag_slice(0.94, 1.00, 50) == (False, ["0.060 under as-is"])
    assert flag_slice(0.95, 1.00, 50) == (False, [])  # exactly 0.05 under: not more than
    assert flag_slice(0.50, 1.00, 9) == (True, [])  # too small to flag
    assert flag_slice(None, 1.0, 0) == (True, [])
    assert flag_slice(0.90, 0.99, 10, Rules(floor=0.8, max_drop=0.1)) == (False, [])


def test_flag_rule_for_generated_faces_is_the_mirror():
    # acceptance of fakes = the share passed as real: it must stay low
    assert flag_slice(0.05, None, 50, fakes=True) == (False, [])
    assert flag_slice(0.10, None, 50, fakes=True) == (False, ["above 0.07 passed as real"])
    assert flag_slice(0.06, 0.00, 50, fakes=True) == (False, ["0.060 over as-is"])
    assert flag_slice(0.05, 0.00, 50, fakes=True) == (False, [])  # exactly 0.05 over: not more than
    assert flag_slice(0.00, 0.50, 50, fakes=True) == (False, [])  # catching more is never flagged
    assert flag_slice(0.90, 0.00, 9, fakes=True) == (True, [])


def _synthetic(source, keys, variant_scores, threshold=0.5, photos_are="real"):
    results = [PhotoResult(k, source, name_groups(k), {v: s[i] for v, s in variant_scores.items()},
                           {v: (None if s[i] is None else 100.0) for v, s in variant_scores.items()})
               for i, k in enumerate(keys)]
    return Measurement(model="m.tflite", photos="data", split="test", threshold=threshold, results={source: results},
                       photo_counts={source: len(keys)}, no_face={source: 0}, unreadable={source: []},
                       photos_are=photos_are)


def test_report_on_generated_faces_flags_a_variant_that_lets_them_pass(tmp_path):
    keys = [f"fake/gan/{i}.jpg" for i in range(20)]
    scores = {v: [0.9] * 20 for v in cv.VARIANT_NAMES}
    scores["background-blurred"] = [0.2] * 8 + [0.9] * 12  # 0.40 pass as real once the backdrop is blurred
    scores["jpeg-90"] = [0.2] + [0.9] * 19  # 0.05 pass: under the 0.07 ceiling, exactly 0.05 over as-is
    report = capture_report(_synthetic("fake/gan", keys, scores, photos_are="fake"))
    (src,) = report.sources
    by_name = {c.name: c for c in src.slices}
    assert src.as_is_acceptance == 0.0 and by_name["background-blurred"].acceptance == pytest.approx(0.4)
    assert by_name["background-blurred"].flags == ["above 0.07 passed as real", "0.400 over as-is"]
    assert not by_name["jpeg-90"].flags
    assert [f["slice"] for f in report.flagged()] == ["background-blurred"] and report.exit_code == 1
    md = report.to_markdown()
    assert "GENERATED faces" in md and "passed as real [95 %]" in md and "(fake photos, split test)" in md
    assert strict_json(report.to_json_text())["photos_are"] == "fake"
    if importlib.util.find_spec("matplotlib") is not None:  # the chart shows the share caught
        from fakeface.train.reports.capture_plot import _bars

        height, lo, hi = _bars(src.slices, fakes=True)
        blurred = [c.name for c in src.slices].index("background-blurred")
        assert height[0] == 1.0 and height[blurred] == pytest.approx(0.6)
        assert np.all(lo >= 0) and np.all(hi >= 0)


def test_report_flags_a_slice_below_the_floor_and_writes_strict_json():
    keys = [f"real/web/{i}.jpg" for i in range(20)]
    scores = {v: [0.1] * 20 for v in cv.VARIANT_NAMES}
    scores["jpeg-50"] = [0.9] * 3 + [0.1] * 17  # 0.85 accepted: below 0.93 and 0.15 under as-is
    scores["face-64px"] = [None] * 15 + [0.9] * 5  # 5 faces: too small to flag, 15 "no face"
    report = capture_report(_synthetic("real/web", keys, scores))
    (src,) = report.sources
    by_name = {c.name: c for c in src.slices}
    assert by_name["jpeg-50"].flags == ["below 0.93", "0.150 under as-is"]
    assert by_name["face-64px"].too_small and not by_name["face-64px"].flags
    assert by_name["face-64px"].no_face == 15 and by_name["face-64px"].acceptance == 0.0  # no face is not accepted
    assert report.exit_code == 1 and [f["slice"] for f in report.flagged()] == ["jpeg-50"]
    data = strict_json(report.to_json_text())
    assert data["exit_code"] == 1 and data["sources"][0]["counted_by"] == "photo"
    assert "**FLAG**: below 0.93" in report.to_markdown()


def test_report_counts_a_camera_source_by_person():
    keys = [f"real/nuaa-webcam/nuaa_0001_00_00_01_{i}.jpg" for i in range(40)]
    keys += [f"real/nuaa-webcam/nuaa_000{p}_00_00_01_0.jpg" for p in (2, 3)]
    scores = {v: [0.9] * 40 + [0.1, 0.1] for v in cv.VARIANT_NAMES}
    scores["camera-640x480"] = [None] * 42  # no face anywhere: acceptance null, not NaN
    report = capture_report(_synthetic("real/nuaa-webcam", keys, scores))
    (src,) = report.sources
    assert src.counted_by == "person" and src.as_is_acceptance == pytest.approx(2 / 3)
    assert src.slices[0].units == 3 and src.slices[0].faces == 42
    assert {g.name: g.acceptance for g in src.groups} == {"person: nuaa_0001": 0.0, "person: nuaa_0002": 1.0,
                                                         "person: nuaa_0003": 1.0}
    data = strict_json(report.to_json_text())
    camera = next(c for c in data["sources"][0]["slices"] if c["name"] == "camera-640x480")
    assert camera["acceptance"] is None and camera["interval"] == [None, None]
    assert "counted by person" in report.to_markdown()


# -- the photos it reads -----------------------------------------------------------------------------
def _touch(root, *rels):
    for rel in rels:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x")


def test_find_photos_uses_the_shared_split(tmp_path):
    from fakeface.edge.errors import FakeFaceError
    from fakeface.train.data.layout import person_of, scan_folder, select_split

    rels = [f"real/a/{i}.jpg" for i in range(60)] + [f"real/nuaa-webcam/nuaa_00{p:02d}_0_{i}.jpg"
                                                     for p in range(1, 11) for i in range(3)]
    _touch(tmp_path, *rels, "fake/f/1.jpg")
    got = find_photos(tmp_path)
    assert got.layout and got.split == "test"
    want = {s.rel for s in select_split(scan_folder(tmp_path), "test") if s.label == 0}
    assert {p.key for photos in got.sources.values() for p in photos} == want
    fakes = find_photos(tmp_path, split="all", kind="fake")
    assert fakes.kind == "fake" and {p.key for ps in fakes.sources.values() for p in ps} == {"fake/f/1.jpg"}
    with pytest.raises(FakeFaceError, match="no fake photos in a source named 'a'"):
        find_photos(tmp_path, split="all", sources=["a"], kind="fake")
    only = find_photos(tmp_path, split="all", sources=["nuaa-webcam"], limit=5)
    assert list(only.sources) == ["real/nuaa-webcam"] and len(only.sources["real/nuaa-webcam"]) == 5
    assert len({person_of(p.key) for p in only.sources["real/nuaa-webcam"]}) > 1  # spread over persons


def test_find_photos_in_a_plain_folder_and_bad_input(tmp_path):
    from fakeface.edge.errors import FakeFaceError

    _touch(tmp_path / "mine", "a.jpg", "b.png", "sub/c.jpg", "notes.txt")
    got = find_photos(tmp_path / "mine")
    assert got.split == "all" and {s: len(p) for s, p in got.sources.items()} == {"mine": 2, "sub": 1}
    with pytest.raises(FakeFaceError, match="no such folder"):
        find_photos(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FakeFaceError, match="no photos found"):
        find_photos(tmp_path / "empty")
    with pytest.raises(FakeFaceError, match="no real photos in a source named 'nope'"):
        find_photos(tmp_path / "mine", sources=["nope"])
    # a folder with fake/ but no real/ reads as a data folder: asked for real photos, it says so
    _touch(tmp_path / "sorted", "fake/a.jpg", "genuine/b.jpg")
    with pytest.raises(FakeFaceError, match="has fake/ but no real/ folder"):
        find_photos(tmp_path / "sorted")
    assert list(find_photos(tmp_path / "sorted", split="all", kind="fake").sources) == ["fake"]


# -- the command ---------------------------------------------------------------------------------
def test_command_on_the_sample_photo(tmp_path, sample_photo, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(sample_photo, photos / "astronaut.jpg")
    (photos / "broken.jpg").write_bytes(sample_photo.read_bytes()[:5000])  # truncated: counted, skipped
    out = tmp_path / "out"
    assert main(["generalise", "capture", str(MODEL), str(photos), "--out", str(out), "--threads", "1"]) == 0
    captured = capsys.readouterr()
    assert "| as-is |" in captured.out and "too small to flag" in captured.out
    assert "skipped broken.jpg: truncated JPEG" in captured.err
    data = strict_json((out / "capture.json").read_text())
    (src,) = data["sources"]
    assert src["photos"] == 2 and len(src["unreadable"]) == 1 and src["no_face_as_is"] == 0
    assert [c["name"] for c in src["slices"]] == list(cv.VARIANT_NAMES)
    assert all(c["faces"] == 1 and c["acceptance"] == 1.0 for c in src["slices"])  # the shipped model accepts her
    assert (out / "capture.md").read_text().startswith("# Capture report")
    assert (out / "capture.png").is_file() == (importlib.util.find_spec("matplotlib") is not None)


@pytest.mark.parametrize("argv, message", [
    (["MODEL", "{tmp}/missing"], "no such folder"),
    (["MODEL", "{tmp}"], "no photos found"),
    (["{tmp}/model.keras", "{tmp}"], "no such model file"),
    (["MODEL", "{tmp}", "--limit", "0"], "argument --limit: must be an integer of at least 1"),
    (["MODEL", "{tmp}", "--split", "dev"], "argument --split: invalid choice"),
    (["MODEL", "{tmp}", "--sources", ","], "argument --sources: expected source names"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    argv = [a.replace("MODEL", str(MODEL)).replace("{tmp}", str(tmp_path)) for a in argv]
    try:
        rc = main(["generalise", "capture", *argv])
    except SystemExit as exc:  # argparse's own errors
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_keras_model_is_refused_with_a_hint(tmp_path, capsys, sample_photo):
    (tmp_path / "m.keras").write_bytes(b"x")
    shutil.copy(sample_photo, tmp_path / "a.jpg")
    assert main(["generalise", "capture", str(tmp_path / "m.keras"), str(tmp_path)]) == 2
    assert "needs a .tflite or .onnx model" in capsys.readouterr().err


def test_command_never_imports_tensorflow(tmp_path, sample_photo):
    shutil.copy(sample_photo, tmp_path / "a.jpg")
    code = ("import sys; from fakeface.edge.cli import main; "
            f"rc = main(['generalise', 'capture', {str(MODEL)!r}, {str(tmp_path)!r}, '--out', "
            f"{str(tmp_path / 'out')!r}, '--quiet', '--json']); "
            "leaked = [m for m in ('tensorflow', 'keras') if m in sys.modules]; "
            "sys.exit(10 + len(leaked) if leaked else rc)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert strict_json(done.stdout)["sources"][0]["slices"][0]["faces"] == 1


@pytest.mark.data
def test_command_on_real_studio_and_camera_photos(faces_dir, tmp_path):
    out = tmp_path / "out"
    rc = main(["generalise", "capture", str(MODEL), str(faces_dir), "--sources", "studio-3dsk,nuaa-webcam",
               "--split", "all", "--limit", "2", "--out", str(out), "--quiet", "--threads", "1"])
    data = strict_json((out / "capture.json").read_text())
    assert rc == data["exit_code"] == (1 if data["flagged"] else 0)
    by_source = {s["source"]: s for s in data["sources"]}
    assert set(by_source) == {"real/studio-3dsk", "real/nuaa-webcam"}
    assert by_source["real/nuaa-webcam"]["counted_by"] == "person"
    assert by_source["real/studio-3dsk"]["counted_by"] == "photo"
    for s in data["sources"]:
        assert s["photos"] == 2 and s["no_face_as_is"] == 0
        sizes = {c["name"]: c["median_face_px"] for c in s["slices"]}
        assert sizes["face-64px"] == pytest.approx(64, rel=0.15) and sizes["face-192px"] == pytest.approx(192, rel=0.15)
        assert all(c["too_small"] for c in s["slices"])  # two photos: shown, never flagged


@pytest.mark.data
def test_command_on_generated_faces_counts_those_that_pass(faces_dir, tmp_path, checker):
    from fakeface.edge.imageio import load_image

    out = tmp_path / "out"
    rc = main(["generalise", "capture", str(MODEL), str(faces_dir), "--fakes", "--sources", "stylegan1-140k",
               "--split", "test", "--limit", "3", "--out", str(out), "--quiet", "--threads", "1"])
    data = strict_json((out / "capture.json").read_text())
    assert rc == data["exit_code"] and data["photos_are"] == "fake"
    (src,) = data["sources"]
    assert src["source"] == "fake/stylegan1-140k" and src["photos"] == 3 and src["counted_by"] == "photo"
    # as-is "passed as real" is exactly the share the edge checker itself passes
    photos = find_photos(faces_dir, "test", ["stylegan1-140k"], 3, kind="fake").sources["fake/stylegan1-140k"]
    faces = [checker.check(load_image(p.path)) for p in photos]
    passed = [f[0].fake_probability < data["threshold"] for f in faces if f]  # the face it measures: the first
    assert src["slices"][0]["acceptance"] == pytest.approx(sum(passed) / len(passed))
    assert "passed as real" in (out / "capture.md").read_text()
