"""The export layer's error: a one-line message the CLI prints without a traceback."""

from fakeface.edge.errors import FakeFaceError


class ExportError(FakeFaceError):
    """Bad export input (missing calibration crops, unknown format, unreadable model...)."""
