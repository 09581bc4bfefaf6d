"""Signals as clean interruptions: SIGTERM behaves like Ctrl-C, and file pairs publish atomically.

Every long command (check, watch, prepare, train, export...) runs under
:func:`sigterm_as_interrupt`, so a scheduler's stop or ``kill`` unwinds the same
``finally`` blocks as Ctrl-C and no temporary file is left behind.
"""

from __future__ import annotations

import contextlib
import signal
from typing import Iterator


_received: list = []  # signals turned into KeyboardInterrupt so far in this process


def interrupt_received() -> bool:
    """Whether a SIGTERM arrived under :func:`sigterm_as_interrupt`.

    Native code (TensorFlow's converters) can swallow the KeyboardInterrupt the handler
    raises and surface a different error instead (SystemError, TypeError); code that turns
    errors into "this step failed, go on" asks here first, so a stop still stops."""
    return bool(_received)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt for the duration of the block (main thread only)."""

    def on_term(signum, frame):
        _received.append(signum)
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM while a model and its sidecar are published as a pair.

    Python-level handlers, not a signal mask: TensorFlow's threads would take a masked
    process signal and Python would still run the handler in the main thread.  A
    signal that arrived meanwhile is raised as KeyboardInterrupt once the pair is written.
    """
    caught: list = []
    previous = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda signum, frame: caught.append(signum))
    except ValueError:  # not the main thread
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if caught:
        raise KeyboardInterrupt
