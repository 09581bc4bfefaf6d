"""The mobile port kit: built from the shipped models, reproduced by the edge runtime, and
``--verify`` naming the stage a port gets wrong.  Needs only the [edge] extra."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from fakeface.edge.checker_options import CheckerOptions
from fakeface.edge.cli import main
from fakeface.edge.contract import load_contract
from fakeface.edge.imageio import load_image
from fakeface.edge.pipeline import FakeFaceChecker
from fakeface.export.kit.build import build_kit
from fakeface.export.kit.files import load_json
from fakeface.export.kit.golden import trace_photos, write_trace
from fakeface.export.kit.photos import kit_photos
from fakeface.export.kit.stages import STAGES, STAGES_BY_KEY
from fakeface.export.kit.verify import verify

# What an app repository can carry besides the classifier files, whose size is the model's
# own (an app keeps one of the variants): detector nets, photos, vectors, docs.
MAX_KIT_BYTES = 8 * 2**20
MAX_GOLDEN_BYTES = 2 * 2**20


@pytest.fixture(scope="module")
def kit(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("kit") / "port-kit"
    build_kit(out, options=CheckerOptions(threads=1))
    return out


@pytest.fixture(scope="module")
def index(kit) -> dict:
    return load_json(kit / "golden" / "index.json")


def golden_copy(kit: Path, dest: Path) -> Path:
    shutil.copytree(kit / "golden", dest)
    (dest / "index.json").unlink()
    return dest


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_kit_holds_models_pipeline_photos_and_small_golden_vectors(kit, index):
    pipeline = load_json(kit / "pipeline.json")
    for net in ("pnet", "rnet", "onet"):
        for path in pipeline["nets"][net]["files"]:
            assert (kit / path).stat().st_size > 0
    assert (kit / "models" / "mtcnn_nets.json").is_file()
    variants = pipeline["classifier"]["variants"]
    assert {v["file"].rsplit(".", 1)[1] for v in variants} == {"tflite", "onnx"}
    for v in variants:
        assert load_contract(kit / v["file"]).format == v["format"]  # sidecar copied and hash-checked
    assert [p["name"] for p in index["photos"]] == ["astronaut", "multi_face", "no_face"]
    assert [p["faces"] for p in index["photos"]] == [1, 3, 0]
    for photo in index["photos"]:
        assert load_image(kit / photo["photo"]).shape == (photo["height"], photo["width"], 3)
    porting = (kit / "PORTING.md").read_text()
    for stage in _stages_in(index):
        assert stage.title in porting
    for pitfall in ("Area resize corners", "crop_and_resize sampling", "Where rounding happens", "RGB, not BGR",
                    "int8 input scale and zero point"):
        assert pitfall in porting
    assert "{'" not in porting  # rules are listed one per line, not as Python dicts
    classifier_bytes = sum((kit / v["file"]).stat().st_size for v in variants)
    assert folder_bytes(kit) - classifier_bytes < MAX_KIT_BYTES
    assert folder_bytes(kit / "golden") < MAX_GOLDEN_BYTES


def test_shipped_photos_are_the_pixels_the_vectors_were_computed_on(kit):
    for photo in kit_photos():
        assert np.array_equal(load_image(kit / "photos" / f"{photo.name}.png"), photo.rgb)


def test_edge_runtime_on_the_other_runtime_reproduces_the_golden_vectors(kit, tmp_path):
    """The golden vectors come from the TFLite nets; ONNX Runtime must land within the kit's tolerances."""
    variants = _kit_variants(kit)
    traces = trace_photos(kit_photos(), kit / "models", variants, CheckerOptions(threads=1), "onnx", "onnxruntime")
    for name, trace in traces.items():
        write_trace(trace, tmp_path / name)
    report = verify(kit, tmp_path)
    assert report.passed, "\n".join(report.lines())


def _kit_variants(kit: Path) -> list:
    """The kit's classifier variants, as ClassifierVariant rows pointing at the kit's copies."""
    from fakeface.export.formats import FORMATS_BY_KEY
    from fakeface.export.kit.models import ClassifierVariant

    pipeline = load_json(kit / "pipeline.json")
    return [ClassifierVariant(FORMATS_BY_KEY[v["format"]], kit / v["file"], load_contract(kit / v["file"]))
            for v in pipeline["classifier"]["variants"]]


@pytest.mark.parametrize("kind", ["tflite", "onnx"])
def test_checker_api_gives_the_golden_faces_and_p_fake(kit, index, kind):
    """The public FakeFaceChecker, run on the kit's photos with the kit's model files."""
    variant = next(v for v in _kit_variants(kit) if v.source.suffix == f".{kind}")
    options = CheckerOptions(model_path=str(variant.source), threads=1,
                             backend="onnxruntime" if kind == "onnx" else "auto")
    with FakeFaceChecker(options) as checker:
        for photo in index["photos"]:
            faces = checker.check(load_image(kit / photo["photo"]))
            golden = np.load(kit / "golden" / photo["name"] / "faces.npy")
            p_fake = np.load(kit / "golden" / photo["name"] / f"p_fake.{variant.fmt.key}.npy")
            assert len(faces) == len(golden) == photo["faces"]
            for face, row, p in zip(faces, golden, p_fake):
                x, y, w, h = face.box
                assert np.allclose([x, y, x + w, y + h], row[:4], atol=0.05)
                assert abs(face.fake_probability - p) <= STAGES_BY_KEY["p_fake"].tolerance["abs"]


def test_verify_passes_on_the_kits_own_vectors(kit, tmp_path, capsys):
    candidate = golden_copy(kit, tmp_path / "dump")
    assert main(["export", "kit", "--verify", str(kit), "--candidate", str(candidate)]) == 0
    out = capsys.readouterr().out
    assert "within tolerance" in out and "DIVERGES" not in out


def _plant(stage, array: np.ndarray) -> np.ndarray:
    """A divergence ten times the stage's tolerance (or a wrong level size) in one element."""
    bad = array.copy()
    if stage.kind == "levels":
        bad[-1, 1] += 1
    elif stage.kind == "boxes":
        bad[0, 0] += 10 * stage.tolerance["px"]
    elif stage.kind == "pixels":
        flat = bad.reshape(-1)
        flat[0] = 200 if flat[0] < 100 else 0
    else:
        bad.reshape(-1)[0] += 10 * stage.tolerance["abs"]
    return bad


def _stages_in(index: dict) -> list:
    """The stages the kit has: one of classifier files that output probabilities (the shipped
    ones, until the model is retrained) has no logit stage (tests/test_kit_logit.py has one)."""
    return [STAGES_BY_KEY[row["key"]] for row in index["stages"]]


def test_the_shipped_kits_stages_follow_its_classifiers_output(index):
    outputs = set(index["computed_with"]["classifier_output"].values())
    keys = [s.key for s in _stages_in(index)]
    assert ("logit" in keys) == ("logit" in outputs)
    assert keys == [s.key for s in STAGES if s.key in keys]  # pipeline order


@pytest.mark.parametrize("stage", STAGES, ids=[s.key for s in STAGES])
def test_verify_names_a_planted_divergence_in_each_stage(kit, index, tmp_path, capsys, stage):
    if stage not in _stages_in(index):
        pytest.skip(f"this kit's classifier files have no {stage.key} stage (tests/test_kit_logit.py)")
    candidate = golden_copy(kit, tmp_path / "dump")
    key = index["stages"][[s["key"] for s in index["stages"]].index(stage.key)]["files"][0]
    target = candidate / "multi_face" / key
    np.save(target, _plant(stage, np.load(target)))
    report = verify(kit, candidate)
    assert report.first_divergence.stage == stage.key
    assert report.first_divergence.photo == "multi_face"
    assert main(["export", "kit", "--verify", str(kit), "--candidate", str(candidate)]) == 1
    out = capsys.readouterr().out
    assert f"first divergence: stage {stage.key} ({stage.title}) on multi_face" in out


def test_verify_reports_a_wrong_shape_at_its_stage(kit, tmp_path):
    candidate = golden_copy(kit, tmp_path / "dump")
    np.save(candidate / "astronaut" / "rnet_input.npy", np.zeros((4, 48, 48, 3), np.float32))
    first = verify(kit, candidate).first_divergence
    assert first.stage == "rnet_input" and "shape (4, 48, 48, 3), expected (4, 24, 24, 3)" in first.diff.detail


def test_partial_dumps_need_partial(kit, tmp_path, capsys):
    candidate = golden_copy(kit, tmp_path / "dump")
    for photo in ("astronaut", "multi_face", "no_face"):
        (candidate / photo / "pnet_output.npy").unlink()
    assert main(["export", "kit", "--verify", str(kit), "--candidate", str(candidate)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "missing astronaut/pnet_output.npy" in err and "--partial" in err
    assert main(["export", "kit", "--verify", str(kit), "--candidate", str(candidate), "--partial"]) == 0
    assert "skipped (not dumped)" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--verify", "{missing}", "--candidate", "{tmp}"], "kit folder not found"),
    (["--verify", "{kit}", "--candidate", "{missing}"], "candidate folder not found"),
    (["--verify", "{kit}"], "--verify needs --candidate"),
    (["{tmp}", "--candidate", "{kit}"], "--candidate needs --verify"),
    (["--verify", "{tmp}", "--candidate", "{kit}"], "not a port kit"),
])
def test_bad_input_is_one_line_and_exit_2(kit, tmp_path, capsys, args, message):
    (tmp_path / "stray.txt").write_text("x")
    values = {"kit": str(kit), "tmp": str(tmp_path), "missing": str(tmp_path / "nope")}
    assert main(["export", "kit", *(a.format(**values) for a in args)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err


def test_build_refuses_a_folder_that_is_not_a_kit_and_rebuilds_a_kit(kit, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["export", "kit", str(tmp_path)]) == 2
    assert "not empty and not a port kit" in capsys.readouterr().err
    again = tmp_path / "again"
    assert main(["export", "kit", str(again), "--threads", "1"]) == 0
    assert main(["export", "kit", str(again), "--threads", "1"]) == 0  # over an older kit
    out = capsys.readouterr().out
    assert "MiB" in out and "faces per photo: astronaut 1, multi_face 3, no_face 0" in out
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind
    golden = sorted(p.relative_to(kit) for p in (kit / "golden").rglob("*.npy"))
    for name in [Path("pipeline.json"), Path("golden/index.json"), *golden]:
        assert (again / name).read_bytes() == (kit / name).read_bytes(), name


def test_export_help_mentions_the_kit(capsys):
    with pytest.raises(SystemExit):
        main(["export", "kit", "--help"])
    assert "--candidate DIR" in capsys.readouterr().out
