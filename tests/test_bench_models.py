"""fakeface bench with a really trained tiny classifier: FLOPs against a hand count, classify/e2e rows, targets."""

from __future__ import annotations

import json

import pytest

from fakeface.benchmarks.flops import model_macs

pytestmark = [pytest.mark.tf, pytest.mark.slow]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    pytest.importorskip("tensorflow")
    from bench_models import build_tiny_models

    return build_tiny_models(tmp_path_factory.mktemp("tiny"))


def test_flops_match_hand_count(tiny):
    from bench_models import TINY_MACS

    for variant in ("fp32", "int8"):  # quantisation changes the dtype, not the work
        macs, source = model_macs(tiny[variant])
        assert macs == TINY_MACS, (variant, source)


def test_bench_classify_and_e2e_with_tiny_models(tiny, tmp_path):
    from fakeface.edge.cli import main

    out = tmp_path / "r.json"
    # The sample face is ~41 px wide in a 320x240 frame: min face 32 keeps it clear of the
    # shorter-side rule's edge.
    rc = main(["bench", "--models", str(tiny["fp32"].parent), "--stages", "classify,e2e", "--sizes", "320x240",
               "--threads", "1", "--min-face", "32", "--runs", "3", "--warmup", "1", "--out", str(out),
               "--no-progress", "--backends", "litert"])
    assert rc == 0
    doc = json.loads(out.read_text())
    formats = {m["format"] for m in doc["models"]}
    assert formats == {"tflite fp32", "tflite int8"}
    rows = doc["results"]
    assert {r["stage"] for r in rows} == {"classify", "e2e"} and all(r["error"] is None for r in rows)
    clf = [r for r in rows if r["stage"] == "classify"]
    assert all(r["size"] == "crop 32" and r["flops"] == 2 * 125_428 and r["gflops_per_s"] > 0 for r in clf)
    e2e = [r for r in rows if r["stage"] == "e2e"]
    assert all(r["faces"] == [1] and len(r["labels"][0]) == 1 for r in e2e)


def test_targets_cold_start_rss_and_int8(tiny):
    from fakeface.benchmarks.targets import check_peak_rss, cold_start, find_int8_model, int8_per_face, large_photo

    cold = cold_start(str(tiny["fp32"]), repeats=1)
    assert cold.measured is not None and 0 < cold.measured < 30, cold
    rss = check_peak_rss(str(tiny["fp32"]))
    assert rss.measured is not None and 20 < rss.measured < 2000, rss
    big_rss, big_time = large_photo(str(tiny["fp32"]), size=(1600, 1200))
    assert big_rss.measured is not None and 20 < big_rss.measured < 2000 and "1600x1200" in big_rss.name, big_rss
    assert big_time.measured is not None and big_time.measured > 0 and ("exit 0" in big_time.detail or "exit 1" in big_time.detail), big_time
    found = find_int8_model(models_dir=str(tiny["int8"].parent))
    assert found == tiny["int8"]
    r = int8_per_face(found, runs=20)
    assert r.measured is not None and r.measured > 0 and "tiny.int8.tflite" in r.detail


def test_the_reference_comparison_runs_the_export_check_would_ship(tiny):
    from fakeface.benchmarks.targets import model_for_reference

    # Both files were exported from tiny.keras; `check` ships the full-int8 one.
    chosen = model_for_reference(str(tiny["keras"]), str(tiny["int8"].parent))
    assert chosen == str(tiny["int8"])
    assert model_for_reference(str(tiny["int8"]), str(tiny["int8"].parent)) is None  # no export of that file


def test_format_label_reads_the_sidecar_before_the_file_name(tmp_path):
    from fakeface.benchmarks.models import format_label

    shipped = tmp_path / "fakeface.tflite"  # a runtime name says nothing of the variant
    shipped.write_bytes(b"")
    (tmp_path / "fakeface.tflite.json").write_text('{"format": "tflite-fp16"}')
    assert format_label(shipped) == "tflite fp16"
    renamed = tmp_path / "model.int8.onnx"  # the sidecar wins over a misleading name
    renamed.write_bytes(b"")
    (tmp_path / "model.int8.onnx.json").write_text('{"format": "onnx-fp32"}')
    assert format_label(renamed) == "onnx fp32"
    bare = tmp_path / "m.int8io.tflite"
    bare.write_bytes(b"")
    assert format_label(bare) == "tflite int8io"
    assert format_label(tmp_path / "plain.onnx") == "onnx fp32"
