"""Calibration keeps the churn model's order (issue 18: no mass ties)."""

from types import SimpleNamespace
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from training.calibration import distinct_kept
from training.evaluation import Evaluation
from training.fit import Fitted
from training.report import calibration_caption


def test_calibrated_churn_score_keeps_the_raw_scores_distinct_ranks(
    fitted_churn: tuple[Fitted, Evaluation],
) -> None:
    fitted, _ = fitted_churn
    raw, calibrated = fitted.test["model_raw"].to_numpy(), fitted.test["model"].to_numpy()
    assert len(np.unique(raw)) > 100  # not vacuous
    assert distinct_kept(raw, calibrated) >= 0.95
    assert spearmanr(raw, calibrated).statistic > 0.999
    assert fitted.scorer.calibrator.method != "isotonic"


def test_the_report_shows_the_distinct_calibrated_values(
    fitted_churn: tuple[Fitted, Evaluation],
) -> None:
    fitted, _ = fitted_churn
    result: Any = SimpleNamespace(fitted=fitted)
    n = len(np.unique(fitted.test["model_raw"]))
    text = calibration_caption(result)
    cal = fitted.scorer.calibrator
    assert text.startswith(f"calibration {cal.method}")
    if cal.selection:  # auto chose among the order-keeping methods by validation log loss
        assert "(validation log loss: smooth_isotonic " in text
    assert f"distinct calibrated values of {n:,} raw (100.0% kept)" in text
