from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tierwise.errors import InvalidInput
from training.calibration import Calibrator, fit_calibrator
from training.metrics import expected_calibration_error


def overconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """True probability p, reported as p squashed towards 0/1 (a miscalibrated model)."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.6, n)
    y = (rng.random(n) < p).astype(int)
    logit = np.log(p / (1 - p))
    return 1 / (1 + np.exp(-2.5 * logit)), y


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibration_fitted_on_validation_lowers_ece_on_test(method: str) -> None:
    raw_val, y_val = overconfident(5000, seed=1)
    raw_test, y_test = overconfident(5000, seed=2)
    cal = fit_calibrator(raw_val, y_val, method)  # type: ignore[arg-type]
    before = expected_calibration_error(y_test, raw_test)
    after = expected_calibration_error(y_test, cal(raw_test))
    assert after < before / 2


def test_calibration_keeps_ece_of_a_calibrated_model() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(0.05, 0.6, 20000)
    y = (rng.random(20000) < p).astype(int)
    cal = fit_calibrator(p[:10000], y[:10000])
    assert expected_calibration_error(y[10000:], cal(p[10000:])) < 0.02


def test_auto_picks_sigmoid_for_few_positives() -> None:
    raw = np.linspace(0.01, 0.99, 300)
    y = (raw > 0.9).astype(int)
    assert fit_calibrator(raw, y).method == "sigmoid"


def test_calibrated_probabilities_are_strictly_inside_0_1() -> None:
    raw, y = overconfident(2000, seed=4)
    out = fit_calibrator(raw, y, "isotonic")(np.array([0.0, 1.0]))
    assert out[0] > 0 and out[1] < 1


def test_single_class_is_an_error() -> None:
    with pytest.raises(InvalidInput, match="all have label 0"):
        fit_calibrator(np.array([0.1, 0.2]), np.array([0, 0]))


def test_round_trips_through_json(tmp_path: Path) -> None:
    raw, y = overconfident(2000, seed=5)
    cal = fit_calibrator(raw, y, "isotonic")
    again = Calibrator.load(cal.save(tmp_path / "cal.json"))
    np.testing.assert_array_equal(again(raw), cal(raw))
