"""`fakeface prepare` and `fakeface evaluate` on hostile files: a one-line error per bad file, never a traceback.

The hostile corpus (tests/hostile_files.py) sits under SRC/real/hostile and
SRC/fake/hostile next to real face photos; every file must get either a per-file
error or a correct result, and the good photos of the batch must still be scored.
The commands run in a subprocess, as a user runs them, so a traceback on stderr or
a crash of the interpreter cannot hide.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fakeface.edge.tf_environment import quiet_tf_env
from conftest import SAMPLE_PHOTO, faces_root

REPO = Path(__file__).resolve().parents[1]

SIZE = 32  # build_tiny_model's input: prepare must cut crops of this size
# Files of the corpus that hold the whole astronaut photo in another encoding: a face must be found.
WHOLE_PHOTO = ("gray.jpg", "rgba.png", "cmyk.jpg", "sixteen_bit.png", "animated.gif")
# Real data sources with small photos, a couple each (when ../shared/data is present).
DATA_SOURCES = ("real/ffhq-128", "fake/stylegan2-tpdne-128")


def fakeface(*argv, timeout: float = 300) -> subprocess.CompletedProcess:
    env = quiet_tf_env()
    return subprocess.run([sys.executable, "-m", "fakeface.edge.cli", *map(str, argv)], capture_output=True,
                          text=True, env=env, timeout=timeout)


def assert_no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr[-3000:]
    assert proc.returncode >= 0, f"killed by signal {-proc.returncode}: {proc.stderr[-2000:]}"


def _a_few_photos(folder: Path, n: int = 2) -> list[Path]:
    if not folder.is_dir():
        return []
    with os.scandir(folder) as it:  # the folders hold thousands: never list them all
        names = sorted(itertools.islice((e.name for e in it if e.name.lower().endswith((".jpg", ".png"))), 50))
    return [folder / name for name in names[:n]]


@pytest.fixture(scope="module")
def src(tmp_path_factory) -> tuple[Path, dict]:
    """SRC with real/ and fake/ photos of faces plus the hostile corpus in each class."""
    pytest.importorskip("tensorflow")
    hostile_files = pytest.importorskip("hostile_files", reason="needs Pillow (the [dev] extra)")
    from fakeface.edge.imageio import load_image

    root = tmp_path_factory.mktemp("hostile") / "src"
    photo = load_image(SAMPLE_PHOTO)
    expect = {}
    for cls in ("real", "fake"):
        (root / cls / "photos").mkdir(parents=True)
        shutil.copy(SAMPLE_PHOTO, root / cls / "photos" / "astronaut.jpg")
        expect[f"{cls}/photos/astronaut.jpg"] = "face"
        for name, e in hostile_files.build_corpus(root / cls / "hostile", photo).items():
            expect[f"{cls}/hostile/{name}"] = "face" if name in WHOLE_PHOTO else e
    for source in DATA_SOURCES:  # real photos too, when the data is here (it is never copied into the repo)
        for p in _a_few_photos(faces_root() / source):
            (root / source).mkdir(parents=True, exist_ok=True)
            shutil.copy(p, root / source / p.name)
            expect[f"{source}/{p.name}"] = "any"  # a face, or a clean "no face"
    return root, expect


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    pytest.importorskip("tensorflow")
    from tiny_models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny"), steps=10, input_size=SIZE)


@pytest.fixture(scope="module")
def prepared(src, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    root, _ = src
    out = tmp_path_factory.mktemp("prepared") / "crops"
    proc = fakeface("prepare", root, out, "--input-size", SIZE, "--workers", 1, "--quiet")
    return out, proc


def _is_file_entry(root: Path, rel: str) -> bool:
    # A folder named x.jpg is a folder: the scanners walk into it, it is not a photo.
    return not (root / rel).is_dir()


@pytest.mark.tf
@pytest.mark.slow
def test_prepare_meets_every_hostile_file(src, prepared):
    root, expect = src
    out, proc = prepared
    assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = {}
    for line in (out / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        records.setdefault(r["source"], []).append(r)
    from fakeface.edge.imageio import load_image

    for rel, want in expect.items():
        if not _is_file_entry(root, rel):
            assert rel not in records
            continue
        assert rel in records, f"{rel}: no manifest line"
        (r,) = records[rel]  # --faces best: one line per photo
        if want == "error":
            assert r["status"] == "unreadable", r
            reason = r["reason"]
            assert "\n" not in reason and Path(rel).name in reason, reason
            assert reason in proc.stderr  # told to the user, one line each
        elif want == "face":
            assert r["status"] == "ok", r
        elif want == "ok":  # decodes but need not hold a face (the 1x1 image)
            assert r["status"] in ("ok", "no_face"), r
        else:
            assert r["status"] in ("ok", "no_face"), r
        if r["status"] == "ok":
            crop = load_image(out / r["crop"])
            assert crop.shape == (SIZE, SIZE, 3)
    assert records["real/hostile/one_pixel.png"][0]["status"] == "no_face"
    assert not list(out.rglob("*.partial"))
    # the rest of the batch ran: every real photo got its crop
    assert records["real/photos/astronaut.jpg"][0]["status"] == "ok"
    assert records["fake/photos/astronaut.jpg"][0]["status"] == "ok"


def _evaluate_json(proc: subprocess.CompletedProcess) -> dict:
    assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


@pytest.mark.tf
@pytest.mark.slow
def test_evaluate_raw_photos_meets_every_hostile_file(src, tiny_model):
    root, expect = src
    rep = _evaluate_json(fakeface("evaluate", tiny_model, root, "--split", "all", "--json", "--quiet"))
    unreadable = dict(rep["unreadable_files"])
    no_face = set(rep["no_face_files"])
    for rel, want in expect.items():
        if not _is_file_entry(root, rel):
            assert rel not in unreadable and rel not in no_face
            continue
        if want == "error":
            assert rel in unreadable, f"{rel}: expected a per-file error"
            assert "\n" not in unreadable[rel] and Path(rel).name in unreadable[rel]
        else:
            assert rel not in unreadable, f"{rel}: {unreadable.get(rel)}"
    assert "real/hostile/one_pixel.png" in no_face and "fake/hostile/one_pixel.png" in no_face
    faces = [rel for rel, want in expect.items() if want == "face"]
    # every photo holding a face was scored, whatever its encoding, next to the hostile ones
    assert rep["n"] >= len(faces)
    for cls in ("real", "fake"):
        assert rep["per_source"][f"{cls}/photos"]["n"] == 1
        assert rep["per_source"][f"{cls}/hostile"]["n"] == len(WHOLE_PHOTO) + (
            1 if expect[f"{cls}/hostile/unreadable.jpg"] == "ok" else 0)
    n_errors = sum(1 for rel, want in expect.items() if want == "error" and _is_file_entry(root, rel))
    assert rep["unreadable"] == n_errors


@pytest.mark.tf
@pytest.mark.slow
def test_evaluate_cropped_with_hostile_files_among_crops(src, prepared, tiny_model, tmp_path):
    root, expect = src
    out, proc = prepared
    assert proc.returncode == 0
    crops = tmp_path / "crops"
    shutil.copytree(out, crops, symlinks=True)
    # the whole hostile corpus, strays of every size included, among the real crops
    import hostile_files

    from fakeface.edge.imageio import load_image

    photo = load_image(SAMPLE_PHOTO)
    stray = {}
    for cls in ("real", "fake"):
        for name, e in hostile_files.build_corpus(crops / cls / "strays", photo).items():
            stray[f"{cls}/strays/{name}"] = e
    rep = _evaluate_json(fakeface("evaluate", tiny_model, crops, "--cropped", "--split", "all", "--json", "--quiet"))
    unusable = dict(rep["unreadable_files"])
    good_crops = [p for p in crops.rglob("*.png") if "strays" not in p.parts]
    assert rep["n"] == len(good_crops)  # every real crop scored
    for rel in stray:
        if not _is_file_entry(crops, rel):
            continue
        # undecodable, or not a 32 px crop (a full photo, a 1x1 image): a one-line reason each
        assert rel in unusable, f"{rel}: neither scored as a crop nor reported"
        assert "\n" not in unusable[rel] and Path(rel).name in unusable[rel]
    for rel in unusable:
        assert rel.split("/")[1] == "strays", f"a good crop was refused: {rel}: {unusable[rel]}"


@pytest.mark.tf
@pytest.mark.slow
def test_evaluate_cropped_at_another_size_is_one_clear_error(prepared, tmp_path):
    pytest.importorskip("tensorflow")
    from tiny_models import build_tiny_model

    out, proc = prepared
    model = build_tiny_model(tmp_path / "m24", steps=2, input_size=24)
    p = fakeface("evaluate", model, out, "--cropped", "--split", "all")
    assert_no_traceback(p)
    assert p.returncode == 2 and "--input-size 24" in p.stderr


# -- model files are data, never code ------------------------------------------------
_UNSAFE = ("safe_mode=False", "safe_mode = False", "enable_unsafe_deserialization", "allow_pickle=True")
_PICKLE_ON_EDGE = ("import pickle", "pickle.load", "cPickle", "import dill", "joblib", "marshal.load",
                   "shelve", "np.load(", "numpy.load(", "torch.load")


def _sources(*folders: str) -> list[Path]:
    return sorted(p for f in folders for p in (REPO / f).rglob("*.py"))


def test_no_unsafe_deserialization_anywhere_in_the_package():
    files = _sources("edge", "train", "export", "benchmarks")
    assert len(files) > 20
    found = [f"{p.relative_to(REPO)}: {bad}" for p in files for bad in _UNSAFE if bad in p.read_text(encoding="utf-8")]
    assert not found, found


def test_every_keras_load_asks_for_safe_mode():
    import re

    # keras.models.load_model(...) / keras.saving.load_model(...), not our own _load_model helpers
    call = re.compile(r"(?<![\w.])[\w.]*\bload_model\(")
    calls = []
    for p in _sources("edge", "train", "export", "benchmarks"):
        for line in p.read_text(encoding="utf-8").splitlines():
            m = call.search(line)
            if m and not line.lstrip().startswith("def ") and "keras" in m.group(0):
                calls.append((str(p.relative_to(REPO)), line.strip()))
    assert len(calls) >= 3  # fit (resume, --init-from), scoring, export, benchmarks
    unsafe = [c for c in calls if "safe_mode=True" not in c[1]]
    assert not unsafe, unsafe


def test_edge_runtime_never_unpickles():
    files = _sources("edge")
    found = [f"{p.relative_to(REPO)}: {bad}" for p in files for bad in _PICKLE_ON_EDGE
             if bad in p.read_text(encoding="utf-8")]
    assert not found, found


@pytest.mark.tf
@pytest.mark.slow
def test_a_keras_file_carrying_python_code_is_refused(tmp_path):
    """A Lambda layer stores pickled Python bytecode; evaluate and export refuse to run it."""
    pytest.importorskip("tensorflow")
    import keras

    from fakeface.edge.contract import ModelContract, file_sha256, save_contract

    inp = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Lambda(lambda t: t * 0.5)(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(1, activation="sigmoid")(x)
    path = tmp_path / "evil.keras"
    keras.Model(inp, out).save(path)
    save_contract(path, ModelContract(input_size=SIZE, format="keras", sha256=file_sha256(path)))
    data = tmp_path / "data"
    from tiny_models import write_synthetic_crops

    write_synthetic_crops(data, n=8, size=SIZE)
    dist = tmp_path / "dist"
    for argv in (("evaluate", path, data, "--cropped", "--split", "all", "--quiet"),
                 ("export", path, "--out", dist, "--formats", "tflite-fp32", "--eval", data)):
        proc = fakeface(*argv)
        assert_no_traceback(proc)
        assert proc.returncode == 2, proc.stderr[-2000:]
        err = [line for line in proc.stderr.splitlines() if "error" in line]
        assert len(err) == 1 and "evil.keras" in err[0], proc.stderr[-2000:]
    assert not (dist.exists() and list(dist.glob("*.tflite")))
