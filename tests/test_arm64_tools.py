"""The arm64 proof's helpers (tests/arm64/): the photo set, the comparison's coverage rule, and
the Debian mirror read from apt's sources.  The proof itself needs root: `make test-arm64`."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ARM64 = Path(__file__).resolve().parent / "arm64"
SAMPLE = Path(__file__).resolve().parents[1] / "edge" / "assets" / "astronaut.jpg"


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"arm64_{name}", ARM64 / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def test_photo_set_has_ten_photos_a_group_and_no_face(tmp_path):
    import cv2

    from fakeface.edge.pipeline import CheckerOptions, FakeFaceChecker

    make_photos = _module("make_photos")
    assert make_photos.main([str(SAMPLE), str(tmp_path)]) == 0
    planned = {name: faces for name, _, _, faces in make_photos.photo_set(cv2.imread(str(SAMPLE)))}
    assert len(planned) >= 10 and sorted(p.name for p in tmp_path.iterdir()) == sorted(planned)
    checker = FakeFaceChecker(CheckerOptions(threads=1))
    for name in ("group-of-4.jpg", "group-of-3-sizes.jpg", "no-face-body.jpg", "no-face-gradient.png"):
        image = cv2.cvtColor(cv2.imread(str(tmp_path / name)), cv2.COLOR_BGR2RGB)
        assert len(checker.check(image)) == planned[name], name


def test_comparison_fails_without_enough_or_varied_photos():
    compare = _module("compare_checks")
    one = {"path": "a.jpg", "faces": [{"box": [0, 0, 10, 10]}], "error": None}
    group = {"path": "g.jpg", "faces": [{"box": [0, 0, 10, 10]}, {"box": [20, 0, 10, 10]}], "error": None}
    empty = {"path": "e.jpg", "faces": [], "error": None}
    broken = {"path": "b.jpg", "faces": [], "error": "truncated JPEG"}
    assert compare.coverage_failures([one, group, empty] * 4, 10, varied=True) == []
    assert "fewer than --min-images 10" in compare.coverage_failures([one, group, empty], 10, varied=True)[0]
    lacking = compare.coverage_failures([one] * 9 + [broken], 10, varied=True)
    assert len(lacking) == 2 and "several faces" in lacking[0] and "without a face" in lacking[1]
    assert compare.coverage_failures([one] * 10, 10, varied=False) == []


def _mirror_of(apt_dir: Path) -> str:
    """run_arm64.sh's host_debian_mirror, reading ``apt_dir`` instead of /etc/apt."""
    script = (ARM64 / "run_arm64.sh").read_text()
    function = re.search(r"^host_debian_mirror\(\) \{\n.*?^\}\n", script, re.S | re.M).group(0)
    assert "/etc/apt/sources.list " in function
    code = function.replace("/etc/apt/", f"{apt_dir}/") + "host_debian_mirror\n"
    return subprocess.run(["bash", "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout.strip()


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("awk") is None, reason="needs bash and awk")
def test_mirror_comes_from_the_apt_sources(tmp_path):
    apt = tmp_path / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    assert _mirror_of(apt) == ""  # no sources: run_arm64.sh asks for ARM64_MIRROR
    (apt / "sources.list.d" / "other.list.disabled").write_text("deb http://ignored/debian bookworm main\n")
    (apt / "sources.list").write_text("deb http://security.example/debian-security bookworm-security main\n"
                                      "deb http://archive.example/ubuntu noble main\n")
    assert _mirror_of(apt) == ""  # security and non-Debian suites do not count
    (apt / "sources.list.d" / "local.list").write_text(
        "# deb http://commented/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://cache.lan:3142/debian bookworm main\n")
    assert _mirror_of(apt) == "http://cache.lan:3142/debian"
    (apt / "sources.list.d" / "local.list").unlink()
    (apt / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nEnabled: no\n\n"
        "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n\n"
        "URIs: mirror+file:/etc/apt/mirrors.txt http://mirror.example/debian\n"
        "Suites: trixie trixie-updates\nTypes: deb deb-src\nSigned-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n")
    assert _mirror_of(apt) == "http://mirror.example/debian"
