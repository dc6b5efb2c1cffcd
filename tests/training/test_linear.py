from __future__ import annotations

from pathlib import Path

import numpy as np

from training.evaluation import Evaluation
from training.fit import Fitted
from training.linear import LinearModel
from training.scorer import Scorer


def test_linear_model_reproduces_the_baseline_pipeline(
    fitted_deal: tuple[Fitted, Evaluation],
) -> None:
    fitted, _ = fitted_deal
    x = fitted.scorer.encode_frame(fitted.test)
    linear = LinearModel.from_pipeline(fitted.baseline, x.shape[1])
    np.testing.assert_allclose(linear.predict(x), fitted.baseline.predict_proba(x)[:, 1], rtol=1e-9)


def test_linear_contributions_sum_to_the_logit(fitted_deal: tuple[Fitted, Evaluation]) -> None:
    fitted, _ = fitted_deal
    x = fitted.scorer.encode_frame(fitted.test.head(20))
    linear = LinearModel.from_pipeline(fitted.baseline, x.shape[1])
    p = linear.predict(x)
    np.testing.assert_allclose(
        linear.predict(x, pred_contrib=True).sum(axis=1), np.log(p / (1 - p))
    )


def test_a_baseline_scorer_saves_and_loads(
    fitted_deal: tuple[Fitted, Evaluation], tmp_path: Path
) -> None:
    fitted, _ = fitted_deal
    x = fitted.scorer.encode_frame(fitted.test)
    linear = LinearModel.from_pipeline(fitted.baseline, x.shape[1])
    scorer = Scorer(linear, fitted.baseline_calibrator, fitted.scorer.spec)
    loaded = Scorer.from_dir(Path(next(iter(scorer.save(tmp_path).values())).parent))
    assert loaded.learner == "logistic"
    np.testing.assert_allclose(loaded.predict(x), fitted.test["baseline"].to_numpy())
    assert loaded.contributions(x[:3]).shape == (3, x.shape[1])


def test_one_row_logit_equals_the_frame_design(fitted_deal: tuple[Fitted, Evaluation]) -> None:
    fitted, _ = fitted_deal
    x = fitted.scorer.encode_frame(fitted.test)
    linear = LinearModel.from_pipeline(fitted.baseline, x.shape[1])
    unseen = x[0].copy()
    unseen[list(linear.categorical)] = 999.0  # a category code no training row had
    x = np.vstack([x, np.full(x.shape[1], np.nan), unseen])  # every input missing
    frame_logit = linear.predict(x, pred_contrib=True).sum(axis=1)
    one_logit = np.array([linear.logit_one(row.tolist()) for row in x])
    np.testing.assert_allclose(one_logit, frame_logit, rtol=1e-12, atol=1e-12)
    one = np.array([linear.predict(row[None, :])[0] for row in x])  # the one-row path
    np.testing.assert_allclose(one, linear.predict(x), rtol=1e-12)
    assert len(np.unique(one.round(6))) > 10  # the rows differ: the comparison is not vacuous
