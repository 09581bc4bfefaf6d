"""Wall time per part of one detection, so the next bottleneck shows on any device.

The cascade calls ``clock.lap(part)`` after each part; the default clock does nothing,
so an unprofiled detection pays one no-op call per part and nothing else.
"""

from __future__ import annotations

import time

# Parts in cascade order (``fakeface bench --profile`` prints them in this order).
PARTS = ("pyramid", "pnet", "pnet post", "rnet crop", "rnet", "rnet post", "onet crop", "onet", "onet post")


class NoClock:
    def start(self) -> None:
        pass

    def lap(self, part: str) -> None:
        pass

    def count(self, what: str, n: int) -> None:
        pass


class StageClock(NoClock):
    """Milliseconds per part, summed over every detection timed with it."""

    def __init__(self):
        self.ms = dict.fromkeys(PARTS, 0.0)
        self.detections = 0
        # Candidates per detection that reached each net ("rnet", "onet"), in call order.
        self.counts: dict[str, list[int]] = {}
        self._t = time.perf_counter()

    def start(self) -> None:
        self.detections += 1
        self._t = time.perf_counter()

    def lap(self, part: str) -> None:
        now = time.perf_counter()
        self.ms[part] = self.ms.get(part, 0.0) + (now - self._t) * 1e3
        self._t = now

    def count(self, what: str, n: int) -> None:
        self.counts.setdefault(what, []).append(int(n))

    def per_detection(self) -> dict[str, float]:
        """Mean milliseconds of each part per detection."""
        n = max(self.detections, 1)
        return {part: ms / n for part, ms in self.ms.items()}
