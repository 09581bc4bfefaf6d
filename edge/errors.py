"""Exceptions of the edge runtime.  Each carries a one-line, user-facing message."""

from __future__ import annotations

import os
from typing import Optional


class FakeFaceError(Exception):
    """Base class: the message is meant to be printed as-is, without a traceback."""


class OptionsError(FakeFaceError, ValueError):
    """A setting of CheckerOptions (or of its detector) is out of range.

    Also a ValueError, so code written against the plain ValueError it replaces still works."""


class ImageError(FakeFaceError):
    """An input could not be turned into an RGB image (unreadable, corrupt, too large...).

    ``reason`` is the problem alone (``truncated JPEG (no end-of-image marker)``), for
    reports that show the path in a field of its own; ``str()`` is ``path: reason``.
    """

    def __init__(self, reason: str, path: Optional[str | os.PathLike] = None):
        self.reason = reason
        self.path = None if path is None else str(path)
        super().__init__(reason if path is None else f"{path}: {reason}")


class ModelError(FakeFaceError):
    """A model file is missing, damaged, or does not match its metadata."""


class BackendError(FakeFaceError):
    """The requested interpreter is not installed or cannot run this model."""
