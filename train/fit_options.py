"""What a training run is asked to do: :class:`TrainOptions`, filled by ``fakeface train``'s
command line or by a report that trains (leave-one-out), and read by ``fit`` and ``fit_crops``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .data.augment import AugmentOptions
from .models.architectures import DEFAULT_ARCH
from .models.int8_consistency import REMEASURE_EVERY

# Above ~5 the focal loss ignores nearly every face the model gets right even narrowly.
MAX_FOCAL_GAMMA = 5.0


@dataclass
class TrainOptions:
    arch: str = DEFAULT_ARCH
    epochs: Optional[int] = None
    batch_size: Optional[int] = None
    learning_rate: Optional[float] = None
    patience: int = 0
    balance: str = "source"  # loss weights: "class" (real = fake) or "source" (also every source equal)
    augment: bool = True
    strategy: str = "default"
    resume: bool = False
    seed: int = 1
    limit: int = 0  # cap on training crops, for quick trials
    source_weights: dict = field(default_factory=dict)  # {"fake/generated-photos": 0.25}: loss weight factors
    source_shares: dict = field(default_factory=dict)  # {"fake/stylegan1-140k": 0.5}: train on part of a source
    steps_per_epoch: Optional[int] = None  # batches an epoch (None: one pass over the training crops)
    init_from: Optional[str] = None  # start from this .keras model's weights (same arch), e.g. to fine-tune
    int8_stem: bool = False  # with init_from: snap the stem to the int8 grid, freeze it, train the rest
    int8_consistency: float = 0.0  # with init_from: weight of the float/int8-path gap in the loss (0: off)
    int8_remeasure_every: int = REMEASURE_EVERY  # steps between measurements of the int8 ranges (0: once)
    jitter_consistency: float = 0.0  # weight of the gap between a crop and its box-jittered re-cut (0: off)
    freeze_blocks: int = 0  # pretrained archs: keep the stem and this many first blocks at ImageNet weights
    focal_gamma: float = 0.0  # > 0: focal cross-entropy, hard faces of both classes weigh more (0: plain)
    validate_every: int = 1  # score the validation split after every Nth epoch (N = epochs: only the last)
    skip_test: bool = False  # leave the test split unscored (a run that only feeds another)
    verbose: bool = True
    augment_options: AugmentOptions = field(default_factory=AugmentOptions)
