"""Exceptions of the edge runtime.  Each carries a one-line, user-facing message."""


class FakeFaceError(Exception):
    """Base class: the message is meant to be printed as-is, without a traceback."""


class ImageError(FakeFaceError):
    """An input could not be turned into an RGB image (unreadable, corrupt, too large...)."""


class ModelError(FakeFaceError):
    """A model file is missing, damaged, or does not match its metadata."""


class BackendError(FakeFaceError):
    """The requested interpreter is not installed or cannot run this model."""
