from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tierwise.errors import InvalidInput
from training.calibration import Calibrator, distinct_kept, fit_calibrator
from training.metrics import expected_calibration_error


def overconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """True probability p, reported as p squashed towards 0/1 (a miscalibrated model)."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.6, n)
    y = (rng.random(n) < p).astype(int)
    logit = np.log(p / (1 - p))
    return 1 / (1 + np.exp(-2.5 * logit)), y


@pytest.mark.parametrize("method", ["isotonic", "smooth_isotonic", "sigmoid", "beta"])
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


@pytest.mark.parametrize("method", ["isotonic", "smooth_isotonic", "sigmoid", "beta", "auto"])
def test_calibrated_probabilities_are_strictly_inside_0_1(method: str) -> None:
    raw, y = overconfident(2000, seed=4)
    out = fit_calibrator(raw, y, method)(np.array([0.0, 1.0]))  # type: ignore[arg-type]
    assert out[0] > 0 and out[1] < 1


def test_plain_isotonic_collapses_the_order_and_auto_keeps_it() -> None:
    raw_val, y_val = overconfident(20000, seed=6)
    raw_test, _ = overconfident(5000, seed=7)
    iso = fit_calibrator(raw_val, y_val, "isotonic")
    auto = fit_calibrator(raw_val, y_val)
    assert distinct_kept(raw_test, iso(raw_test)) < 0.2  # the issue: mass ties
    assert distinct_kept(raw_test, auto(raw_test)) >= 0.95
    assert auto.method in ("smooth_isotonic", "beta", "sigmoid")
    assert {m for m, _ in auto.selection} == {"smooth_isotonic", "beta", "sigmoid"}
    assert np.all(np.diff(auto(np.sort(raw_test))) >= 0)  # order kept


@pytest.mark.parametrize("method", ["smooth_isotonic", "sigmoid", "beta"])
def test_order_keeping_methods_are_strictly_increasing(method: str) -> None:
    raw, y = overconfident(20000, seed=8)
    cal = fit_calibrator(raw, y, method)  # type: ignore[arg-type]
    assert np.all(np.diff(cal(np.linspace(raw.min(), raw.max(), 5000))) > 0)
    assert np.all(np.diff(cal(np.linspace(0.0, 1.0, 5000))) >= 0)  # tails may saturate


def test_a_pure_block_is_not_calibrated_to_zero() -> None:
    # the issue: the deal calibrator output 1e-06 for a bin where 11% were accepted
    rng = np.random.default_rng(9)
    raw = rng.uniform(0, 1, 5000)
    y = (rng.random(5000) < raw).astype(int)
    y[raw < 0.05] = 0  # a pure block at the bottom
    out = fit_calibrator(raw, y, "smooth_isotonic")(np.array([0.01, 0.04]))
    assert np.all(out > 1e-4)


def test_single_class_is_an_error() -> None:
    with pytest.raises(InvalidInput, match="all have label 0"):
        fit_calibrator(np.array([0.1, 0.2]), np.array([0, 0]))


@pytest.mark.parametrize("method", ["isotonic", "smooth_isotonic", "beta", "auto"])
def test_round_trips_through_json(tmp_path: Path, method: str) -> None:
    raw, y = overconfident(2000, seed=5)
    cal = fit_calibrator(raw, y, method)  # type: ignore[arg-type]
    again = Calibrator.load(cal.save(tmp_path / "cal.json"))
    np.testing.assert_array_equal(again(raw), cal(raw))
    assert again == cal


def test_an_older_isotonic_calibrator_still_loads() -> None:
    old = Calibrator.from_dict({"method": "isotonic", "x": [0.1, 0.9], "y": [0.2, 0.8]})
    assert old(np.array([0.5]))[0] == pytest.approx(0.5)


@pytest.mark.parametrize("method", ["isotonic", "smooth_isotonic", "sigmoid", "beta", "identity"])
def test_one_score_calibrates_as_the_array(method: str) -> None:
    raw_val, y_val = overconfident(3000, seed=4)
    cal = fit_calibrator(raw_val, y_val, method)  # type: ignore[arg-type]
    grid = [0.0, 1e-9, 1e-6, 0.5, 1 - 1e-9, 1.0, *overconfident(200, seed=5)[0]]
    if cal.x:  # below, at and above the fitted thresholds
        grid += [cal.x[0] - 0.01, cal.x[0], cal.x[-1], min(cal.x[-1] + 0.01, 1.0)]
    one = np.array([cal.one(p) for p in grid])
    np.testing.assert_allclose(one, cal(np.array(grid)), rtol=1e-12, atol=0)
    assert np.isnan(cal.one(float("nan")))
