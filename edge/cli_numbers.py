"""Numeric command-line options, checked while the arguments are parsed.

Every numeric option of every ``fakeface`` command uses one of these as its argparse
``type=``, so a bad value ends in argparse's one-line error and exit code 2 before any
model is loaded, instead of a traceback (or a silently accepted ``--max-pixels -1``)
later on.
"""

from __future__ import annotations

import argparse
import math
from typing import Optional


class NumberOption:
    """An argparse ``type=``: parse ``kind`` (int or float) and check its range.

    ``low`` is inclusive unless ``low_open``; ``high`` is always inclusive.
    """

    def __init__(self, kind: type, low: Optional[float] = None, high: Optional[float] = None,
                 low_open: bool = False):
        self.kind = kind
        self.low = low
        self.high = high
        self.low_open = low_open
        # argparse names the type in some messages; make it read like the rule.
        self.__name__ = self.describe()

    def describe(self) -> str:
        noun = "an integer" if self.kind is int else "a number"
        if self.low is not None and self.high is not None:
            bracket = "(" if self.low_open else "["
            return f"{noun} in {bracket}{self.low:g}, {self.high:g}]"
        if self.low is not None:
            return f"{noun} {'above' if self.low_open else 'of at least'} {self.low:g}"
        return noun

    def accepts(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or value <= self.high

    def __call__(self, text: str):
        try:
            value = self.kind(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"expected {self.describe()}, not {text!r}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected {self.describe()}, not {text!r}")
        if not self.accepts(value):
            raise argparse.ArgumentTypeError(f"must be {self.describe()}, not {text}")
        return value

    def __repr__(self) -> str:
        return f"NumberOption({self.describe()})"


# The kinds of number the commands take.  Name an option's type after what 0 means for it.
positive_int = NumberOption(int, low=1)  # counts and sizes where 0 makes no sense
count_or_zero = NumberOption(int, low=0)  # 0 has a documented meaning (off, all, auto)
positive_float = NumberOption(float, low=0.0, low_open=True)
non_negative_float = NumberOption(float, low=0.0)
probability = NumberOption(float, low=0.0, high=1.0)
share_above_zero = NumberOption(float, low=0.0, high=1.0, low_open=True)
percent = NumberOption(float, low=0.0, high=100.0)  # a share or a gap in percentage points
# Face sizes in pixels: P-Net's 12-px window (edge/mtcnn/pyramid.CELL_SIZE; a test keeps
# them equal) is the smallest face found without enlarging the whole photo.  Not imported,
# to keep registration free of OpenCV.
face_pixels = NumberOption(int, low=12)
# The detector's working copy (edge/checker_options.SMALLEST_WORKING_PIXELS, kept equal by a test).
working_pixels = NumberOption(int, low=120_000)
