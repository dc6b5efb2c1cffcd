from __future__ import annotations

import numpy as np
import pandas as pd

from training.evaluation import Evaluation
from training.fit import Fitted
from training.metrics import expected_calibration_error


def test_test_period_is_after_validation_after_train(
    fitted_churn: tuple[Fitted, Evaluation],
) -> None:
    fitted, _ = fitted_churn
    r = fitted.ranges
    assert r["train"][1] < r["validation"][0] <= r["validation"][1] < r["test"][0]


def test_churn_model_ranks_better_than_chance_and_baseline_is_scored(
    fitted_churn: tuple[Fitted, Evaluation],
) -> None:
    _, evaluation = fitted_churn
    assert evaluation.metrics["model"]["roc_auc"] > 0.65
    assert 0.5 < evaluation.metrics["baseline"]["roc_auc"] < 1


def test_deal_model_learns_acceptance(fitted_deal: tuple[Fitted, Evaluation]) -> None:
    _, evaluation = fitted_deal
    assert evaluation.metrics["model"]["roc_auc"] > 0.65


def test_oracle_is_scored_on_the_same_examples(fitted_deal: tuple[Fitted, Evaluation]) -> None:
    _, evaluation = fitted_deal
    assert evaluation.oracle_coverage == 1.0
    gap = evaluation.metrics["oracle"]["roc_auc"] - evaluation.metrics["model"]["roc_auc"]
    assert evaluation.oracle_gap is not None
    assert abs(evaluation.oracle_gap - gap) < 1e-12


def test_calibration_keeps_or_improves_ece_on_test(
    fitted_churn: tuple[Fitted, Evaluation],
) -> None:
    fitted, _ = fitted_churn
    y = fitted.labels
    raw = expected_calibration_error(y, fitted.test["model_raw"].to_numpy())
    calibrated = expected_calibration_error(y, fitted.test["model"].to_numpy())
    assert calibrated <= raw + 0.01


def test_model_probabilities_match_the_scorer(fitted_deal: tuple[Fitted, Evaluation]) -> None:
    fitted, _ = fitted_deal
    again = fitted.scorer.predict(fitted.scorer.encode_frame(fitted.test))
    np.testing.assert_allclose(again, fitted.test["model"].to_numpy())


def test_categories_seen_only_after_training_are_missing_not_errors(
    fitted_deal: tuple[Fitted, Evaluation],
) -> None:
    fitted, _ = fitted_deal
    odd = fitted.test.head(3).assign(product="brand_new_product")
    probs = fitted.scorer.predict(fitted.scorer.encode_frame(odd))
    assert np.isfinite(probs).all() and pd.Series(probs).between(0, 1).all()
