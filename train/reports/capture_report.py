"""``fakeface generalise capture``: the report half.  Slices of a :class:`~.capture.Measurement`
(per source: each variant, then each person group as it is), the flag rule, Markdown and JSON.

A slice is FLAGGED when its acceptance is below :data:`FLOOR` (0.93), or more than
:data:`MAX_DROP` (0.05) under its source's own as-is acceptance.  For generated faces
(``--fakes``) acceptance is the share that passes as real, and the rule mirrors: flagged
above 1 - FLOOR (0.07), or more than MAX_DROP over the as-is share: an evasion.  A slice of
fewer than :data:`MIN_FACES` faces is shown but marked too small to flag.  Sources whose file names
number the person are counted by person (mean over persons of each person's acceptance).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np

from fakeface.edge.strict_json import dumps, json_safe

from .capture import Measurement
from .capture_groups import acceptance_by_group, counts_by_person, group_interval
from .capture_variants import AS_IS, VARIANTS
from .metrics import format_interval

FLOOR = 0.93
MAX_DROP = 0.05
MIN_FACES = 10
GROUP_ORDER = ("sex", "race", "sex x race", "age", "person")


@dataclass(frozen=True)
class Rules:
    floor: float = FLOOR
    max_drop: float = MAX_DROP
    min_faces: int = MIN_FACES


def flag_slice(acceptance: Optional[float], reference: Optional[float], faces: int,
               rules: Rules = Rules(), fakes: bool = False) -> tuple[bool, list]:
    """(too small to flag, reasons it is flagged).  ``reference``: the source's as-is
    acceptance (None for the as-is slice itself).  ``fakes``: the photos are generated, so
    acceptance is what must stay low."""
    if faces < rules.min_faces or acceptance is None:
        return True, []
    reasons = []
    if fakes:
        ceiling = 1.0 - rules.floor
        if acceptance > ceiling + 1e-9:
            reasons.append(f"above {ceiling:.2g} passed as real")
        if reference is not None and acceptance - reference > rules.max_drop + 1e-9:
            reasons.append(f"{acceptance - reference:.3f} over as-is")
        return False, reasons
    if acceptance < rules.floor:
        reasons.append(f"below {rules.floor:g}")
    if reference is not None and reference - acceptance > rules.max_drop + 1e-9:
        reasons.append(f"{reference - acceptance:.3f} under as-is")
    return False, reasons


@dataclass
class Slice:
    kind: str  # "variant" or "group"
    axis: str
    name: str
    description: str
    photos: int  # photos with a face as they are, in this slice
    faces: int  # of them, faces found in this variant
    no_face: int  # photos whose face this variant lost
    units: int  # what the acceptance counts: persons, or faces
    acceptance: Optional[float]
    interval: tuple
    change: Optional[float]  # acceptance - the source's as-is acceptance
    median_face_px: Optional[float]  # the found faces' median shorter box side
    too_small: bool
    flags: list


@dataclass
class SourceReport:
    source: str
    counted_by: str  # "person" or "photo"
    photos: int  # photos tried
    unreadable: list  # [[key, reason], ...]
    no_face_as_is: int
    as_is_acceptance: Optional[float]
    slices: list
    groups: list


def _slice(kind, axis, name, description, results: list, variant: str, threshold: float,
           reference: Optional[float], rules: Rules, fakes: bool = False) -> Slice:
    found = [r for r in results if r.scores[variant] is not None]
    acc, units = acceptance_by_group([r.scores[variant] < threshold for r in found], [r.key for r in found])
    too_small, flags = flag_slice(acc, reference, len(found), rules, fakes)
    sides = [r.sides[variant] for r in found]
    return Slice(kind=kind, axis=axis, name=name, description=description, photos=len(results), faces=len(found),
                 no_face=len(results) - len(found), units=units, acceptance=acc, interval=group_interval(acc, units),
                 change=None if acc is None or reference is None else acc - reference,
                 median_face_px=float(np.median(sides)) if sides else None, too_small=too_small, flags=flags)


def group_values(results: list) -> list:
    """(dimension, value) of every person group the file names state, in table order."""
    seen = {(d, v) for r in results for d, v in r.groups.items()}
    return sorted(seen, key=lambda dv: (GROUP_ORDER.index(dv[0]) if dv[0] in GROUP_ORDER else 99, dv[1]))


def source_report(source: str, results: list, m: Measurement, rules: Rules = Rules()) -> SourceReport:
    t, fakes = m.threshold, m.photos_are == "fake"
    as_is = _slice("variant", "as-is", AS_IS, VARIANTS[0].description, results, AS_IS, t, None, rules, fakes)
    slices = [as_is] + [_slice("variant", v.axis, v.name, v.description, results, v.name, t, as_is.acceptance, rules,
                               fakes) for v in VARIANTS if v.name != AS_IS]
    groups = [_slice("group", dim, f"{dim}: {value}", "as it is", [r for r in results if r.groups.get(dim) == value],
                     AS_IS, t, as_is.acceptance, rules, fakes) for dim, value in group_values(results)]
    return SourceReport(source=source, counted_by="person" if counts_by_person([r.key for r in results]) else "photo",
                        photos=m.photo_counts[source], unreadable=m.unreadable[source],
                        no_face_as_is=m.no_face[source], as_is_acceptance=as_is.acceptance, slices=slices,
                        groups=groups)


@dataclass
class CaptureReport:
    model: str
    photos: str
    split: str
    threshold: float
    rules: Rules
    sources: list
    empty_sources: list = field(default_factory=list)
    seconds: float = 0.0
    photos_are: str = "real"  # "fake" (--fakes): acceptance is the share of generated faces passed as real

    def flagged(self) -> list:
        """[{"source", "slice", "acceptance", "reasons"}] for every flagged slice."""
        return [{"source": s.source, "slice": c.name, "acceptance": c.acceptance, "reasons": c.flags}
                for s in self.sources for c in s.slices + s.groups if c.flags]

    @property
    def exit_code(self) -> int:
        return 1 if self.flagged() else 0

    def to_json(self) -> dict:
        out = json_safe(asdict(self))
        out["flagged"] = json_safe(self.flagged())
        out["exit_code"] = self.exit_code
        return out

    def to_json_text(self) -> str:
        """Strict JSON: no NaN or Infinity anywhere (they are null)."""
        return dumps(self.to_json(), indent=2)

    def to_markdown(self) -> str:
        r = self.rules
        if self.photos_are == "fake":
            rule = (f"These are GENERATED faces: a slice is **flagged** when more than {1 - r.floor:.2g} of them pass "
                    f"as real, or {r.max_drop:g} more than as they are: taking the photo that way evades the check")
        else:
            rule = (f"A slice is **flagged** when its acceptance is below {r.floor:g}, or more than {r.max_drop:g} "
                    "under its source's own as-is acceptance")
        out = [f"# Capture report: {self.model} on {self.photos} ({self.photos_are} photos, split {self.split})", "",
               f"Threshold {self.threshold:.4g}: a face is accepted as real when its p(fake) is below it.  "
               f"{rule}; a slice of fewer than {r.min_faces} faces is shown but too "
               "small to flag.  \"no face\": photos whose face, found as they are, was not found in that variant; "
               "they are left out of the acceptance, not counted as accepted.",
               "",
               "Sources whose file names number the person are **counted by person**: acceptance is the mean over "
               "persons of each person's share of accepted frames (a person filmed 40 times counts once), and its "
               "95 % interval (Wilson) counts one observation per person.  Elsewhere it counts faces.", ""]
        for s in self.sources:
            out += _source_markdown(s, self.photos_are)
        if self.empty_sources:
            out += [f"No photos in split {self.split}: {', '.join(self.empty_sources)}.", ""]
        flagged = self.flagged()
        out.append(f"**{len(flagged)} slice(s) flagged**" + (":" if flagged else " (exit code 0)."))
        out += [f"- {f['source']} / {f['slice']}: {f['acceptance']:.3f} ({'; '.join(f['reasons'])})" for f in flagged]
        if flagged:
            out.append("\nExit code 1.")
        return "\n".join(out)


def _counted(c: Slice, by_person: bool) -> str:
    noun = "person" if by_person else "face"
    return f"{c.units} {noun}{'' if c.units == 1 else 's'}"


def _flag_cell(c: Slice) -> str:
    if c.flags:
        return "**FLAG**: " + "; ".join(c.flags)
    return "too small to flag" if c.too_small else ""


def _table(rows: list, by_person: bool, photos_are: str = "real") -> list:
    rate = "passed as real" if photos_are == "fake" else "accepted"
    out = [f"| slice | what | faces | no face | counted | {rate} [95 %] | vs as-is | face px | flag |",
           "|---|---|---|---|---|---|---|---|---|"]
    for c in rows:
        change = "" if c.change is None else f"{c.change:+.3f}"
        px = "" if c.median_face_px is None else f"{c.median_face_px:.0f}"
        out.append(f"| {c.name} | {c.description} | {c.faces} | {c.no_face} | {_counted(c, by_person)} | "
                   f"{format_interval(c.acceptance, c.interval)} | {change} | {px} | {_flag_cell(c)} |")
    return out


def _source_markdown(s: SourceReport, photos_are: str = "real") -> list:
    by_person = s.counted_by == "person"
    unreadable = len(s.unreadable)
    head = (f"## {s.source}: {s.photos} photo(s), counted by {s.counted_by}; {s.no_face_as_is} without a face "
            f"as they are, {unreadable} unreadable")
    out = [head, "", *_table(s.slices, by_person, photos_are), ""]
    if s.groups:
        out += ["Person groups from the file names, as they are:", "", *_table(s.groups, by_person, photos_are), ""]
    return out


def capture_report(m: Measurement, rules: Rules = Rules()) -> CaptureReport:
    sources = [source_report(source, results, m, rules) for source, results in m.results.items()]
    return CaptureReport(model=m.model, photos=m.photos, split=m.split, threshold=m.threshold, rules=rules,
                         sources=sources, empty_sources=m.empty_sources, seconds=round(m.seconds, 1),
                         photos_are=m.photos_are)


__all__ = ["CaptureReport", "Rules", "Slice", "SourceReport", "capture_report", "flag_slice"]
