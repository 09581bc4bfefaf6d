"""C-level stderr that libraries write past Python (TensorFlow's banners, the TFLite
converter's ``fully_quantize: 0, inference_type: 6`` lines): caught at the file descriptor
and replayed without the lines known to be chatter, so a user's output keeps real warnings
and errors but not the libraries' noise."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from typing import Iterable


@contextlib.contextmanager
def native_stderr_filtered(chatter: Iterable[str]):
    """Within the block, file descriptor 2 goes to a temporary file; afterwards every line
    that contains none of the ``chatter`` marks is written to stderr."""
    marks = tuple(chatter)
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, ValueError, OSError):  # no real stderr (pytest capture, a GUI)
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), fd)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode("utf-8", "replace").splitlines():
                if line.strip() and not any(mark in line for mark in marks):
                    print(line, file=sys.stderr)
