"""ONNX int8 export: a failed onnxruntime pre-processing step is said, not swallowed (the graph
that gets quantised is then another one)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

pytestmark = pytest.mark.tf  # the [train] extra's onnx, as the export it belongs to


def test_failed_quant_pre_process_is_reported(tmp_path, monkeypatch, capsys):
    pytest.importorskip("onnx")
    shape_inference = pytest.importorskip("onnxruntime.quantization.shape_inference")
    from fakeface.export import onnx_export

    def fake_fp32(job, dest, float_layers):
        dest.write_bytes(b"a float graph")
        return []

    def failing_pre_process(*args, **kwargs):
        raise RuntimeError("shape inference failed\n  on node Conv_12")

    monkeypatch.setattr(onnx_export, "export_fp32", fake_fp32)
    monkeypatch.setattr(shape_inference, "quant_pre_process", failing_pre_process)
    job = SimpleNamespace(cache={}, workdir=tmp_path)
    source = onnx_export.float_source(job)
    assert source == tmp_path / "source.fp32.onnx"  # the raw graph is quantised instead
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert ("fakeface export: onnxruntime's quant_pre_process failed (RuntimeError: shape inference failed "
            "on node Conv_12)") in err
