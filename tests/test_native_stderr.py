"""Libraries' native chatter is kept out of the user's stderr; everything else still reaches it."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import os
from fakeface.edge.native_stderr import native_stderr_filtered
from fakeface.export.tflite_export import CONVERTER_CHATTER
with native_stderr_filtered(CONVERTER_CHATTER):
    os.write(2, b"fully_quantize: 0, inference_type: 6, input_inference_type: FLOAT32\\n")
    os.write(2, b"a real converter error\\n")
os.write(2, b"after the block\\n")
"""


def test_converter_chatter_is_dropped_and_real_errors_pass():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "fully_quantize" not in done.stderr
    assert done.stderr.splitlines()[-2:] == ["a real converter error", "after the block"]


def test_watch_on_a_damaged_video_says_one_line_without_ffmpeg_noise(tmp_path):
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"not a video at all")
    done = subprocess.run([sys.executable, "-m", "fakeface.edge.cli", "watch", "--source", str(bad), "--retries", "0"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 3
    assert "moov atom" not in done.stderr and "[mov," not in done.stderr
    assert done.stderr.strip().splitlines() == [f"fakeface watch: error: could not open video source '{bad}' after 1 try"]
