"""`check` says which model it used (issue 29, item 4) and shows progress on a terminal (item 13)."""

from __future__ import annotations

import json
import shutil
import sys

from fakeface.edge.cli import main
from fakeface.edge.contract import file_sha256, load_contract, sidecar_path

from conftest import REPO

SHIPPED = REPO / "edge" / "models" / "fakeface.tflite"


def test_header_and_json_lines_name_the_model(sample_photo, capsys):
    sha = file_sha256(SHIPPED)[:12]
    assert main(["check", str(sample_photo), "--threads", "1"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    threshold = load_contract(SHIPPED).threshold
    assert first.startswith(f"model fakeface.tflite (sha256 {sha}), threshold {threshold:.4g}: ")
    assert main(["check", str(sample_photo), str(sample_photo), "--json", "--threads", "1"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 2 and all(line["model"] == {"file": "fakeface.tflite", "sha256": sha} for line in lines)


def test_another_model_file_is_named_as_such(sample_photo, tmp_path, capsys):
    model = tmp_path / "mine.onnx"
    shutil.copyfile(REPO / "edge" / "models" / "fakeface.onnx", model)
    shutil.copyfile(sidecar_path(REPO / "edge" / "models" / "fakeface.onnx"), sidecar_path(model))
    assert main(["check", str(sample_photo), "--model", str(model), "--json", "--threads", "1"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["model"] == {"file": "mine.onnx", "sha256": file_sha256(model)[:12]}


def _folder_of(photo, tmp_path, n=3):
    for i in range(n):
        shutil.copyfile(photo, tmp_path / f"p{i}.jpg")
    return tmp_path


def test_no_progress_bar_when_stderr_is_not_a_terminal(sample_photo, tmp_path, capsys):
    assert main(["check", str(_folder_of(sample_photo, tmp_path)), "--threads", "1"]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and "image/s" not in err and "it/s" not in err


def test_progress_bar_on_a_terminal_keeps_the_results_whole(sample_photo, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["check", str(_folder_of(sample_photo, tmp_path)), "--json", "--threads", "1"]) == 0
    captured = capsys.readouterr()
    assert "0/3 [" in captured.err and "image/s" in captured.err  # tqdm drew the bar (redraws are timed)
    lines = captured.out.splitlines()
    assert len(lines) == 3 and all(json.loads(line)["faces"] for line in lines)
