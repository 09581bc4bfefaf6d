"""``--verify``: compare a port's dumps with the kit's golden vectors, stage by stage.

The candidate folder mirrors ``golden/``: ``DIR/<photo>/<stage file>``.  Stages are
compared in pipeline order; the report names the first stage (earliest in the pipeline,
then the first photo) that leaves its tolerance, and by how much.  For the logit and p(fake)
the port dumps the files of the model variant it runs (``logit.tflite-int8.npy``,
``p_fake.tflite-int8.npy``, ...).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..errors import ExportError
from .compare import StageDiff, compare
from .files import load_array, load_json
from .golden import GOLDEN_DIR, INDEX_NAME
from .stages import STAGES, STAGES_BY_KEY, stage_index


@dataclass(frozen=True)
class StageCheck:
    photo: str
    stage: str
    file: str
    diff: Optional[StageDiff]  # None: the candidate did not dump this stage (--partial)


@dataclass
class VerifyReport:
    checks: list = field(default_factory=list)

    @property
    def failures(self) -> list:
        return [c for c in self.checks if c.diff is not None and not c.diff.ok]

    @property
    def first_divergence(self) -> Optional[StageCheck]:
        failed = self.failures
        return min(failed, key=lambda c: stage_index(c.stage)) if failed else None

    @property
    def passed(self) -> bool:
        return not self.failures and any(c.diff is not None for c in self.checks)

    def lines(self) -> list[str]:
        out = []
        for c in self.checks:
            status = "skipped (not dumped)" if c.diff is None else ("ok  " if c.diff.ok else "DIVERGES")
            detail = "" if c.diff is None else f"  {c.diff.detail}"
            out.append(f"{c.photo:<11} {c.file:<28} {status}{detail}")
        first = self.first_divergence
        if first:
            title = STAGES_BY_KEY[first.stage].title
            out.append(f"first divergence: stage {first.stage} ({title}) on {first.photo}: {first.diff.detail}")
        elif self.passed:
            out.append(f"all {sum(c.diff is not None for c in self.checks)} stage file(s) within tolerance")
        return out


def _candidate_files(stage_row: dict, folder: Path) -> list[str]:
    """The files of a stage the candidate has; for p(fake) any of the variants."""
    present = [name for name in stage_row["files"] if (folder / name).is_file()]
    return present if STAGES_BY_KEY[stage_row["key"]].per_format else stage_row["files"]


def _check_inputs(kit: Path, candidate: Path) -> dict:
    if not kit.is_dir():
        raise ExportError(f"{kit}: kit folder not found")
    index = load_json(kit / GOLDEN_DIR / INDEX_NAME) if (kit / GOLDEN_DIR / INDEX_NAME).is_file() else None
    if index is None:
        raise ExportError(f"{kit}: not a port kit (no {GOLDEN_DIR}/{INDEX_NAME}); build one with 'fakeface export kit'")
    if not candidate.is_dir():
        raise ExportError(f"{candidate}: candidate folder not found")
    return index


def _missing(index: dict, candidate: Path) -> list[str]:
    missing = []
    for photo in index["photos"]:
        folder = candidate / photo["name"]
        for row in index["stages"]:
            files = _candidate_files(row, folder)
            if not files:
                missing.append(f"{photo['name']}/{row['files'][0].split('.')[0]}.<format>.npy")
            missing += [f"{photo['name']}/{f}" for f in files if not (folder / f).is_file()]
    return missing


def verify(kit: Path, candidate: Path, partial: bool = False) -> VerifyReport:
    """Compare ``candidate`` with the golden vectors of ``kit``.  Missing files are an error
    unless ``partial``, which skips stages the port did not dump."""
    kit, candidate = Path(kit), Path(candidate)
    index = _check_inputs(kit, candidate)
    missing = _missing(index, candidate)
    if missing and not partial:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise ExportError(f"{candidate}: missing {', '.join(missing[:3])}{more} (dump every stage, or use --partial)")
    report = VerifyReport()
    order = {s.key: i for i, s in enumerate(STAGES)}
    rows = sorted(index["stages"], key=lambda r: order.get(r["key"], len(order)))
    for row in rows:
        stage = STAGES_BY_KEY.get(row["key"])
        if stage is None:
            raise ExportError(f"{kit}: golden index names an unknown stage {row['key']!r} (newer fakeface?)")
        # The kit's stated tolerance is the contract, even if this fakeface's has moved on.
        stage = dataclasses.replace(stage, tolerance=row.get("tolerance", stage.tolerance))
        for photo in index["photos"]:
            folder = candidate / photo["name"]
            for name in _candidate_files(row, folder):
                golden = load_array(kit / GOLDEN_DIR / photo["name"] / name)
                path = folder / name
                diff = compare(stage, golden, load_array(path)) if path.is_file() else None
                report.checks.append(StageCheck(photo["name"], stage.key, name, diff))
    return report
