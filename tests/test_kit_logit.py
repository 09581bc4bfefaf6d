"""Classifier files that output the logit (every export since logits): the model the
exporters convert, and the port kit of such files, whose classifier stage's golden vector is
the logit, so that a port feeding the classifier wrongly scaled pixels fails ``--verify``
there by far more than the tolerance, even where p(fake) hardly moves.

The shipped models still output probabilities (tests/test_kit.py covers their kit); this
kit is built from an export of a really trained tiny model, so it needs TensorFlow.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.tf
pytest.importorskip("tensorflow")

from fakeface.edge.backends import open_model  # noqa: E402
from fakeface.edge.checker_options import CheckerOptions  # noqa: E402
from fakeface.edge.cli import main  # noqa: E402
from fakeface.edge.contract import sigmoid  # noqa: E402
from fakeface.export.kit.build import build_kit  # noqa: E402
from fakeface.export.kit.files import load_json  # noqa: E402
from fakeface.export.kit.golden import trace_photos, write_trace  # noqa: E402
from fakeface.export.kit.photos import kit_photos  # noqa: E402
from fakeface.export.kit.stages import LOGIT_ABS, STAGES_BY_KEY  # noqa: E402
from fakeface.export.kit.verify import verify  # noqa: E402

SIZE = 32
FORMATS = "tflite-int8,onnx-int8,tflite-fp32"
# A wrong input scale must miss the logit by far more than the tolerance, not by a hair.
CLEAR_MARGIN = 10


@pytest.fixture(scope="module")
def kit(tmp_path_factory) -> Path:
    tiny_models = pytest.importorskip("tiny_models")
    from fakeface.export.api import export_model

    root = tmp_path_factory.mktemp("logit-kit")
    tiny_models.write_synthetic_crops(root / "calib", n=80, size=SIZE, seed=1)
    tiny_models.write_synthetic_crops(root / "eval", n=120, size=SIZE, seed=2)
    model = tiny_models.build_tiny_model(root / "train", steps=60, input_size=SIZE)
    report = export_model(model, root / "export", formats=FORMATS, calib_dir=root / "calib",
                          eval_dir=root / "eval", latency_runs=3)
    assert report.passed, report.to_markdown()
    build_kit(root / "kit", models_dir=root / "export", options=CheckerOptions(threads=1))
    return root / "kit"


@pytest.fixture(scope="module")
def index(kit) -> dict:
    return load_json(kit / "golden" / "index.json")


def _variants(kit: Path) -> list[dict]:
    return load_json(kit / "pipeline.json")["classifier"]["variants"]


def test_the_classifier_stage_is_the_logit_with_a_tolerance_in_logit_units(kit, index):
    assert set(index["computed_with"]["classifier_output"].values()) == {"logit"}
    rows = {row["key"]: row for row in index["stages"]}
    keys = [row["key"] for row in index["stages"]]
    assert keys.index("classifier_input") < keys.index("logit") < keys.index("p_fake")
    assert rows["logit"]["tolerance"] == {"abs": LOGIT_ABS}
    assert sorted(rows["logit"]["files"]) == sorted(f"logit.{v['format']}.npy" for v in _variants(kit))
    for photo in index["photos"]:
        for v in _variants(kit):
            logit = np.load(kit / "golden" / photo["name"] / f"logit.{v['format']}.npy")
            p_fake = np.load(kit / "golden" / photo["name"] / f"p_fake.{v['format']}.npy")
            assert logit.shape == p_fake.shape == (photo["faces"],)
            assert np.allclose(p_fake, sigmoid(logit), rtol=0, atol=1e-7)  # the host's sigmoid of the logit
    porting = (kit / "PORTING.md").read_text()
    assert "Sigmoid on the host" in porting and "Classifier logit (before the sigmoid)" in porting
    assert f"abs {LOGIT_ABS:g}" in porting
    assert all(v["output"] == "logit" for v in _variants(kit))


def test_the_other_runtime_reproduces_the_logits_within_tolerance(kit):
    from fakeface.export.formats import FORMATS_BY_KEY
    from fakeface.export.kit.models import ClassifierVariant
    from fakeface.edge.contract import load_contract

    variants = [ClassifierVariant(FORMATS_BY_KEY[v["format"]], kit / v["file"], load_contract(kit / v["file"]))
                for v in _variants(kit)]
    traces = trace_photos(kit_photos(), kit / "models", variants, CheckerOptions(threads=1), "onnx", "onnxruntime")
    dump = kit.parent / "onnx-dump"
    for name, trace in traces.items():
        write_trace(trace, dump / name)
    report = verify(kit, dump)
    assert report.passed, "\n".join(report.lines())


def _wrongly_scaled_port(kit: Path, index: dict, dump: Path) -> float:
    """A port that divides the pixels by 255 before the classifier (its crops are right):
    dump its logits and p(fake); return the largest logit difference from the golden ones."""
    shutil.copytree(kit / "golden", dump)
    (dump / "index.json").unlink()
    worst = 0.0
    for v in _variants(kit):
        with open_model(kit / v["file"], threads=1) as runner:
            for photo in index["photos"]:
                folder = dump / photo["name"]
                crops = np.load(folder / "classifier_input.npy").astype(np.float32)
                logit = (runner.run(crops / 255.0)[0].reshape(-1).astype(np.float32) if len(crops)
                         else np.zeros(0, np.float32))
                golden = np.load(folder / f"logit.{v['format']}.npy")
                worst = max([worst, *np.abs(logit - golden).tolist()])
                np.save(folder / f"logit.{v['format']}.npy", logit)
                np.save(folder / f"p_fake.{v['format']}.npy", sigmoid(logit).astype(np.float32))
    return worst


def test_a_port_with_a_wrong_input_scale_fails_verify_at_the_logit(kit, index, tmp_path, capsys):
    worst = _wrongly_scaled_port(kit, index, tmp_path / "dump")
    assert worst >= CLEAR_MARGIN * LOGIT_ABS, worst  # a clear miss, not a rounding difference
    report = verify(kit, tmp_path / "dump")
    first = report.first_divergence
    assert first.stage == "logit" and first.photo in ("astronaut", "multi_face")
    assert main(["export", "kit", "--verify", str(kit), "--candidate", str(tmp_path / "dump")]) == 1
    out = capsys.readouterr().out
    assert f"first divergence: stage logit ({STAGES_BY_KEY['logit'].title}) on" in out
    assert f"tolerance {LOGIT_ABS:g})" in out


def test_the_exporters_convert_the_model_cut_before_its_sigmoid():
    import keras

    from fakeface.export.logit import logit_source

    inp = keras.Input((8,))
    features = keras.layers.Dense(4, activation="relu", name="body")(inp)
    model = keras.Model(inp, keras.layers.Dense(1, activation="sigmoid", name="head")(features))
    x = np.random.default_rng(0).normal(size=(16, 8)).astype(np.float32)
    source = logit_source(model)
    assert (source.output, source.logit_layer) == ("logit", "head")
    assert [layer.name for layer in source.model.layers] == [layer.name for layer in model.layers]
    p, z = model.predict(x, verbose=0).ravel(), source.model.predict(x, verbose=0).ravel()
    assert np.allclose(sigmoid(z), p, rtol=0, atol=1e-6) and (z.min() < 0 or z.max() > 1)
    logged = []
    softmax = keras.Model(inp, keras.layers.Dense(2, activation="softmax")(features))
    fallback = logit_source(softmax, log=lambda *a, **k: logged.append(" ".join(a)))
    assert (fallback.model, fallback.output, fallback.logit_layer) == (softmax, "probability", None)
    assert "output the probability itself" in logged[0]
