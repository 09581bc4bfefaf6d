"""`fakeface calibrate`: set a model's decision threshold from a target share of real faces accepted.

Wrongly calling a real person's photo fake is the costlier mistake, so the threshold is
chosen on real faces of the validation split: the lowest one that still accepts the
target share of them, which catches as many fakes as that allows.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass
from pathlib import Path

from fakeface.edge.contract import save_contract
from fakeface.edge.errors import FakeFaceError

from .reports.metrics import roc_auc, threshold_for_real_acceptance
from .reports.scoring import score_folder


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

    def to_json(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        return (f"calibrate: threshold {self.previous_threshold:.4g} -> {self.threshold:.6g} on {self.split} "
                f"({self.n_real} real, {self.n_fake} fake): reals accepted {self.reals_accepted:.4f} "
                f"(target {self.target_real_acceptance}), fakes caught {self.fakes_caught:.4f}; "
                f"written to {self.sidecar}")


def calibrate_model(model_path, data_dir, target_real_acceptance: float = 0.99, cropped: bool = False,
                    split: str = "val", detector: str = "edge", backend: str = "auto",
                    progress: bool = True) -> CalibrationResult:
    if not 0.0 < target_real_acceptance <= 1.0:
        raise FakeFaceError(f"--target-real-acceptance must be in (0, 1], got {target_real_acceptance}")
    contract, scored = score_folder(model_path, data_dir, split, cropped, detector, backend, progress=progress)
    real = scored.scores[scored.labels == 0]
    fake = scored.scores[scored.labels == 1]
    if len(real) == 0:
        raise FakeFaceError(f"{data_dir}: no real faces in split {split} to calibrate on")
    t = threshold_for_real_acceptance(real, target_real_acceptance)
    previous = contract.threshold
    contract.threshold = t
    reals_accepted = float((real < t).mean())
    fakes_caught = float((fake >= t).mean()) if len(fake) else float("nan")
    contract.calibration = {
        "target_real_acceptance": target_real_acceptance, "reals_accepted": reals_accepted,
        "fakes_caught": fakes_caught, "split": split, "n_real": int(len(real)), "n_fake": int(len(fake)),
        "data": Path(data_dir).name, "date": _dt.date.today().isoformat(),
    }
    # The model file is unchanged, so its sha256 in the sidecar stays valid.
    sidecar = save_contract(model_path, contract)
    return CalibrationResult(model=str(model_path), threshold=t, previous_threshold=previous,
                             target_real_acceptance=target_real_acceptance, reals_accepted=reals_accepted,
                             fakes_caught=fakes_caught, roc_auc=roc_auc(scored.labels, scored.scores),
                             n_real=int(len(real)), n_fake=int(len(fake)), split=split, sidecar=str(sidecar))
