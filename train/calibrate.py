"""`fakeface calibrate`: set a model's decision threshold from a target share of real faces accepted.

Wrongly calling a real person's photo fake is the costlier mistake, so the threshold is
chosen on real faces of the validation split: the lowest one that still accepts the
target share of them, which catches as many fakes as that allows.

A pooled share can hide a population: 95 % of all reals accepted may be 80 % of one source.
``every_real_source`` asks for the target share of each real source folder (with at least
``MIN_SOURCE_FACES`` faces in the split) as well, so no group of people is turned away more
often than the target allows, at the price of the fakes that score between the two thresholds.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass
from pathlib import Path

from fakeface.edge.contract import save_contract
from fakeface.edge.errors import FakeFaceError

from .reports.metrics import (least_accepted_source, roc_auc, threshold_for_every_source,
                              threshold_for_real_acceptance)
from .reports.scoring import score_folder

MIN_SOURCE_FACES = 20  # fewer real faces than this in the split cannot set a threshold alone


@dataclass
class CalibrationResult:
    model: str
    threshold: float
    previous_threshold: float
    target_real_acceptance: float
    reals_accepted: float
    fakes_caught: float
    roc_auc: float
    n_real: int
    n_fake: int
    split: str
    sidecar: str
    every_real_source: bool = False
    set_by: str = "all reals"  # the real source whose target share set the threshold
    worst_real_source: str = ""
    worst_real_accepted: float = float("nan")

    def to_json(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        return (f"calibrate: threshold {self.previous_threshold:.4g} -> {self.threshold:.6g} on {self.split} "
                f"({self.n_real} real, {self.n_fake} fake): reals accepted {self.reals_accepted:.4f} "
                f"(target {self.target_real_acceptance}{' for every real source' if self.every_real_source else ''}, "
                f"set by {self.set_by}; worst source {self.worst_real_source} {self.worst_real_accepted:.4f}), "
                f"fakes caught {self.fakes_caught:.4f}; written to {self.sidecar}")


def calibrate_model(model_path, data_dir, target_real_acceptance: float = 0.99, cropped: bool = False,
                    split: str = "val", detector: str = "edge", backend: str = "auto",
                    progress: bool = True, every_real_source: bool = False) -> CalibrationResult:
    if not 0.0 < target_real_acceptance <= 1.0:
        raise FakeFaceError(f"--target-real-acceptance must be in (0, 1], got {target_real_acceptance}")
    contract, scored = score_folder(model_path, data_dir, split, cropped, detector, backend, progress=progress)
    real = scored.scores[scored.labels == 0]
    fake = scored.scores[scored.labels == 1]
    real_sources = [s for s, label in zip(scored.sources, scored.labels) if label == 0]
    if len(real) == 0:
        raise FakeFaceError(f"{data_dir}: no real faces in split {split} to calibrate on")
    if every_real_source:
        t, set_by = threshold_for_every_source(real, real_sources, target_real_acceptance, MIN_SOURCE_FACES)
    else:
        t, set_by = threshold_for_real_acceptance(real, target_real_acceptance), "all reals"
    worst, worst_accepted = least_accepted_source(real, real_sources, t, MIN_SOURCE_FACES)
    previous = contract.threshold
    contract.threshold = t
    reals_accepted = float((real < t).mean())
    fakes_caught = float((fake >= t).mean()) if len(fake) else float("nan")
    contract.calibration = {
        "target_real_acceptance": target_real_acceptance, "reals_accepted": reals_accepted,
        "fakes_caught": fakes_caught, "split": split, "n_real": int(len(real)), "n_fake": int(len(fake)),
        "data": Path(data_dir).name, "date": _dt.date.today().isoformat(),
        "every_real_source": every_real_source, "set_by": set_by,
    }
    # The model file is unchanged, so its sha256 in the sidecar stays valid.
    sidecar = save_contract(model_path, contract)
    return CalibrationResult(model=str(model_path), threshold=t, previous_threshold=previous,
                             target_real_acceptance=target_real_acceptance, reals_accepted=reals_accepted,
                             fakes_caught=fakes_caught, roc_auc=roc_auc(scored.labels, scored.scores),
                             n_real=int(len(real)), n_fake=int(len(fake)), split=split, sidecar=str(sidecar),
                             every_real_source=every_real_source, set_by=set_by, worst_real_source=worst,
                             worst_real_accepted=worst_accepted)
