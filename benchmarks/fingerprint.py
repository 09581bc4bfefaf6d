"""Which device a result came from: CPU, cores, OS and the versions of the runtime libraries.

Everything here is read without importing the libraries themselves (importlib.metadata),
so fingerprinting never pulls TensorFlow or an interpreter into the process.
"""

from __future__ import annotations

import os
import platform
import re
import socket
from importlib import metadata
from pathlib import Path
from typing import Optional

# Distributions whose version decides the numbers (tensorflow only matters for --with-reference).
VERSIONED = ("numpy", "opencv-python-headless", "opencv-python", "ai-edge-litert", "tflite-runtime",
             "onnxruntime", "tensorflow-cpu", "tensorflow", "mtcnn", "fakeface")


def cpu_model(cpuinfo: Optional[str] = None) -> str:
    """CPU name from /proc/cpuinfo: 'model name' on x86, 'Model'/'Hardware' on a Raspberry Pi."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            cpuinfo = ""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and value.strip():
            fields.setdefault(key.strip().lower(), value.strip())
    # A Pi's 'Model' names the board ("Raspberry Pi 5 Model B"), which says more than
    # 'Hardware' (the SoC family) or the ARM core's 'CPU part' number.
    for key in ("model name", "model", "hardware", "cpu model", "processor"):
        value = fields.get(key)
        if value and not value.isdigit():
            return value
    return platform.processor() or platform.machine() or "unknown"


def library_versions() -> dict[str, Optional[str]]:
    out: dict[str, Optional[str]] = {}
    for dist in VERSIONED:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def os_name() -> str:
    try:
        text = Path("/etc/os-release").read_text()
        m = re.search(r'^PRETTY_NAME="?([^"\n]+)"?', text, re.M)
        if m:
            return f"{m.group(1)} ({platform.system()} {platform.release()})"
    except OSError:
        pass
    return platform.platform()


def default_device_name() -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", socket.gethostname()).strip("-") or "device"


def device_fingerprint(name: Optional[str] = None, peak_gflops: Optional[float] = None) -> dict:
    """The JSON 'device' block of a results file."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "name": name or default_device_name(),
        "cpu_model": cpu_model(),
        "architecture": platform.machine(),
        "cores": os.cpu_count(),
        "usable_cores": affinity,
        "os": os_name(),
        "python": platform.python_version(),
        "versions": library_versions(),
        # Stated by the user (datasheet or a roofline run); never guessed.
        "peak_gflops": peak_gflops,
    }
