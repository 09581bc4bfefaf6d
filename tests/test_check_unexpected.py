"""An unexpected error on one image (an interpreter's RuntimeError, an OpenCV error, a bad
crop) is that image's error: the batch goes on and the exit code says 'unreadable' (4), never
'a face was judged fake' (1)."""

from __future__ import annotations

import json

import cv2
import pytest

from fakeface.edge.cli import main


@pytest.mark.parametrize("error", [RuntimeError("tensor arena exhausted"), cv2.error("resize failed"),
                                   ValueError("crop box out of range")])
def test_one_image_failing_unexpectedly_does_not_stop_the_batch(sample_photo, tmp_path, capsys, monkeypatch, error):
    from fakeface.edge import pipeline

    bad = tmp_path / "bad.jpg"
    bad.write_bytes(sample_photo.read_bytes())
    real_check = pipeline.FakeFaceChecker.check

    def check(self, image, _calls=[0]):
        _calls[0] += 1
        if _calls[0] == 1:  # the first image fails inside the pipeline
            raise error
        return real_check(self, image)

    monkeypatch.setattr(pipeline.FakeFaceChecker, "check", check)
    code = main(["check", str(bad), str(sample_photo), "--json", "--threads", "1"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 4
    assert lines[0]["path"] == str(bad) and type(error).__name__ in lines[0]["error"]
    assert lines[1]["error"] is None and len(lines[1]["faces"]) == 1  # the rest of the batch ran
