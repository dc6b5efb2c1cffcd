"""The churn-truth estimators: the conditional one estimates what the plain one does."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulation.dynamics import DAY_NS, EXIT_DELAY_DAYS, WEEK_NS
from simulation.program import Simulation
from simulation.truth import Truth
from simulation.truth_churn import PARTNER_LEVELS, Window, exit_share, summarize


def _fresh(sim: Simulation) -> Truth:
    return Truth(deal_acceptance=sim.truth.deal_acceptance, latent=sim.truth.latent)


@pytest.mark.parametrize(
    ("as_of", "horizon"),
    [
        ("2026-03-02", 90),  # a Monday: whole weeks, then a partial last one
        ("2025-12-10 13:00", 12),  # mid-week start and end, a short window
    ],
)
def test_conditional_and_plain_estimate_the_same_probability(
    sim: Simulation, as_of: str, horizon: int
) -> None:
    at = pd.Timestamp(as_of, tz="UTC")
    plain_paths = 512
    cond = _fresh(sim).churn_estimate(at, horizon, paths=64, method="conditional")
    plain = _fresh(sim).churn_estimate(at, horizon, paths=plain_paths, method="plain")
    assert cond.index.equals(plain.index)
    alive = cond["p_churn"] < 1.0
    assert (plain.loc[~alive, "p_churn"] == 1.0).all()
    c, p = cond[alive], plain[alive]
    # a plain estimate from 0/1-like values: its variance is at least about p(1-p)/n
    floor = c["p_churn"] * (1 - c["p_churn"]) / plain_paths
    var = c["se"] ** 2 + np.maximum(p["se"] ** 2, floor)
    bins = pd.qcut(c["p_churn"].rank(method="first"), 4, labels=False)
    diff = c["p_churn"] - p["p_churn"]
    z = diff.groupby(bins).sum() / np.sqrt(var.groupby(bins).sum())
    assert (z.abs() < 4.5).all(), z.to_dict()
    assert abs(diff.sum() / np.sqrt(var.sum())) < 4.5
    # and the conditional one is far more precise per path
    rms = np.sqrt((c["se"] ** 2).mean() * 64) / np.sqrt((p["se"] ** 2).mean() * plain_paths)
    assert rms < 0.5


def test_the_truth_still_ranks_the_realised_labels(sim: Simulation) -> None:
    from tests.simulation.test_simulate import _auc, _churn_labels

    as_ofs = pd.date_range("2025-09-01", "2026-07-27", freq="10W-MON", tz="UTC")
    truth = _fresh(sim)
    p = pd.concat([truth.churn_probability(a, 90) for a in as_ofs])
    labels = pd.concat([_churn_labels(sim.tables, a) for a in as_ofs])
    assert _auc(labels.to_numpy(), p.to_numpy()) > 0.8
    assert abs(p.mean() - labels.mean()) < 0.02


def test_window_weeks_cover_the_horizon_exactly() -> None:
    start = 0
    at = start + 3 * WEEK_NS + 2 * DAY_NS + 5 * 3_600_000_000_000  # Wednesday 05:00, week 3
    window = Window(start_ns=start, week=3, at=at, stop=at + 30 * DAY_NS)
    weeks = list(window.weeks())
    assert [w for w, _, _ in weeks] == list(range(3, 3 + len(weeks)))
    covered = np.array([c for _, c, _ in weeks])
    assert covered.sum() * 7 == pytest.approx(30.0)
    assert covered[0] == pytest.approx((5 * 24 - 5) / (7 * 24))
    assert (covered[1:-1] == 1.0).all() and 0 < covered[-1] < 1
    left = [x for _, _, x in weeks]
    assert left[-1] == 0.0 and left[0] == window.stop - (start + 4 * WEEK_NS)
    assert (np.diff(left) < 0).all()


def test_exit_share_follows_the_exit_delay() -> None:
    exit_prob = np.array([0.0, 0.4, 1.0])
    assert (exit_share(exit_prob, 0.0) == 0).all()
    assert (exit_share(exit_prob, -5.0) == 0).all()
    one_mean = exit_share(exit_prob, EXIT_DELAY_DAYS * DAY_NS)
    np.testing.assert_allclose(one_mean, exit_prob * (1 - np.exp(-1)))
    np.testing.assert_allclose(exit_share(exit_prob, 1e6 * DAY_NS), exit_prob)


def test_summarize_gives_mean_and_standard_error_per_partner() -> None:
    counts = np.array([3, 1, 4])
    values = np.array([0.1, 0.2, 0.6, 0.5, 1.0, 0.0, 0.0, 0.0])
    mean, se = summarize(values, counts)
    groups = np.split(values, np.cumsum(counts)[:-1])
    np.testing.assert_allclose(mean, [g.mean() for g in groups])
    assert np.isnan(se[1])
    for i in (0, 2):
        g = groups[i]
        assert se[i] == pytest.approx(g.std(ddof=1) / np.sqrt(g.size))


def test_partner_levels_hold_every_partner_kind_and_no_contact() -> None:
    assert PARTNER_LEVELS.tolist() == [True, True, False]
