"""evaluate's overall table gives the 95 % interval it promises for every rate (issue 29, item 11)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from fakeface.train.reports.metrics import classification_report, rate_interval


def test_overall_rates_have_wilson_intervals():
    y = np.r_[np.zeros(40), np.ones(60)]
    p = np.r_[np.linspace(0.0, 0.6, 40), np.linspace(0.3, 1.0, 60)]
    rep = classification_report(y, p, threshold=0.5)
    tn, fp = rep.confusion[0]
    fn, tp = rep.confusion[1]
    assert rep.fakes_caught_ci == pytest.approx(rate_interval(tp, 60))
    assert rep.reals_accepted_ci == pytest.approx(rate_interval(tn, 40))
    assert rep.accuracy_ci == pytest.approx(rate_interval(tp + tn, 100))
    lo, hi = rep.balanced_accuracy_ci
    assert lo < rep.balanced_accuracy < hi
    table = rep.markdown_table()
    for row in ("accuracy", "balanced accuracy", "roc auc", "fakes caught", "reals accepted"):
        line = next(l for l in table.splitlines() if l.startswith(f"| {row} |"))
        assert re.fullmatch(rf"\| {row} \| \d\.\d{{4}} \[\d\.\d{{4}}, \d\.\d{{4}}\] \|", line), line
    assert rep.to_json()["fakes_caught_ci"] == list(rep.fakes_caught_ci)


def test_a_missing_class_leaves_its_interval_out():
    rep = classification_report(np.zeros(10), np.linspace(0, 1, 10), threshold=0.5)
    assert rep.to_json()["fakes_caught_ci"] == [None, None]
    assert "| fakes caught | - |" in rep.markdown_table()
