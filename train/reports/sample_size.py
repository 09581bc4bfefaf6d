"""How many faces of each class a number needs before it means anything.

One rule for the commands that set or check a model from a handful of faces:

- ``calibrate`` refuses below `MIN_PER_CLASS` real or fake faces: the threshold at 95 % real
  acceptance is the 5th percentile of the real scores, and with fewer than 20 reals that is
  simply the lowest one; "fakes caught" needs fakes to count.
- ``train`` warns when its validation split is below `MIN_PER_CLASS` of a class (validation AUC
  is then undefined, with one class, or noise).
- ``export``'s parity gate fails below `MIN_PER_CLASS` evaluation crops of a class, and warns
  below `GATE_WARN_PER_CLASS`: the gate's 99.5 % label agreement is one crop in 200.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

MIN_PER_CLASS = 20
GATE_WARN_PER_CLASS = 100


def class_counts(labels: Sequence[int]) -> tuple[int, int]:
    """(real, fake) counts of 0/1 labels."""
    y = np.asarray(labels).astype(int)
    return int((y == 0).sum()), int((y == 1).sum())


def shortfall(labels: Sequence[int], minimum: int, noun: str = "faces") -> Optional[str]:
    """None when both classes have ``minimum`` or more, else what there is against what is needed."""
    n_real, n_fake = class_counts(labels)
    if min(n_real, n_fake) >= minimum:
        return None
    return f"{n_real} real and {n_fake} fake {noun}, fewer than {minimum} of each"
