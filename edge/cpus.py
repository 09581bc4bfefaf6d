"""How many CPUs this process may really use: its affinity mask and its cgroup CPU quota.

``os.cpu_count()`` counts the machine's cores.  A process pinned with ``taskset``, or a
container whose cgroup grants 1.5 CPUs of a 64-core host, gets far fewer; interpreter
thread pools sized to ``os.cpu_count()`` then time-share those CPUs, and every extra
thread makes a frame slower, not faster.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Optional

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")


def affinity_cpus() -> int:
    """CPUs in this process's affinity mask (all cores where the OS has no such mask)."""
    if hasattr(os, "sched_getaffinity"):
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except OSError:
            pass
    return max(1, os.cpu_count() or 1)


def _read(path: Path) -> Optional[str]:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _own_cgroups(proc_cgroup: Path) -> dict[str, str]:
    """Controller -> this process's cgroup path, from /proc/self/cgroup ("" = the v2 hierarchy)."""
    out = {}
    for line in (_read(proc_cgroup) or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(","):
                out[controller] = parts[2]
    return out


def _ancestors(mount: Path, own: Optional[str]) -> list[Path]:
    """The process's cgroup folder and every parent up to the mount point.

    Inside a container the recorded path often names the host's hierarchy, which the
    container cannot see; then only the mount point itself (the container's cgroup) is read.
    """
    dirs = [mount]
    if own and own != "/":
        here = mount / own.lstrip("/")
        while here != mount and mount in here.parents:
            dirs.insert(0, here)
            here = here.parent
    return [d for d in dirs if d.is_dir()]


def _v2_quota(folder: Path) -> Optional[float]:
    # cpu.max: "<quota> <period>" in microseconds, or "max <period>" for no limit.
    fields = (_read(folder / "cpu.max") or "").split()
    if len(fields) == 2 and fields[0] != "max":
        try:
            return int(fields[0]) / int(fields[1])
        except (ValueError, ZeroDivisionError):
            return None
    return None


def _v1_quota(folder: Path) -> Optional[float]:
    # cfs_quota_us is -1 when unlimited.
    try:
        quota = int(_read(folder / "cpu.cfs_quota_us") or "-1")
        period = int(_read(folder / "cpu.cfs_period_us") or "0")
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def cgroup_cpu_quota(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> Optional[float]:
    """The tightest CPU quota (in CPUs, may be fractional) on this process's cgroups, or None."""
    own = _own_cgroups(proc_cgroup)
    quotas = []
    if (root / "cgroup.controllers").is_file():  # cgroup v2, mounted at the root
        quotas += [_v2_quota(d) for d in _ancestors(root, own.get(""))]
    else:
        v2 = root / "unified"
        if (v2 / "cgroup.controllers").is_file():  # hybrid: v2 beside the v1 controllers
            quotas += [_v2_quota(d) for d in _ancestors(v2, own.get(""))]
        for name in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
            mount = root / name
            if mount.is_dir():
                quotas += [_v1_quota(d) for d in _ancestors(mount, own.get("cpu"))]
                break
    quotas = [q for q in quotas if q is not None and q > 0]
    return min(quotas) if quotas else None


def usable_cpus() -> int:
    """Threads worth running: the affinity mask, capped by the cgroup quota rounded down
    (at least 1): two busy threads under a 1.5-CPU quota stall a quarter of every period."""
    cpus = affinity_cpus()
    quota = cgroup_cpu_quota()
    if quota is not None:
        cpus = min(cpus, max(1, math.floor(quota)))
    return cpus
