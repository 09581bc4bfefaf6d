"""Lines a person reads say what happened (issue 29, items 16, 17 and 18)."""

from __future__ import annotations

import json

import cv2
import pytest

from fakeface.edge.cli import main
from fakeface.edge.wording import plural

from test_watch import NeverOpens


@pytest.mark.parametrize("as_json", [False, True])
def test_watch_on_a_camera_that_never_opened_says_no_frame_was_read(as_json, capsys, monkeypatch):
    monkeypatch.setattr(cv2, "VideoCapture", NeverOpens)
    code = main(["watch", "--source", "0", "--retries", "0"] + (["--json"] if as_json else []))
    out = capsys.readouterr().out.strip()
    assert code == 3
    if as_json:
        summary = json.loads(out)
        assert summary["verdict"] is None and summary["frames_read"] == 0
    else:
        assert out.startswith("no verdict: no frame was read from the source")
        assert "unsure" not in out and "0 frames checked" not in out


def test_plural():
    assert [plural(n, "image") for n in (0, 1, 2)] == ["0 images", "1 image", "2 images"]
    assert plural(1, "annotated copy", "annotated copies") == "1 annotated copy"
    assert plural(3, "annotated copy", "annotated copies") == "3 annotated copies"


def test_summary_counts_images_not_missing_paths_or_empty_folders(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code = main(["check", str(tmp_path / "missing.jpg"), str(tmp_path / "empty"), "--threads", "1"])
    err = capsys.readouterr().err
    assert code == 4
    assert "fakeface check: 0 images, 0 faces, 0 judged fake, 2 errors," in err


def test_summary_of_one_image_and_its_annotated_copy(sample_photo, tmp_path, capsys):
    code = main(["check", str(sample_photo), "--annotate", str(tmp_path / "out"), "--threads", "1"])
    captured = capsys.readouterr()
    assert code == 0
    assert f"1 annotated copy written under {tmp_path / 'out'}/" in captured.err
    assert "fakeface check: 1 image, 1 face, 0 judged fake, 0 errors," in captured.err
    assert f"{sample_photo}: 1 face\n" in captured.out


def test_annotate_into_a_regular_file_fails_at_once(sample_photo, tmp_path, capsys, monkeypatch):
    target = tmp_path / "taken.txt"
    target.write_text("not a folder")
    checked = []
    monkeypatch.setattr("fakeface.edge.pipeline.FakeFaceChecker.__init__",
                        lambda *a, **k: checked.append(a) or (_ for _ in ()).throw(AssertionError("model loaded")))
    for annotate in (target, target / "sub"):
        code = main(["check", str(sample_photo), "--annotate", str(annotate)])
        err = capsys.readouterr().err
        assert code == 2 and f"{target} is a file, not a folder" in err
        assert err.count("\n") == 1 and "image" not in err  # one line, before any image
    assert checked == [] and target.read_text() == "not a folder"
