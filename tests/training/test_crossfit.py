"""Cross-fitted calibration: out-of-fold by partner, and only where validation is partners."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from tests.training.program import make_program
from training.crossfit import FOLDS, out_of_fold, partner_folds
from training.evaluation import Evaluation
from training.fit import Fitted, fit_examples
from training.train import build_examples


def test_one_partner_sits_in_one_fold() -> None:
    partners = pd.Series([f"P{i % 37}" for i in range(500)])
    folds = pd.Series(partner_folds(partners)).groupby(partners).nunique()
    assert (folds == 1).all() and set(partner_folds(partners)) == set(range(FOLDS))


def test_no_row_is_scored_by_a_model_that_saw_its_partner() -> None:
    partners = pd.Series([f"P{i % 50}" for i in range(400)])
    x = np.arange(400, dtype=np.float64).reshape(-1, 1) % 50  # column 0: the partner number
    y = (np.arange(400) % 3 == 0).astype(np.float64)

    def learner(xt: np.ndarray, yt: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        seen = set(xt[:, 0])
        return lambda rows: np.array([1.0 if r in seen else 0.0 for r in rows[:, 0]])

    assert (out_of_fold(x, y, partners, learner) == 0.0).all()


def test_a_later_validation_period_calibrates_the_model(
    fitted_churn: tuple[Fitted, Evaluation],
) -> None:
    fitted, _ = fitted_churn
    assert fitted.boundaries.validation == "time"
    assert fitted.calibration_source.startswith("validation period")


def test_a_short_history_calibrates_on_out_of_fold_scores() -> None:
    tables, _ = make_program(partners=400, years=0.6, seed=4)
    examples, bounds = build_examples("churn", tables, horizon_days=90)
    assert bounds.validation == "partners"
    fitted = fit_examples(examples, bounds, horizon_days=90)
    assert fitted.calibration_source.startswith("cross-fitted")
    rows = fitted.counts["train"] + fitted.counts["validation"]
    assert f"{rows:,} train + validation rows" in fitted.calibration_source
