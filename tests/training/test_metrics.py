from __future__ import annotations

import numpy as np
import pytest

from tierwise.errors import InvalidInput
from training.metrics import (
    ece_bootstrap_sd,
    evaluate,
    expected_calibration_error,
    top_decile_lift,
)


def test_ece_of_perfect_bins_is_zero() -> None:
    y = np.array([0, 1, 0, 1])
    assert expected_calibration_error(y, np.full(4, 0.5)) == 0.0


def test_ece_is_the_weighted_gap_per_bin() -> None:
    # bin 0.1: predicted 0.1, observed 0 (2 rows); bin 0.9: predicted 0.9, observed 1 (2 rows)
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.1, 0.9, 0.9])
    assert expected_calibration_error(y, p) == pytest.approx(0.1)


def test_top_decile_lift_compares_top_tenth_to_base_rate() -> None:
    y = np.array([1] + [0] * 9 + [1] * 0 + [0] * 10)  # 1 positive in 20 → base 0.05
    p = np.linspace(1, 0, 20)  # the positive ranks first; top 2 rows hold it
    assert top_decile_lift(y, p) == pytest.approx(0.5 / 0.05)


def test_evaluate_reports_every_metric() -> None:
    rng = np.random.default_rng(0)
    p = rng.random(500)
    y = (rng.random(500) < p).astype(int)
    m = evaluate(y, p)
    assert set(m) == {"roc_auc", "pr_auc", "brier", "log_loss", "ece", "top_decile_lift"}
    assert 0.7 < m["roc_auc"] < 0.9


def test_single_class_cannot_be_evaluated() -> None:
    with pytest.raises(InvalidInput, match="single class"):
        evaluate(np.zeros(5), np.full(5, 0.2))


def test_ece_spread_grows_when_rows_share_their_partner() -> None:
    rng = np.random.default_rng(0)
    groups = np.arange(4000) // 100  # 40 partners of 100 cut-offs each, one fate and score
    probs = rng.uniform(0.05, 0.95, 40)[groups]
    fate = (rng.random(40) < 0.5).astype(np.float64)[groups]
    by_partner = ece_bootstrap_sd(fate, probs, groups)
    assert by_partner > 3 * ece_bootstrap_sd(fate, probs, np.arange(4000))
