from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.btyd import BgNbd, fit_bgnbd, log_likelihood, scalar_scores
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


# --- the scalar view (request path) against the vector one -------------------------------

_params = st.builds(
    BgNbd,
    r=st.floats(0.01, 20.0),
    alpha=st.floats(0.5, 2000.0),
    a=st.floats(0.01, 20.0),
    b=st.floats(0.01, 50.0),
)
_days = st.one_of(st.just(0.0), st.floats(0.0, 3650.0))
_count = st.one_of(st.just(0.0), st.integers(1, 300).map(float), st.floats(0.0, 300.0))


def _vector(fit: BgNbd, x: float, t_x: float, age: float, horizon: float) -> list[float]:
    one = ([x], [t_x], [age])
    with np.errstate(all="ignore"):
        return [
            float(fit.p_alive(*one)[0]),
            float(fit.p_quiet(*one, horizon_days=horizon)[0]),
            float(fit.expected(*one, horizon_days=horizon)[0]),
        ]


def _same(fit: BgNbd, x: float, scalar: tuple[float, ...], vector: list[float]) -> bool:
    """Equal within 1e-12 relative; `expected` = head · tail · P(alive), where the tail
    1 - (…)^(r+x) · 2F1 can cancel: there within 1e-12 of the scale head · P(alive) (numpy's
    SIMD power and libm's differ by an ulp, which the cancellation magnifies)."""
    a = fit.a + 1e-6 if abs(fit.a - 1) < 1e-9 else fit.a
    scale = abs((a + fit.b + x - 1) / (a - 1) * vector[0]) if vector[0] == vector[0] else 0.0
    tolerance = (0.0, 0.0, 1e-12 * scale)
    return all(
        (math.isnan(s) and math.isnan(v)) or math.isclose(s, v, rel_tol=1e-12, abs_tol=tol)
        for s, v, tol in zip(scalar, vector, tolerance, strict=True)
    )


@settings(max_examples=400, deadline=None)
@given(
    fit=_params,
    x=_count,
    share=st.one_of(st.just(0.0), st.just(1.0), st.floats(0.0, 1.0)),
    age=_days,
    horizon=st.floats(1.0, 730.0),
)
def test_scalar_scores_equal_the_vector_ones(
    fit: BgNbd, x: float, share: float, age: float, horizon: float
) -> None:
    t_x = 0.0 if x == 0 else share * age  # the last event lies within the age
    scalar = scalar_scores(fit, x, t_x, age, horizon_days=horizon)
    assert _same(fit, x, scalar, _vector(fit, x, t_x, age, horizon)), (scalar, x, t_x, age)


@pytest.mark.parametrize(
    "x, t_x, age",
    [
        (0.0, 0.0, 0.0),  # a partner joined today
        (0.0, 0.0, 365.0),  # no repeat event in a year
        (3.0, 0.0, 365.0),  # events at age 0 only (t_x = 0)
        (4.0, 100.0, 100.0),  # the last event today
        (250.0, 1.0, 3000.0),  # many events long ago: P(alive) underflows to 0
        (-1.0, 5.0, 10.0),  # outside the domain: the vector path answers
        (math.inf, 5.0, 10.0),
        (2.0, 5.0, 1e300),
    ],
)
def test_scalar_scores_at_the_edges(x: float, t_x: float, age: float) -> None:
    scalar = scalar_scores(TRUE, x, t_x, age, horizon_days=90)
    assert _same(TRUE, x, scalar, _vector(TRUE, x, t_x, age, 90)), scalar


@pytest.mark.parametrize("missing", [0, 1, 2])
def test_a_missing_input_makes_every_scalar_score_missing(missing: int) -> None:
    inputs = [3.0, 100.0, 365.0]
    inputs[missing] = math.nan
    assert all(math.isnan(v) for v in scalar_scores(TRUE, *inputs, horizon_days=90))
