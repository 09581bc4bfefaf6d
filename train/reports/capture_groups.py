"""Who a photo shows, read from its file name, and acceptance counted once per person.

UTKFace names carry age, sex and race (``age_sex_race_date.jpg.chip.jpg``: sex 0 male,
1 female; race 0 White, 1 Black, 2 Asian, 3 Indian, 4 Others), the 3DSK and Canada studio
names the sex (``3dsk_female_name.jpg``, ``canada_019f.jpg``), and the camera and studio
sets number the person
(:func:`fakeface.train.data.layout.person_of`).  A person filmed 40 times must count once,
not 40 times: :func:`acceptance_by_group` averages each person's own acceptance.
"""

from __future__ import annotations

import re
from typing import Optional, Sequence

from ..data.layout import group_of, person_of
from .metrics import rate_by_group, rate_interval

_UTKFACE = re.compile(r"^(\d{1,3})_([01])_([0-4])_\d+")
_3DSK = re.compile(r"^3dsk_(female|male)_", re.IGNORECASE)
_CANADA = re.compile(r"^canada_\d+([fm])\.", re.IGNORECASE)  # the stimulus set's f/m suffix
SEXES = ("male", "female")
RACES = ("White", "Black", "Asian", "Indian", "Others")
AGE_BANDS = ((0, 17, "0-17"), (18, 39, "18-39"), (40, 59, "40-59"), (60, 200, "60+"))


def _age_band(age: int) -> str:
    return next(label for low, high, label in AGE_BANDS if low <= age <= high)


def name_groups(key: str) -> dict:
    """The person groups a file name states, e.g. ``{"sex": "female", "race": "Asian",
    "age": "18-39"}`` for UTKFace, ``{"person": "nuaa_0007"}`` for a numbered person
    (``{"sex": "female", "person": "canada_019"}`` for both), or ``{}``.  ``key`` is the
    photo's path relative to the data folder (as in ``split_of``)."""
    name = key.rpartition("/")[2]
    m = _UTKFACE.match(name)
    if m:
        sex, race = SEXES[int(m.group(2))], RACES[int(m.group(3))]
        return {"sex": sex, "race": race, "sex x race": f"{sex} {race}", "age": _age_band(int(m.group(1)))}
    groups = {}
    m = _3DSK.match(name)
    if m:
        groups["sex"] = m.group(1).lower()
    m = _CANADA.match(name)
    if m:
        groups["sex"] = "female" if m.group(1).lower() == "f" else "male"
    person = person_of(key)
    if person:
        groups["person"] = person.rpartition("/")[2]
    return groups


def counts_by_person(keys: Sequence[str]) -> bool:
    """Whether a source's photos are counted by person: some file name numbers one."""
    return any(person_of(k) is not None for k in keys)


def acceptance_by_group(accepted: Sequence[bool], keys: Sequence[str]) -> tuple[Optional[float], int]:
    """(acceptance, units): the mean over groups (``layout.group_of``: the person where the
    file name numbers one, else the photo itself) of each group's share of accepted faces,
    and how many groups there are.  Without persons it is the plain share of faces; a person
    with 40 frames weighs as much as a person with one.  (None, 0) for no faces."""
    rate, units = rate_by_group(list(accepted), [group_of(k) for k in keys])
    return (None, 0) if units == 0 else (rate, units)


def acceptance_by_name_group(accepted: Sequence[bool], keys: Sequence[str], kind: str) -> dict:
    """``{value: (acceptance, units)}`` for each value of one kind of name group (e.g. ``"sex"``:
    ``{"female": (0.67, 15), "male": (0.93, 14)}``), counted as :func:`acceptance_by_group`
    counts; photos whose names do not state that kind are left out, so ``{}`` for none."""
    values = [name_groups(k).get(kind) for k in keys]
    out = {}
    for value in sorted({v for v in values if v is not None}):
        pick = [i for i, v in enumerate(values) if v == value]
        out[value] = acceptance_by_group([accepted[i] for i in pick], [keys[i] for i in pick])
    return out


def group_interval(acceptance: Optional[float], units: int) -> tuple:
    """Wilson 95 % interval with one observation per unit (person or photo): for persons it
    treats each person's acceptance as one draw, which is as wide as the persons make it."""
    if acceptance is None or units == 0:
        return (float("nan"), float("nan"))
    return rate_interval(acceptance * units, units)
