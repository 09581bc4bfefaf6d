"""The model contract: sidecar round trip, hash check, crop geometry."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from fakeface.edge.contract import (
    ModelContract, crop_face, fake_probabilities, file_sha256, in_model_colour_order, load_contract, save_contract,
    sidecar_path, sigmoid, square_crop_box,
)
from fakeface.edge.errors import ModelError


def test_sidecar_round_trip_and_hash_check(tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(b"pretend model bytes")
    c = ModelContract(input_size=64, crop_margin=0.2, threshold=0.37, sha256=file_sha256(model))
    save_contract(model, c)
    assert sidecar_path(model).name == "m.tflite.json"
    back = load_contract(model)
    assert back == ModelContract.from_dict(c.to_dict())
    assert back.label_for(0.37) == "fake" and back.label_for(0.369) == "real"
    model.write_bytes(b"pretend model bytes, tampered")
    with pytest.raises(ModelError, match="does not match its metadata"):
        load_contract(model)


@pytest.mark.parametrize("bad, match", [
    ({"input_size": "big"}, "input_size"),
    ({"labels": ["a"]}, "two labels"),
    ({"colour": "RGB"}, "unknown metadata keys"),
    ({"color_order": "YUV"}, "color_order"),
    ({"schema": 99}, "newer"),
    ({"crop_mode": "stretch"}, "crop_mode"),
    ({"input_size": 96, "native_max_side": 64}, "native_max_side"),
    ({"output": "logits"}, "output must be one of"),
    ({"output": None}, "output must be one of"),
])
def test_malformed_metadata_is_refused(tmp_path, bad, match):
    model = tmp_path / "m.onnx"
    model.write_bytes(b"x")
    d = ModelContract().to_dict()
    d.update(bad)
    sidecar_path(model).write_text(json.dumps(d))
    with pytest.raises(ModelError, match=match):
        load_contract(model)


def test_missing_model_or_sidecar(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_contract(tmp_path / "nope.tflite")
    (tmp_path / "m.tflite").write_bytes(b"x")
    with pytest.raises(ModelError, match="sidecar"):
        load_contract(tmp_path / "m.tflite")
    sidecar_path(tmp_path / "m.tflite").write_text("{not json")
    with pytest.raises(ModelError, match="unreadable metadata"):
        load_contract(tmp_path / "m.tflite")


def test_crop_is_square_centered_and_padded_by_replication():
    img = np.zeros((100, 200, 3), np.uint8)
    img[:, :100] = (255, 0, 0)  # left half red, right half black
    c = ModelContract(input_size=32, crop_margin=0.0)
    x0, y0, side = square_crop_box((90, 40, 20, 10), 0.0)
    assert (x0, y0, side) == (90, 35, 20)
    crop = crop_face(img, (90, 40, 20, 10), c)
    assert crop.shape == (32, 32, 3)
    assert crop[:, :14, 0].min() == 255 and crop[:, 18:, 0].max() == 0
    # A box hanging off the top-left corner: the missing part repeats the edge pixels.
    corner = crop_face(img, (-10, -10, 20, 20), ModelContract(input_size=20, crop_margin=0.0))
    assert corner.shape == (20, 20, 3) and corner[..., 0].min() == 255
    bgr = crop_face(img, (0, 0, 50, 50), ModelContract(input_size=8, color_order="BGR"))
    assert bgr[..., 2].min() == 255 and bgr[..., 0].max() == 0


def test_crop_rejects_non_rgb_uint8():
    with pytest.raises(ValueError):
        crop_face(np.zeros((10, 10), np.uint8), (0, 0, 5, 5), ModelContract())


def test_native_crop_keeps_the_photos_own_pixels():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (400, 400, 3), dtype=np.uint8)
    c = ModelContract(input_size=32, crop_margin=0.0, crop_mode="native", native_max_side=96)
    # A 64-px square: its centre 32 x 32 window, untouched by any resampling.
    crop = crop_face(img, (100, 120, 64, 64), c)
    assert np.array_equal(crop, img[136:168, 116:148])
    # A 200-px square is first shrunk to 96 (area averaging), then its centre window is cut,
    # so the content is the same region a resize crop would show, at the capped scale.
    big = crop_face(img, (100, 100, 200, 200), c)
    shrunk = cv2.resize(img[100:300, 100:300], (96, 96), interpolation=cv2.INTER_AREA)
    assert np.array_equal(big, shrunk[32:64, 32:64])
    # A square smaller than the input is enlarged, exactly as in resize mode.
    small = crop_face(img, (10, 10, 20, 20), c)
    resized = crop_face(img, (10, 10, 20, 20), ModelContract(input_size=32, crop_margin=0.0))
    assert np.array_equal(small, resized)


def test_native_context_window_is_centred_on_the_crop():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (400, 400, 3), dtype=np.uint8)
    c = ModelContract(input_size=32, crop_margin=0.0, crop_mode="native", native_max_side=96)
    for box in ((100, 120, 64, 64), (100, 100, 200, 200), (50, 60, 41, 41)):
        crop = crop_face(img, box, c)
        wide = crop_face(img, box, c, context=48)
        side = wide.shape[0]
        assert 32 <= side <= 48 and wide.shape == (side, side, 3)
        off = (side - 32) // 2
        assert np.array_equal(wide[off:off + 32, off:off + 32], crop), box
    # same pixel scale: a 64-px square gives its centre 48 px, unscaled
    assert np.array_equal(crop_face(img, (100, 120, 64, 64), c, context=48), img[128:176, 108:156])
    # a square smaller than the input has no wider window: the enlarged crop itself
    assert np.array_equal(crop_face(img, (10, 10, 20, 20), c, context=48), crop_face(img, (10, 10, 20, 20), c))


@pytest.mark.parametrize("output, expected", [
    (np.array([[0.2], [0.9]], np.float32), [0.2, 0.9]),  # one sigmoid unit: P(fake)
    (np.array([[0.8, 0.2], [0.1, 0.9]], np.float32), [0.2, 0.9]),  # softmax: (P(real), P(fake))
    (np.zeros((0, 1), np.float32), []),
])
def test_fake_probability_is_the_last_value_of_each_row(output, expected):
    assert fake_probabilities(output).tolist() == pytest.approx(expected)


def test_sidecar_output_field_logit_is_written_probability_is_the_default(tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(b"x")
    save_contract(model, ModelContract(output="logit", sha256=file_sha256(model)))
    assert json.loads(sidecar_path(model).read_text())["output"] == "logit"
    assert load_contract(model).output == "logit"
    # A probability sidecar is written without the field, as every sidecar before it was:
    # an older fakeface still reads it, and refuses a logit one (unknown key) instead of
    # taking logits for probabilities.
    save_contract(model, ModelContract(sha256=file_sha256(model)))
    assert "output" not in json.loads(sidecar_path(model).read_text())
    assert load_contract(model).output == "probability"


def test_the_shipped_sidecars_say_logit_and_an_old_one_without_the_field_reads_as_probability(tmp_path):
    import shutil

    from fakeface.edge.classifier import default_model_path

    for backend in ("litert", "onnxruntime"):
        path = default_model_path(backend)
        assert json.loads(sidecar_path(path).read_text())["output"] == "logit"
        assert load_contract(path).output == "logit"
        # a sidecar written before the field existed: the same file read as a probability
        old = tmp_path / path.name
        shutil.copyfile(path, old)
        doc = json.loads(sidecar_path(path).read_text())
        del doc["output"]
        sidecar_path(old).write_text(json.dumps(doc))
        assert load_contract(old).output == "probability"


def test_one_line_error_for_a_bad_output_field(tmp_path, capsys):
    from fakeface.edge.cli import main

    model = tmp_path / "m.tflite"
    model.write_bytes(b"x")
    d = ModelContract(sha256=file_sha256(model)).to_dict()
    sidecar_path(model).write_text(json.dumps({**d, "output": "odds"}))
    assert main(["check", str(tmp_path), "--model", str(model)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "output must be one of ['probability', 'logit'], not 'odds'" in err


def test_logit_outputs_become_probabilities_through_a_stable_float64_sigmoid():
    z = np.array([[-1000.0], [-30.0], [-2.0], [0.0], [2.0], [30.0], [1000.0]], np.float32)
    with np.errstate(over="raise", invalid="raise"):  # no overflow warning for any finite logit
        p = fake_probabilities(z, "logit")
    assert p.dtype == np.float64
    expected = [0.0, 9.357622968839299e-14, 0.11920292202211755, 0.5, 0.8807970779778823, 1.0 - 9.357622968839299e-14,
                1.0]
    assert p.tolist() == pytest.approx(expected, rel=1e-12, abs=1e-300)
    assert np.all(np.diff(p) >= 0) and p[1] > 0  # monotone, and tiny probabilities keep their resolution
    assert sigmoid(np.float32(-20.0)) == pytest.approx(2.0611536181902037e-09, rel=1e-12)
    assert fake_probabilities(np.array([[0.3]]), "probability").tolist() == [0.3]  # unchanged
    assert fake_probabilities(np.zeros((0, 1), np.float32), "logit").shape == (0,)
    with pytest.raises(ValueError, match="output kind"):
        fake_probabilities(z, "odds")


def test_bgr_contract_reverses_the_channels_of_a_batch():
    rgb = np.zeros((2, 4, 4, 3), np.uint8)
    rgb[..., 0] = 7
    assert in_model_colour_order(rgb, ModelContract(color_order="BGR"))[..., 2].max() == 7
    assert in_model_colour_order(rgb, ModelContract()) is rgb


@pytest.mark.parametrize("change, words", [
    ({"sha256": None}, "no sha256"),                      # would switch the hash check off
    ({"threshold": "0.5"}, "threshold must be a number"),  # was a traceback
    ({"threshold": 7}, "threshold must be a number"),      # nothing would ever be judged fake
    ({"labels": ["fake", "real"]}, "labels must be"),       # FAKE printed, counted as real
    ({"input_range": [0, 1]}, "input_range must be [0, 255]"),
    ({"crop_margin": -0.5}, "crop_margin must be"),
    ({"sha256": "not-a-hash"}, "64-hex-digit"),
])
def test_a_sidecar_cannot_switch_off_its_checks(tmp_path, capsys, change, words):
    import shutil

    from fakeface.edge.cli import main
    from fakeface.edge.classifier import default_model_path

    shipped = default_model_path("litert")
    model = tmp_path / shipped.name
    shutil.copyfile(shipped, model)
    doc = json.loads(sidecar_path(shipped).read_text())
    doc.update(change)
    sidecar_path(model).write_text(json.dumps(doc))
    with pytest.raises(ModelError, match=re.escape(words)):
        load_contract(model)
    photo = Path(__file__).resolve().parents[1] / "edge" / "assets" / "astronaut.jpg"
    assert main(["check", str(photo), "--model", str(model)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0] and "Traceback" not in err[0]
