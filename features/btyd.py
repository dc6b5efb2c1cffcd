"""BG/NBD (Fader, Hardie & Lee 2005): a buy-till-you-die model of the signs of life.

While alive, a partner's events follow a Poisson process whose rate is Gamma(r, alpha)
across partners; after each event it drops out with a probability that is Beta(a, b) across
partners. Fitted by maximum likelihood (scipy) on (frequency x, recency t_x, age T) from
`features.lifecycle` — on the training period only — it gives per partner the expected events
in the next t days, P(alive) and P(no event in the next t days), the buy-till-you-die answer
to the churn question.

    >>> fit = fit_bgnbd(frame["rf_frequency"], frame["rf_recency_days"], frame["rf_age_days"])
    >>> fit.p_quiet(x, t_x, T, horizon_days=90)
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import optimize, special

from tierwise.errors import InvalidInput

log = logging.getLogger(__name__)
UNIT_DAYS = 7.0  # the fit works in weeks (better scaled); parameters are stored in days


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float  # in days
    a: float
    b: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BgNbd:
        return cls(*(float(data[k]) for k in ("r", "alpha", "a", "b")))

    def p_alive(self, x: Any, t_x: Any, age: Any) -> np.ndarray:
        """P(still alive at age T | x repeat events, the last at t_x)."""
        x, t_x, age = _arrays(x, t_x, age)
        ratio = np.exp((self.r + x) * (np.log(self.alpha + age) - np.log(self.alpha + t_x)))
        odds = np.where(x > 0, self.a / np.maximum(self.b + x - 1, 1e-12) * ratio, 0.0)
        return 1.0 / (1.0 + odds)

    def p_quiet(self, x: Any, t_x: Any, age: Any, *, horizon_days: float) -> np.ndarray:
        """P(no event in the next `horizon_days`): dead, or alive and silent that long."""
        x, t_x, age = _arrays(x, t_x, age)
        alive = self.p_alive(x, t_x, age)
        silent = np.exp(
            (self.r + x) * np.log((self.alpha + age) / (self.alpha + age + horizon_days))
        )
        return (1.0 - alive) + alive * silent

    def expected(self, x: Any, t_x: Any, age: Any, *, horizon_days: float) -> np.ndarray:
        """E[events in the next `horizon_days` | x, t_x, T] (the closed form holds for a != 1)."""
        x, t_x, age = _arrays(x, t_x, age)
        r, alpha, a, b, t = self.r, self.alpha, self.a, self.b, float(horizon_days)
        if abs(a - 1) < 1e-9:
            a += 1e-6
        z = t / (alpha + age + t)
        head = (a + b + x - 1) / (a - 1)
        tail = 1.0 - ((alpha + age) / (alpha + age + t)) ** (r + x) * special.hyp2f1(
            r + x, b + x, a + b + x - 1, z
        )
        return head * tail * self.p_alive(x, t_x, age)


def scalar_scores(
    fit: BgNbd, x: float, t_x: float, age: float, *, horizon_days: float
) -> tuple[float, float, float]:
    """(p_alive, p_quiet, expected) for one partner with `math` alone: the request path.

    Agrees with the vector methods (`p_alive`, `p_quiet`, `expected`) within 1e-12 relative
    (a property test binds them); NaN when an input is NaN. An input that plain floats
    cannot take (negative, infinite, or a power that overflows) goes the vector way.
    """
    if x != x or t_x != t_x or age != age:
        return math.nan, math.nan, math.nan
    if 0 <= x < math.inf and 0 <= t_x < math.inf and 0 <= age < math.inf:
        try:
            return _scalar(fit, x, t_x, age, float(horizon_days))
        except (ArithmeticError, ValueError):
            pass
    one = ([x], [t_x], [age])
    with np.errstate(all="ignore"):
        return (
            float(fit.p_alive(*one)[0]),
            float(fit.p_quiet(*one, horizon_days=horizon_days)[0]),
            float(fit.expected(*one, horizon_days=horizon_days)[0]),
        )


def _scalar(fit: BgNbd, x: float, t_x: float, age: float, t: float) -> tuple[float, float, float]:
    r, alpha, a, b = fit.r, fit.alpha, fit.a, fit.b
    rx = r + x
    if x > 0:
        ratio = math.exp(rx * (math.log(alpha + age) - math.log(alpha + t_x)))
        alive = 1.0 / (1.0 + a / max(b + x - 1, 1e-12) * ratio)
    else:
        alive = 1.0
    quiet = (1.0 - alive) + alive * math.exp(rx * math.log((alpha + age) / (alpha + age + t)))
    if abs(a - 1) < 1e-9:
        a += 1e-6
    head = (a + b + x - 1) / (a - 1)
    # the one special function math lacks: scipy's on plain floats (~1 µs), the very
    # implementation the vector path calls
    gauss = float(special.hyp2f1(rx, b + x, a + b + x - 1, t / (alpha + age + t)))
    tail = 1.0 - ((alpha + age) / (alpha + age + t)) ** rx * gauss
    return alive, quiet, head * tail * alive


def _arrays(*values: Any) -> tuple[np.ndarray, ...]:
    out = [np.asarray(v, dtype=np.float64) for v in values]
    return tuple(np.nan_to_num(v, nan=0.0) for v in out)


def log_likelihood(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, age: np.ndarray) -> float:
    """Sum of the BG/NBD log-likelihood over partners (params r, alpha, a, b, all > 0)."""
    r, alpha, a, b = params
    base = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    beta0 = special.betaln(a, b)
    first = special.betaln(a, b + x) - beta0 - (r + x) * np.log(alpha + age)
    repeat = np.where(
        x > 0,
        special.betaln(a + 1, np.maximum(b + x - 1, 1e-12)) - beta0 - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    return float(np.sum(base + np.logaddexp(first, repeat)))


def fit_bgnbd(frequency: Any, recency_days: Any, age_days: Any) -> BgNbd:
    """Maximum-likelihood BG/NBD parameters from per-partner (x, t_x, T) in days."""
    x, t_x, age = _arrays(frequency, recency_days, age_days)
    keep = age > 0
    x, t_x, age = x[keep], np.minimum(t_x[keep], age[keep]), age[keep]
    if x.size < 10 or not (x > 0).any():
        raise InvalidInput(
            f"BG/NBD needs at least 10 partners with some repeat events, got {x.size} partners "
            f"and {int((x > 0).sum())} with a repeat event"
        )
    t_x, age = t_x / UNIT_DAYS, age / UNIT_DAYS

    def loss(log_params: np.ndarray) -> float:
        return -log_likelihood(np.exp(log_params), x, t_x, age) / x.size

    start = np.log([0.5, max(float(age.mean()), 1.0) / 10, 1.0, 2.0])
    found = optimize.minimize(loss, start, method="L-BFGS-B", bounds=[(-8.0, 8.0)] * 4)
    r, alpha, a, b = np.exp(found.x)
    if not found.success:
        log.warning("BG/NBD fit did not converge: %s", found.message)
    fit = BgNbd(r=float(r), alpha=float(alpha * UNIT_DAYS), a=float(a), b=float(b))
    log.info("BG/NBD on %d partners: %s (mean log-likelihood %.4f)", x.size, fit, -found.fun)
    return fit
