from __future__ import annotations

import numpy as np
import pytest

from features.btyd import BgNbd, fit_bgnbd, log_likelihood
from tierwise.errors import InvalidInput

TRUE = BgNbd(r=0.8, alpha=20.0, a=0.6, b=2.5)  # alpha in days


def draw(n: int, seed: int = 0, days: float = 365.0) -> tuple[np.ndarray, ...]:
    """Simulate the BG/NBD story directly: Poisson events until a coin after one says stop."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(TRUE.r, 1 / TRUE.alpha, n)
    p = rng.beta(TRUE.a, TRUE.b, n)
    x, t_x = np.zeros(n), np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > days:
                break
            x[i], t_x[i] = x[i] + 1, t
            if rng.random() < p[i]:
                break
    return x, t_x, np.full(n, days)


def test_fit_recovers_the_parameters_it_was_drawn_with() -> None:
    fit = fit_bgnbd(*draw(3000))
    assert fit.r == pytest.approx(TRUE.r, rel=0.2)
    assert fit.alpha == pytest.approx(TRUE.alpha, rel=0.3)
    assert fit.a == pytest.approx(TRUE.a, rel=0.35) and fit.b == pytest.approx(TRUE.b, rel=0.5)


def test_fit_beats_the_truth_on_its_own_data_only_slightly() -> None:
    x, t_x, age = draw(2000, seed=1)
    fit = fit_bgnbd(x, t_x, age)
    weeks = np.array([fit.r, fit.alpha / 7, fit.a, fit.b])
    truth = np.array([TRUE.r, TRUE.alpha / 7, TRUE.a, TRUE.b])
    assert log_likelihood(weeks, x, t_x / 7, age / 7) >= log_likelihood(truth, x, t_x / 7, age / 7)


def test_long_silence_means_likely_dead_and_quiet() -> None:
    x = np.array([5.0, 5.0])
    t_x, age = np.array([360.0, 60.0]), np.array([365.0, 365.0])
    alive = TRUE.p_alive(x, t_x, age)
    quiet = TRUE.p_quiet(x, t_x, age, horizon_days=90)
    assert alive[0] > 0.9 > 0.5 > alive[1]
    assert quiet[1] > quiet[0] and ((quiet >= 0) & (quiet <= 1)).all()
    assert TRUE.p_alive([0.0], [0.0], [365.0])[0] == 1.0  # no repeat event: never dropped out


def test_expected_events_grow_with_frequency_and_horizon() -> None:
    few = TRUE.expected([1.0], [300.0], [365.0], horizon_days=90)[0]
    many = TRUE.expected([20.0], [300.0], [365.0], horizon_days=90)[0]
    longer = TRUE.expected([20.0], [300.0], [365.0], horizon_days=180)[0]
    assert 0 < few < many < longer


def test_too_little_data_is_a_clear_error() -> None:
    with pytest.raises(InvalidInput, match="at least 10 partners"):
        fit_bgnbd([1, 2], [3, 4], [10, 10])
