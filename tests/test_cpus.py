"""Default thread count: the CPUs a process may use (affinity mask, cgroup quota), not the host's cores."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from fakeface.edge.cpus import cgroup_cpu_quota, usable_cpus


def fake_cgroup(tmp_path, files: dict[str, str], proc: str):
    for rel, text in files.items():
        path = tmp_path / "sys" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (tmp_path / "proc").write_text(proc)
    return tmp_path / "sys", tmp_path / "proc"


def test_cgroup_v2_quota_of_the_process_and_its_parents(tmp_path):
    root, proc = fake_cgroup(tmp_path, {
        "cgroup.controllers": "cpu memory",
        "cpu.max": "max 100000",
        "app.slice/cpu.max": "250000 100000",
        "app.slice/web/cpu.max": "max 100000",
    }, "0::/app.slice/web\n")
    assert cgroup_cpu_quota(root, proc) == pytest.approx(2.5)


def test_cgroup_v2_without_a_limit(tmp_path):
    root, proc = fake_cgroup(tmp_path, {"cgroup.controllers": "cpu", "cpu.max": "max 100000"}, "0::/\n")
    assert cgroup_cpu_quota(root, proc) is None


def test_cgroup_v1_quota_in_a_container(tmp_path):
    # The recorded path names the host's hierarchy; the container sees its own cgroup at the mount.
    root, proc = fake_cgroup(tmp_path, {
        "cpu,cpuacct/cpu.cfs_quota_us": "150000",
        "cpu,cpuacct/cpu.cfs_period_us": "100000",
    }, "4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n")
    assert cgroup_cpu_quota(root, proc) == pytest.approx(1.5)


def test_cgroup_v1_unlimited_and_unreadable(tmp_path):
    root, proc = fake_cgroup(tmp_path, {"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"},
                             "1:cpu:/\n")
    assert cgroup_cpu_quota(root, proc) is None
    assert cgroup_cpu_quota(tmp_path / "missing", tmp_path / "missing-proc") is None


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this OS")
def test_a_process_pinned_to_one_core_runs_one_thread_by_default():
    code = ("import os; os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]}); "
            "from fakeface.edge.backends import default_threads, open_model; "
            "from fakeface.edge.mtcnn.nets import net_path; "
            "print(default_threads(), open_model(net_path('pnet', 'onnx'), 'onnxruntime').threads)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["1", "1"]


def test_usable_cpus_never_exceeds_the_affinity_mask():
    mask = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert 1 <= usable_cpus() <= mask


def test_explicit_threads_win_over_the_default():
    from fakeface.edge.backends import open_model
    from fakeface.edge.mtcnn.nets import net_path

    with open_model(net_path("rnet", "onnx"), "onnxruntime", threads=3) as runner:
        assert runner.threads == 3
