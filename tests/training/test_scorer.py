from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tierwise.errors import InvalidInput, ModelError
from training.evaluation import Evaluation
from training.fit import Fitted
from training.scorer import Scorer


@pytest.fixture(scope="module")
def scorer(fitted_churn: tuple[Fitted, Evaluation]) -> Scorer:
    return fitted_churn[0].scorer


def rows(fitted: Fitted, n: int = 5) -> list[dict[str, object]]:
    frame = fitted.test[fitted.scorer.inputs].head(n)
    return [
        {k: (None if v is None or v != v else v) for k, v in r.items()}  # NaN -> None
        for r in frame.to_dict("records")
    ]


def test_encode_rows_matches_encode_frame(fitted_churn: tuple[Fitted, Evaluation]) -> None:
    fitted, _ = fitted_churn
    s = fitted.scorer
    np.testing.assert_array_equal(s.encode(rows(fitted)), s.encode_frame(fitted.test.head(5)))


def test_predict_returns_calibrated_probabilities(
    scorer: Scorer, fitted_churn: tuple[Fitted, Evaluation]
) -> None:
    probs = scorer.predict(scorer.encode(rows(fitted_churn[0])))
    assert probs.shape == (5,) and ((probs > 0) & (probs < 1)).all()


def test_contributions_are_per_feature_and_sum_to_the_raw_log_odds(
    scorer: Scorer,
    fitted_churn: tuple[Fitted, Evaluation],
) -> None:
    x = scorer.encode(rows(fitted_churn[0]))
    contrib = scorer.contributions(x)
    raw = scorer.predict_raw(x)
    assert contrib.shape == (5, len(scorer.features))
    np.testing.assert_allclose(
        contrib.sum(axis=1) + scorer.expected_value, np.log(raw / (1 - raw)), rtol=1e-6
    )


def test_wrong_width_is_a_model_error(scorer: Scorer) -> None:
    with pytest.raises(ModelError, match="expects"):
        scorer.predict(np.zeros((1, 3)))


def test_bad_value_names_the_feature(scorer: Scorer) -> None:
    with pytest.raises(InvalidInput) as err:
        scorer.encode([{"tenure_days": "long"}])
    assert err.value.problems[0].column == "tenure_days"


def test_saved_files_load_back_identically(
    scorer: Scorer, tmp_path: Path, fitted_churn: tuple[Fitted, Evaluation]
) -> None:
    scorer.save(tmp_path)
    again = Scorer.from_dir(tmp_path)
    x = scorer.encode_frame(fitted_churn[0].test)
    np.testing.assert_array_equal(again.predict(x), scorer.predict(x))


def test_missing_files_are_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot load"):
        Scorer.from_dir(tmp_path)


def test_one_row_prediction_equals_the_batch_prediction(
    scorer: Scorer, fitted_churn: tuple[Fitted, Evaluation]
) -> None:
    x = scorer.encode_frame(fitted_churn[0].test.head(60))
    batch, raw = scorer.predict(x), scorer.predict_raw(x)
    assert scorer.learner == "lightgbm" and len(np.unique(batch)) > 10
    np.testing.assert_array_equal([scorer.predict_raw(row[None, :])[0] for row in x], raw)
    np.testing.assert_allclose([scorer.predict(row[None, :])[0] for row in x], batch, rtol=1e-12)


def test_the_single_row_path_refuses_a_row_of_the_wrong_length(scorer: Scorer) -> None:
    from training.single_row import SingleRowPredictor

    predictor = SingleRowPredictor(scorer.booster)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="expected"):
        predictor.predict(np.zeros(len(scorer.features) + 1))
