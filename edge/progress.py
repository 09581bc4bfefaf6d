"""A progress bar on stderr for a long run, shown only to a person at a terminal.

Off when stderr is not a terminal (a log file, a pipe, CI), so files stay free of bar
redraws.  While the bar is on, result lines go through `Progress.print`, which clears the
bar, prints the line and redraws the bar below it, so the two never overlap.
"""

from __future__ import annotations

import sys
from typing import Optional, TextIO


class Progress:
    def __init__(self, total: int, unit: str, enabled: Optional[bool] = None):
        if enabled is None:
            enabled = sys.stderr.isatty()
        self._bar = None
        if enabled and total > 1:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit=unit, file=sys.stderr, leave=False, dynamic_ncols=True)

    @property
    def shown(self) -> bool:
        return self._bar is not None

    def print(self, text: str, file: Optional[TextIO] = None) -> None:
        file = file or sys.stdout
        if self._bar is None:
            print(text, file=file, flush=True)
            return
        self._bar.write(text, file=file)
        file.flush()

    def update(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
