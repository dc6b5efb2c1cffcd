"""Rolling-origin evaluation refits at every test cut-off and scores that cut-off alone."""

from __future__ import annotations

import numpy as np
import pytest

from features.tables import Tables
from tests.training.program import FakeTruth, make_program
from training.examples import Examples
from training.rolling import Rolling, rolling_origin, wanted
from training.split import Boundaries
from training.train import build_examples

pytestmark = pytest.mark.slow  # three refits
Rolled = tuple[Examples, Boundaries, Rolling]


@pytest.fixture(scope="module")
def rolled(program: tuple[Tables, FakeTruth]) -> Rolled:
    examples, bounds = build_examples("churn", program[0], horizon_days=90)
    return examples, bounds, rolling_origin(examples, bounds, horizon_days=90)


def test_one_refit_per_test_cut_off(rolled: Rolled) -> None:
    examples, bounds, rolling = rolled
    stamps = sorted(examples.frame["as_of"].unique())
    tests = [s for s in stamps if s >= bounds.test_start]
    assert [o.origin for o in rolling.origins] == tests and len(tests) == bounds.test_snapshots


def test_each_origin_tests_on_itself_and_trains_before_it(rolled: Rolled) -> None:
    examples, _, rolling = rolled
    for origin in rolling.origins:
        assert f"from {origin.origin.date()}" in origin.split
        at = examples.frame["as_of"] == origin.origin
        assert origin.examples == int(at.sum())


def test_summary_is_the_mean_and_spread_of_the_origins(rolled: Rolled) -> None:
    _, _, rolling = rolled
    aucs = [o.metrics["roc_auc"] for o in rolling.origins]
    summary = rolling.summary()
    assert summary["rolling_roc_auc_mean"] == pytest.approx(np.mean(aucs))
    assert summary["rolling_roc_auc_sd"] == pytest.approx(np.std(aucs, ddof=1))
    assert summary["rolling_origins"] == len(aucs)


def test_auto_rolls_short_churn_histories_only(
    rolled: Rolled, program: tuple[Tables, FakeTruth]
) -> None:
    examples, bounds, _ = rolled  # two years: a plain time split
    assert not wanted("auto", examples, bounds) and wanted("on", examples, bounds)
    short, short_bounds = build_examples("churn", make_program(400, 0.6, 4)[0], horizon_days=90)
    assert wanted("auto", short, short_bounds) and not wanted("off", short, short_bounds)
    deals, deal_bounds = build_examples("deal", program[0], horizon_days=90)
    assert not wanted("on", deals, deal_bounds)
