"""`fakeface calibrate`: set a model's decision threshold from a target share of real faces accepted.

Wrongly calling a real person's photo fake is the costlier mistake, so the threshold is
chosen on real faces of the validation split: the lowest one that still accepts the
target share of them, which catches as many fakes as that allows.

A pooled share can hide a population: 95 % of all reals accepted may be 80 % of one source.
``every_real_source`` asks for the target share of each real source folder (with at least
``MIN_SOURCE_FACES`` faces in the split) as well, so no group of people is turned away more
often than the target allows, at the price of the fakes that score between the two thresholds.

Validation reals come from the studios and cameras the model was trained on, and those are
easier than a studio it has never seen: in the leave-one-studio-out folds the held-out people
score far higher than the seen sources' validation people, whose scores sit near 0.  So the
lowest threshold that meets the real target can spend the whole margin on fakes.
``fake_catch`` moves it the other way: the threshold rises as far as still catching that share
of the split's fakes allows (never below the real target's threshold), so the margin the
validation fakes leave goes to the real people the model has not met.

A threshold set from a handful of faces can ruin a model (2 reals and no fake once set the shipped
model's threshold to 1e-45, and 11 of 18 real photos were then judged fake), so a split with fewer
than ``MIN_FACES_PER_CLASS`` real or fake faces is refused, and the model's own sidecar is only
replaced when asked (``write=True``, the command's ``--write``); otherwise the result goes to a
proposed sidecar beside it, ``MODEL.json.calibrated``.  Either way the previous threshold stays
visible: in the summary, and in the new sidecar's ``calibration.previous_threshold``.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from fakeface.edge.contract import save_contract, sidecar_path
from fakeface.edge.errors import FakeFaceError
from fakeface.edge.strict_json import write_json

from .reports.metrics import (least_accepted_source, roc_auc, threshold_for_every_source, threshold_for_fake_catch,
                              threshold_for_real_acceptance)
from .reports.sample_size import MIN_PER_CLASS, shortfall
from .reports.scoring import score_folder

MIN_SOURCE_FACES = 20  # fewer real faces than this in the split cannot set a threshold alone
# The recipe's (and the shipped model's) share of validation reals accepted.
DEFAULT_TARGET = 0.95
# The command refuses a split with fewer real or fake faces than this (reports/sample_size.py).
MIN_FACES_PER_CLASS = MIN_PER_CLASS
PROPOSED_SUFFIX = ".calibrated"


def fake_catch_setter(share: float) -> str:
    """``set_by`` when --fake-catch ``share`` raised the threshold."""
    return f"fake catch {share:g}"


def proposed_sidecar_path(model_path) -> Path:
    """Where a calibration that was not asked to --write goes: ``MODEL.json.calibrated``."""
    path = sidecar_path(model_path)
    return path.with_name(path.name + PROPOSED_SUFFIX)


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
    fake_catch: Optional[float] = None  # the share of fakes the threshold was raised to still catch
    set_by: str = "all reals"  # the real source whose target share set the threshold
    worst_real_source: str = ""
    worst_real_accepted: float = float("nan")
    written: bool = False  # True: the model's sidecar now holds the new threshold
    proposed_sidecar: Optional[str] = None  # not written: where the proposal went (None: nowhere)
    not_written_reason: str = ""

    def to_json(self) -> dict:
        return asdict(self)

    @property
    def raised_by_fake_catch(self) -> bool:
        """Whether ``fake_catch`` moved the threshold above the real target's."""
        return bool(self.fake_catch) and self.set_by == fake_catch_setter(self.fake_catch)

    def _fake_catch_words(self) -> str:
        if not self.fake_catch:
            return ""
        if self.raised_by_fake_catch:
            return f", then raised to still catch {self.fake_catch:g} of fakes"
        return f"; --fake-catch {self.fake_catch:g} left no room above it"

    def summary(self) -> str:
        line = (f"calibrate: threshold {self.previous_threshold:.4g} -> {self.threshold:.6g} on {self.split} "
                f"({self.n_real} real, {self.n_fake} fake): reals accepted {self.reals_accepted:.4f} "
                f"(target {self.target_real_acceptance}{' for every real source' if self.every_real_source else ''}"
                f"{self._fake_catch_words()}, "
                f"set by {self.set_by}; worst source {self.worst_real_source} {self.worst_real_accepted:.4f}), "
                f"fakes caught {self.fakes_caught:.4f}")
        if self.written:
            return f"{line}; written to {self.sidecar} (previous threshold kept as calibration.previous_threshold)"
        where = (f"proposed sidecar written to {self.proposed_sidecar}" if self.proposed_sidecar
                 else f"no proposed sidecar written ({self.not_written_reason})")
        return (f"{line}\ncalibrate: NOT installed: {self.sidecar} still says {self.previous_threshold:.4g}; "
                f"{where}; rerun with --write to install the new threshold")


def calibrate_model(model_path, data_dir, target_real_acceptance: float = DEFAULT_TARGET, cropped: bool = False,
                    split: str = "val", detector: str = "edge", backend: str = "auto",
                    progress: bool = True, every_real_source: bool = False, write: bool = False,
                    min_per_class: int = 1, fake_catch: Optional[float] = None) -> CalibrationResult:
    """Set the threshold from ``split``'s faces.  ``fake_catch``: then raise it as far as still
    catching that share of the split's fakes allows (see the module's docstring).  ``write``:
    into the model's sidecar; otherwise into a proposed sidecar beside it (`proposed_sidecar_path`).
    ``min_per_class``: refuse, with a FakeFaceError, a split with fewer real or fake faces (the
    command uses MIN_FACES_PER_CLASS)."""
    if not 0.0 < target_real_acceptance <= 1.0:
        raise FakeFaceError(f"--target-real-acceptance must be in (0, 1], got {target_real_acceptance}")
    if fake_catch is not None and not 0.0 < fake_catch <= 1.0:
        raise FakeFaceError(f"--fake-catch must be in (0, 1], got {fake_catch}")
    contract, scored = score_folder(model_path, data_dir, split, cropped, detector, backend, progress=progress)
    real = scored.scores[scored.labels == 0]
    fake = scored.scores[scored.labels == 1]
    real_sources = [s for s, label in zip(scored.sources, scored.labels) if label == 0]
    if len(real) == 0:
        raise FakeFaceError(f"{data_dir}: no real faces in split {split} to calibrate on")
    short = shortfall(scored.labels, min_per_class)
    if short:
        raise FakeFaceError(
            f"{data_dir}: split {split} has {short}: too few to set a threshold "
            f"(at {target_real_acceptance} real acceptance it would be the score of one or two faces); "
            f"nothing written, the threshold stays {contract.threshold:.4g}. Calibrate on more photos, "
            f"or on a larger split (--split train or all)")
    if every_real_source:
        t, set_by = threshold_for_every_source(real, real_sources, target_real_acceptance, MIN_SOURCE_FACES)
    else:
        t, set_by = threshold_for_real_acceptance(real, target_real_acceptance), "all reals"
    if fake_catch is not None:
        if len(fake) == 0:
            raise FakeFaceError(f"{data_dir}: --fake-catch needs fake faces, and split {split} has none")
        raised = threshold_for_fake_catch(fake, fake_catch)
        if raised > t:
            t, set_by = raised, fake_catch_setter(fake_catch)
    worst, worst_accepted = least_accepted_source(real, real_sources, t, MIN_SOURCE_FACES)
    previous = contract.threshold
    contract.threshold = t
    reals_accepted = float((real < t).mean())
    fakes_caught = float((fake >= t).mean()) if len(fake) else float("nan")
    contract.calibration = {
        "target_real_acceptance": target_real_acceptance, "reals_accepted": reals_accepted,
        "fakes_caught": fakes_caught, "split": split, "n_real": int(len(real)), "n_fake": int(len(fake)),
        "data": Path(data_dir).name, "date": _dt.date.today().isoformat(),
        "every_real_source": every_real_source, "fake_catch": fake_catch, "set_by": set_by,
        "previous_threshold": previous,
    }
    result = CalibrationResult(model=str(model_path), threshold=t, previous_threshold=previous,
                               target_real_acceptance=target_real_acceptance, reals_accepted=reals_accepted,
                               fakes_caught=fakes_caught, roc_auc=roc_auc(scored.labels, scored.scores),
                               n_real=int(len(real)), n_fake=int(len(fake)), split=split,
                               sidecar=str(sidecar_path(model_path)), every_real_source=every_real_source,
                               fake_catch=fake_catch, set_by=set_by, worst_real_source=worst,
                               worst_real_accepted=worst_accepted)
    # The model file is unchanged, so its sha256 in the sidecar stays valid.
    if write:
        save_contract(model_path, contract)
        result.written = True
        return result
    proposed = proposed_sidecar_path(model_path)
    try:  # a model installed read-only still gets its result printed
        result.proposed_sidecar = str(write_json(proposed, contract.to_dict(), indent=2, sort_keys=True))
    except OSError as exc:
        result.not_written_reason = f"{proposed.parent} is not writable: {exc.strerror or exc}"
    return result
