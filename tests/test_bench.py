"""fakeface bench: statistics, fingerprint, frames, FLOP counting, a tiny real run and the report."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from fakeface.benchmarks.fingerprint import cpu_model, device_fingerprint
from fakeface.benchmarks.flops import model_macs, op_macs, tflite_macs
from fakeface.benchmarks.frames import letterbox, parse_size
from fakeface.benchmarks.runners import TimingPlan, time_calls, whole_passes
from fakeface.benchmarks.stats import achieved_gflops, percentile, summarize
from fakeface.edge.classifier import default_model_path
from fakeface.edge.cli import main as fakeface_main

REPO = Path(__file__).resolve().parents[1]
PNET = REPO / "edge" / "models" / "mtcnn" / "pnet.tflite"
YUNET = REPO.parent / "shared" / "peers" / "yunet.onnx"  # a test-only peer file, never in the repo


# -- statistics ---------------------------------------------------------------------
def test_summarize_known_samples():
    s = summarize([4.0, 1.0, 3.0, 2.0])
    assert (s.runs, s.min_ms, s.max_ms) == (4, 1.0, 4.0)
    assert s.mean_ms == pytest.approx(2.5)
    assert s.p50_ms == pytest.approx(2.5)
    # rank (4-1)*0.9 = 2.7 -> 3 + 0.7*(4-3)
    assert s.p90_ms == pytest.approx(3.7)
    assert s.p99_ms == pytest.approx(3.97)
    assert s.std_ms == pytest.approx(np.std([1, 2, 3, 4], ddof=1))
    assert s.fps == pytest.approx(400.0)


def test_percentile_matches_numpy_linear():
    rng = np.random.default_rng(1)
    x = sorted(rng.exponential(3.0, 101).tolist())
    for q in (0, 1, 50, 90, 99, 100):
        assert percentile(x, q) == pytest.approx(np.percentile(x, q))


def test_summarize_single_and_empty():
    s = summarize([7.0])
    assert s.p99_ms == 7.0 and s.std_ms == 0.0
    with pytest.raises(ValueError):
        summarize([])


def test_achieved_gflops():
    assert achieved_gflops(2_000_000_000, 1000.0) == pytest.approx(2.0)
    assert achieved_gflops(None, 1.0) is None


def test_time_calls_obeys_runs_and_budget():
    calls = []
    samples, _ = time_calls(calls.append, TimingPlan(warmup=3, runs=5))
    assert len(samples) == 5 and len(calls) == 8  # warm-up runs happen but are not samples
    samples, _ = time_calls(lambda i: None, TimingPlan(warmup=0, runs=None, seconds=0.05))
    assert len(samples) >= 1


# -- fingerprint and frames ----------------------------------------------------------
def test_cpu_model_x86_and_raspberry_pi():
    assert cpu_model("processor\t: 0\nmodel name\t: Intel(R) Core(TM) i5\n") == "Intel(R) Core(TM) i5"
    pi = "processor\t: 0\nBogoMIPS\t: 108.00\nCPU part\t: 0xd0b\n\nHardware\t: BCM2835\nModel\t: Raspberry Pi 5 Model B Rev 1.0\n"
    assert cpu_model(pi) == "Raspberry Pi 5 Model B Rev 1.0"
    assert cpu_model("Hardware\t: BCM2835\n") == "BCM2835"


def test_device_fingerprint_fields():
    fp = device_fingerprint("pi5", peak_gflops=38.4)
    assert fp["name"] == "pi5" and fp["peak_gflops"] == 38.4 and fp["cores"] >= 1
    assert {"cpu_model", "architecture", "os", "python", "versions"} <= set(fp)
    assert "numpy" in fp["versions"]


def test_letterbox_keeps_aspect(sample_photo):
    from fakeface.edge.imageio import load_image

    img = load_image(sample_photo)  # 512 x 512
    frame = letterbox(img, (640, 480))
    assert frame.shape == (480, 640, 3) and frame.dtype == np.uint8
    assert (frame[:, :80] == 114).all() and (frame[:, -80:] == 114).all()  # side bars of a square photo
    assert parse_size("1280x720") == (1280, 720)
    with pytest.raises(ValueError):
        parse_size("big")


def test_whole_passes_time_every_frame_equally_often():
    assert whole_passes(TimingPlan(warmup=2, runs=50), 20).runs == 60
    assert whole_passes(TimingPlan(runs=40), 20).runs == 40
    assert whole_passes(TimingPlan(runs=7), 1).runs == 7
    budget = whole_passes(TimingPlan(runs=None, seconds=1.0), 20)
    assert budget.runs is None and budget.seconds == 1.0


@pytest.mark.data
def test_frame_set_is_ten_webcam_people_and_ten_other_photos(faces_dir, tmp_path):
    from fakeface.benchmarks.frames import FRAME_SET_SIZE, WEBCAM_PEOPLE, frame_paths, frame_set_sources
    from fakeface.edge.imageio import load_image

    sources = frame_set_sources(faces_dir)
    webcam = sources[:WEBCAM_PEOPLE]
    assert len(sources) == 20 and len({p.name[5:9] for p in webcam}) == WEBCAM_PEOPLE
    assert all(p.parent.name == "nuaa-webcam" for p in webcam) and not any(p.parent.name == "nuaa-webcam" for p in sources[10:])
    out = tmp_path / "frames"
    assert fakeface_main(["bench", "frames", str(faces_dir), str(out)]) == 0
    paths = frame_paths(out)
    assert [p.name[:2] for p in paths] == [f"{i:02d}" for i in range(1, 21)]
    frames = [load_image(p) for p in paths]
    assert all(f.shape == (FRAME_SET_SIZE[1], FRAME_SET_SIZE[0], 3) for f in frames)
    # The webcam frames are the camera's own pixels (640x480 already: nothing letterboxed).
    np.testing.assert_array_equal(frames[0], load_image(webcam[0]))
    # Again into the same folder: the same 20 files, replaced.
    assert fakeface_main(["bench", "frames", str(faces_dir), str(out)]) == 0
    assert frame_paths(out) == paths


@pytest.mark.data
def test_frame_set_photos_hold_one_to_three_faces(faces_dir, tmp_path):
    from fakeface.benchmarks.frames import write_frame_set
    from fakeface.edge.imageio import load_image
    from fakeface.edge.mtcnn.detector import Detector, DetectorOptions

    paths = write_frame_set(faces_dir, tmp_path)
    with Detector(DetectorOptions(threads=1)) as det:
        counts = [len(det.detect(load_image(p))) for p in paths]
    assert all(1 <= c <= 3 for c in counts[10:]), counts
    assert all(c >= 1 for c in counts[:10]), counts
    assert sum(c >= 2 for c in counts[10:]) >= 4, counts  # scenes with more than one face


def test_frames_options_are_checked(tmp_path, capsys):
    assert fakeface_main(["bench", "frames", str(tmp_path / "no-data"), str(tmp_path / "out")]) == 2
    assert "frames of 0 people" in capsys.readouterr().err
    assert fakeface_main(["bench", "--frames", str(tmp_path), "--no-progress"]) == 2
    assert "holds no image files" in capsys.readouterr().err
    assert fakeface_main(["bench", "--frames", str(tmp_path), "--images", "x.jpg"]) == 2
    assert "not both" in capsys.readouterr().err
    assert fakeface_main(["bench", "targets", "--frames", str(tmp_path / "missing")]) == 2
    assert "not a folder of frames" in capsys.readouterr().err


def test_bench_times_every_frame_of_a_folder(sample_photo, tmp_path):
    """--frames DIR: every image of the folder, each the same number of runs."""
    import cv2

    from fakeface.edge.imageio import load_image

    photo = load_image(sample_photo)
    folder = tmp_path / "frames"
    folder.mkdir()
    for name, image in (("a.png", photo), ("b.png", photo[:, ::-1]), ("c.jpg", photo[64:448])):
        cv2.imwrite(str(folder / name), cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR))
    (folder / "notes.txt").write_text("not a frame")
    out = tmp_path / "r.json"
    assert fakeface_main(["bench", "--frames", str(folder), "--stages", "detect", "--sizes", "320x240", "--threads", "1",
                          "--min-face", "40", "--runs", "4", "--warmup", "1", "--out", str(out), "--no-progress",
                          "--profile"]) == 0
    doc = json.loads(out.read_text())
    assert [Path(p).name for p in doc["settings"]["images"]] == ["a.png", "b.png", "c.jpg"]
    row = next(r for r in doc["results"] if r["stage"] == "detect")
    assert row["stats"]["runs"] == 6 and len(row["faces"]) == 3  # 4 runs rounded up to 2 passes


# -- FLOP counting ---------------------------------------------------------------------
def test_pnet_macs_hand_count():
    # P-Net on one 12x12 cell: conv 3x3x3->10 (10x10 out), pool, conv 3x3x10->16 (3x3),
    # conv 3x3x16->32 (1x1), then 1x1 convs to 4 and 2 outputs.
    hand = 10 * 10 * 10 * 27 + 3 * 3 * 16 * 90 + 32 * 144 + 4 * 32 + 2 * 32
    assert tflite_macs(PNET, (1, 12, 12, 3)) == hand == 44_760
    # The conv cost grows with the frame: a 24x24 input costs more.
    assert tflite_macs(PNET, (1, 24, 24, 3)) > hand


def test_op_macs_rules():
    assert op_macs("CONV_2D", [[1, 8, 8, 3], [4, 3, 3, 3]], [1, 6, 6, 4]) == 6 * 6 * 4 * 27
    assert op_macs("DEPTHWISE_CONV_2D", [[1, 8, 8, 4], [1, 3, 3, 4]], [1, 6, 6, 4]) == 6 * 6 * 4 * 9
    assert op_macs("FULLY_CONNECTED", [[2, 10], [5, 10]], [2, 5]) == 100
    assert op_macs("RELU", [[1, 4]], [1, 4]) == 0


def test_onnx_cost_comes_from_sibling_tflite():
    macs, source = model_macs(PNET.with_suffix(".onnx"), (1, 24, 24, 3))
    assert macs == tflite_macs(PNET, (1, 24, 24, 3)) and "pnet.tflite" in source
    # P-Net takes any size: without one there is no single cost, and it says so.
    macs, source = model_macs(PNET)
    assert macs is None and "input shape" in source


# -- a tiny real run ---------------------------------------------------------------------
def _shipped_models() -> list[Path]:
    return [p for p in (default_model_path("litert"), default_model_path("onnxruntime")) if p.is_file()]


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory) -> Path:
    """A few iterations, one size, one thread; every stage that has a model to run."""
    out = tmp_path_factory.mktemp("bench") / "results" / "edge-test.json"
    tf_before = "tensorflow" in sys.modules
    stages = "decode,detect,classify,e2e" if _shipped_models() else "decode,detect"
    rc = fakeface_main(["bench", "--stages", stages, "--sizes", "320x240", "--threads", "1", "--min-face", "40",
                        "--runs", "3", "--warmup", "1", "--device-name", "edge-test", "--out", str(out),
                        "--no-progress", "--profile"])
    assert rc == 0
    if not tf_before:
        assert "tensorflow" not in sys.modules, "fakeface bench imported TensorFlow without --with-reference"
    return out


def test_tiny_bench_writes_valid_results(tiny_results):
    doc = json.loads(tiny_results.read_text())
    assert doc["schema"] == 1 and doc["device"]["name"] == "edge-test"
    assert doc["device"]["cpu_model"] and doc["device"]["cores"] >= 1
    assert doc["settings"]["sizes"] == ["320x240"] and doc["settings"]["threads"] == [1]
    assert not list(tiny_results.parent.glob("*.partial"))  # written atomically
    stages = {r["stage"] for r in doc["results"]}
    assert {"decode", "detect"} <= stages
    for r in doc["results"]:
        assert r["error"] is None, r
        s = r["stats"]
        assert s["runs"] == 3 and 0 < s["min_ms"] <= s["p50_ms"] <= s["p90_ms"] <= s["p99_ms"] <= s["max_ms"]
        assert s["fps"] == pytest.approx(1000 / s["mean_ms"], rel=1e-3)
        assert r["first_ms"] > 0 and r["peak_rss_mb"] > 0
    detect = [r for r in doc["results"] if r["stage"] == "detect"]
    assert all(r["init_ms"] > 0 and r["flops"] > 0 and r["faces"] == [1] for r in detect)  # the astronaut


def test_profile_splits_a_detection_into_its_parts(tiny_results, capsys):
    from fakeface.benchmarks.stage_profile import profile_lines
    from fakeface.edge.mtcnn.profile import PARTS

    doc = json.loads(tiny_results.read_text())
    detect = [r for r in doc["results"] if r["stage"] == "detect"]
    assert detect and all(r["profile"] for r in detect)
    for r in detect:
        parts = r["profile"]
        assert list(parts) == list(PARTS) + ["total"]
        # One face was found, so every part ran; the parts are the whole detection.
        assert all(parts[p] > 0 for p in PARTS), parts
        assert parts["total"] == pytest.approx(sum(parts[p] for p in PARTS), abs=1e-3)
        assert parts["total"] < 20 * r["stats"]["max_ms"]
        # The astronaut's candidates: some reach R-Net, at least its face reaches O-Net.
        assert r["candidates"]["rnet"]["median"] >= r["candidates"]["onet"]["median"] >= 1
    lines = profile_lines(doc)
    assert len(lines) == 3 + len(detect) and "pnet" in lines[0] and "R-Net in" in lines[0]
    assert lines[2].rstrip().endswith(f"{detect[0]['candidates']['onet']['median']:.0f}")


def test_report_merges_two_devices(tiny_results, tmp_path):
    other = json.loads(tiny_results.read_text())
    other["device"]["name"] = "raspberry-pi-5"
    other["device"]["peak_gflops"] = 38.4
    second = tmp_path / "pi.json"
    second.write_text(json.dumps(other))
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    out = tmp_path / "report"
    assert fakeface_main(["bench", "report", str(tiny_results), str(second), str(bad), "--out", str(out)]) == 0
    md = (out / "report.md").read_text()
    assert "| edge-test |" in md and "| raspberry-pi-5 |" in md
    assert "Face detection, per frame" in md and "| mtcnn tflite |" in md
    header = next(line for line in md.splitlines() if line.startswith("| model | format"))
    assert header.rstrip().endswith("| edge-test | raspberry-pi-5 |")
    if importlib.util.find_spec("matplotlib") is not None:
        pngs = sorted(p.name for p in out.glob("*.png"))
        assert "latency_vs_size.png" in pngs
        assert (out / "latency_vs_size.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_without_matplotlib_names_the_extra(tiny_results, tmp_path, capsys, monkeypatch):
    # An [edge] install has no matplotlib: a None entry makes its import fail as it would there.
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = tmp_path / "report"
    assert fakeface_main(["bench", "report", str(tiny_results), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert 'charts skipped, matplotlib is not installed: needs: pip install "fakeface[bench]"' in err, err
    assert (out / "report.md").is_file() and not list(out.glob("*.png"))


def test_report_with_nothing_readable_fails_cleanly(tmp_path, capsys):
    bad = tmp_path / "x.json"
    bad.write_text("[]")
    assert fakeface_main(["bench", "report", str(bad), "--out", str(tmp_path / "r")]) == 2
    assert "not a fakeface bench results file" in capsys.readouterr().err


@pytest.mark.skipif(not YUNET.is_file(), reason=f"YuNet peer model not found at {YUNET}")
def test_yunet_peer_finds_the_astronaut(sample_photo):
    from fakeface.benchmarks.frames import build_frame_sets, load_photos
    from fakeface.benchmarks.suite import run_jobs
    from fakeface.benchmarks.yunet import yunet_jobs

    photos, sources = load_photos([sample_photo])
    rows = run_jobs(yunet_jobs(str(YUNET), build_frame_sets(photos, sources, [(640, 480)]),
                               TimingPlan(warmup=1, runs=2), [1]), progress=False)
    assert rows[0].error is None and rows[0].faces == [1] and rows[0].stats["runs"] == 2


@pytest.mark.skipif(not YUNET.is_file(), reason=f"YuNet peer model not found at {YUNET}")
@pytest.mark.skipif(not _shipped_models(), reason="no shipped classifier")
def test_targets_against_yunet_are_ratios_from_one_run():
    from fakeface.benchmarks.targets import VS_YUNET_MAX, versus_yunet

    results = versus_yunet(None, str(YUNET), runs=2)
    assert VS_YUNET_MAX == {20: 1.6, 80: 0.35}  # issue 30's goals
    assert [r.name for r in results] == [f"e2e min face {mf} / YuNet" for mf in VS_YUNET_MAX]
    for r in results:
        # Judged, not asserted here: the verdict belongs to `bench targets` on a quiet machine.
        assert r.measured is not None and r.measured > 0 and r.passed in (True, False), r
        assert "vs YuNet" in r.detail and r.unit == "x"
