"""Probability calibration fitted on the validation period, stored as plain JSON.

Calibration must keep the model's order: plain isotonic regression maps thousands of distinct
scores onto a few dozen steps (mass ties, arbitrary order inside a step) and outputs 0 or 1
for a pure block. The methods `auto` chooses between are all strictly increasing:

- ``smooth_isotonic``: the isotonic steps' centres (mean raw score → Laplace-smoothed rate,
  so never 0 or 1), joined by straight lines in logit space and extended past both ends
  with the end slopes;
- ``sigmoid`` (Platt): p = σ(a · logit(raw) + b), a > 0;
- ``beta`` (Kull et al. 2017): p = σ(a · ln raw − b · ln(1 − raw) + c), a, b ≥ 0.

`auto` fits each on four fifths of the validation period (of at most 50,000 of its rows)
and scores it by log loss on the rest (5 folds), keeps those that keep ≥ 95% of the raw
scores' distinct values, and refits the best on the whole validation period (or, for a
small program, on out-of-fold scores: `training.crossfit`). Plain ``isotonic`` is still
loadable (older registered models) and fittable on request. Nothing needs scikit-learn,
pickle or pandas at serving time.
"""

from __future__ import annotations

import bisect
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from tierwise.errors import InvalidInput

Method = Literal["smooth_isotonic", "sigmoid", "beta", "isotonic", "identity"]
CANDIDATES: tuple[Method, ...] = ("smooth_isotonic", "beta", "sigmoid")
EPS = 1e-6
MIN_CLASS_FOR_ISOTONIC = 200
MIN_KEPT = 0.95  # share of the raw scores' distinct values a calibrator must keep
FOLDS = 5
CHOICE_ROWS = 50_000  # rows the cross-validated choice of method looks at


@dataclass(frozen=True)
class Calibrator:
    method: Method
    x: tuple[float, ...] = ()  # isotonic thresholds (raw probability)
    y: tuple[float, ...] = ()  # isotonic values (calibrated probability)
    a: float = 1.0  # sigmoid: p = 1 / (1 + exp(-(a * logit(raw) + b)))
    b: float = 0.0
    c: float = 0.0  # beta: p = σ(a ln raw - b ln(1 - raw) + c)
    selection: tuple[tuple[str, float], ...] = ()  # auto: (method, cross-validated log loss)

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=np.float64)
        if self.method == "isotonic":
            out = np.interp(raw, np.asarray(self.x), np.asarray(self.y))
        elif self.method == "smooth_isotonic":
            out = _sigmoid(_extrapolated(_logit(raw), np.asarray(self.x), np.asarray(self.y)))
        elif self.method == "sigmoid":
            out = _sigmoid(self.a * _logit(raw) + self.b)
        elif self.method == "beta":
            p = np.clip(raw, EPS, 1.0 - EPS)
            out = _sigmoid(self.a * np.log(p) - self.b * np.log1p(-p) + self.c)
        else:
            out = raw
        return np.clip(out, EPS, 1.0 - EPS)

    def one(self, raw: float) -> float:
        """`self(raw)` for one score with `math` alone (the request path; a test binds them)."""
        if raw != raw:
            return math.nan
        try:
            return min(max(self._one(raw), EPS), 1.0 - EPS)
        except ArithmeticError:  # an overflow numpy would carry as inf
            return float(self(np.array([raw]))[0])

    def _one(self, raw: float) -> float:
        if self.method == "isotonic":
            return _interp_one(raw, self.x, self.y)
        if self.method == "smooth_isotonic":
            return _sigmoid_one(_extrapolated_one(_logit_one(raw), self.x, self.y))
        if self.method == "sigmoid":
            return _sigmoid_one(self.a * _logit_one(raw) + self.b)
        if self.method == "beta":
            p = min(max(raw, EPS), 1.0 - EPS)
            return _sigmoid_one(self.a * math.log(p) - self.b * math.log1p(-p) + self.c)
        return raw

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "x": list(self.x),
            "y": list(self.y),
            "a": self.a,
            "b": self.b,
            "c": self.c,
            "selection": [list(s) for s in self.selection],
        }

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps(self.to_dict()), encoding="utf-8")
        return path

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        return cls(
            method=data["method"],
            x=tuple(data.get("x", ())),
            y=tuple(data.get("y", ())),
            a=float(data.get("a", 1.0)),
            b=float(data.get("b", 0.0)),
            c=float(data.get("c", 0.0)),
            selection=tuple((str(m), float(v)) for m, v in data.get("selection", ())),
        )

    @classmethod
    def load(cls, path: Path) -> Calibrator:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


def fit_calibrator(
    raw: np.ndarray, labels: np.ndarray, method: Method | Literal["auto"] = "auto"
) -> Calibrator:
    """Fit a calibrator of raw scores to 0/1 labels (validation period).

    `auto` chooses among `CANDIDATES` by cross-validated log loss (see the module doc); with
    fewer than 200 examples of a class it fits sigmoid alone (two numbers need less data).
    """
    raw = np.asarray(raw, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    if len(raw) != len(labels):
        raise InvalidInput(f"{len(raw)} scores but {len(labels)} labels")
    positives = int(labels.sum())
    if positives == 0 or positives == len(labels):
        raise InvalidInput(
            f"cannot calibrate on {len(labels)} examples that all have label {int(labels[0])}"
            if len(labels)
            else "cannot calibrate on no examples"
        )
    if method != "auto":
        return _fit(method, raw, labels)
    if min(positives, len(labels) - positives) < MIN_CLASS_FOR_ISOTONIC:
        return _fit("sigmoid", raw, labels)
    pick = _sample(len(raw))  # the choice needs no more rows than this; the fit takes all
    scores = {m: _cross_validated(m, raw[pick], labels[pick]) for m in CANDIDATES}
    kept = [m for m in CANDIDATES if scores[m][1] >= MIN_KEPT] or ["sigmoid"]
    best: Method = min(kept, key=lambda m: scores[m][0])
    chosen = _fit(best, raw, labels)
    selection = tuple((m, round(loss, 6)) for m, (loss, _) in scores.items())
    return Calibrator(chosen.method, chosen.x, chosen.y, chosen.a, chosen.b, chosen.c, selection)


def _sample(rows: int, most: int = CHOICE_ROWS) -> np.ndarray:
    """Indices of at most `most` rows (all of them when there are fewer), seeded."""
    if rows <= most:
        return np.arange(rows)
    return np.sort(np.random.default_rng(0).choice(rows, most, replace=False))


def _fit(method: Method, raw: np.ndarray, labels: np.ndarray) -> Calibrator:
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    if method == "isotonic":
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, labels)
        return Calibrator(
            "isotonic",
            x=tuple(map(float, iso.X_thresholds_)),
            y=tuple(map(float, iso.y_thresholds_)),
        )
    if method == "smooth_isotonic":
        x, y = _smooth_isotonic(raw, labels)
        return Calibrator("smooth_isotonic", x=x, y=y)
    if method == "sigmoid":
        lr = LogisticRegression(C=1e6).fit(_logit(raw).reshape(-1, 1), labels)
        return Calibrator("sigmoid", a=max(float(lr.coef_[0, 0]), 1e-3), b=float(lr.intercept_[0]))
    if method == "beta":
        p = np.clip(raw, EPS, 1.0 - EPS)
        design = np.column_stack([np.log(p), -np.log1p(-p)])
        lr = LogisticRegression(C=1e6).fit(design, labels)
        a, b = (float(v) for v in lr.coef_[0])
        if a < 0 or b < 0:  # not monotone: one log term only (still beta calibration)
            keep = 0 if a >= b else 1
            lr = LogisticRegression(C=1e6).fit(design[:, [keep]], labels)
            a, b = (float(lr.coef_[0, 0]), 0.0) if keep == 0 else (0.0, float(lr.coef_[0, 0]))
        return Calibrator("beta", a=max(a, 0.0), b=max(b, 0.0), c=float(lr.intercept_[0]))
    return Calibrator("identity")


def _smooth_isotonic(raw: np.ndarray, labels: np.ndarray) -> tuple[tuple[float, ...], ...]:
    """Centres of the isotonic steps in logit space: (logit mean raw, logit smoothed rate)."""
    from sklearn.isotonic import IsotonicRegression

    order = np.argsort(raw, kind="stable")
    r, y = raw[order], labels[order]
    fitted = IsotonicRegression(y_min=0.0, y_max=1.0).fit_transform(r, y)
    starts = np.flatnonzero(np.r_[True, np.diff(fitted) != 0])
    counts = np.diff(np.r_[starts, len(r)])
    centre = np.add.reduceat(_logit(r), starts) / counts
    rate = (np.add.reduceat(y, starts) + 0.5) / (counts + 1.0)  # never exactly 0 or 1
    rate = np.maximum.accumulate(rate)  # smoothing must not break the order
    keep = np.r_[True, np.diff(centre) > 0] & np.r_[True, np.diff(rate) > 0]
    return tuple(map(float, centre[keep])), tuple(map(float, _logit(rate[keep])))


def _extrapolated(x: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """np.interp inside [xs[0], xs[-1]], straight lines with the end slopes outside."""
    if len(xs) == 1:
        return x - xs[0] + ys[0]
    out = np.interp(x, xs, ys)
    lo, hi = x < xs[0], x > xs[-1]
    out[lo] = ys[0] + (x[lo] - xs[0]) * (ys[1] - ys[0]) / (xs[1] - xs[0])
    out[hi] = ys[-1] + (x[hi] - xs[-1]) * (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
    return out


def _interp_one(x: float, xs: tuple[float, ...], ys: tuple[float, ...]) -> float:
    """np.interp for one value."""
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    j = bisect.bisect_right(xs, x) - 1
    return (ys[j + 1] - ys[j]) / (xs[j + 1] - xs[j]) * (x - xs[j]) + ys[j]


def _extrapolated_one(x: float, xs: tuple[float, ...], ys: tuple[float, ...]) -> float:
    """`_extrapolated` for one value."""
    if len(xs) == 1:
        return x - xs[0] + ys[0]
    if x < xs[0]:
        return ys[0] + (x - xs[0]) * (ys[1] - ys[0]) / (xs[1] - xs[0])
    if x > xs[-1]:
        return ys[-1] + (x - xs[-1]) * (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
    return _interp_one(x, xs, ys)


def _sigmoid_one(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def _logit_one(p: float) -> float:
    p = min(max(p, EPS), 1.0 - EPS)
    return math.log(p / (1.0 - p))


def _cross_validated(method: Method, raw: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(mean held-out log loss, share of distinct raw values kept) over `FOLDS` folds."""
    fold = np.random.default_rng(0).permutation(len(raw)) % FOLDS
    losses, kept = [], []
    for k in range(FOLDS):
        train, held = fold != k, fold == k
        if labels[train].min() == labels[train].max():
            continue
        cal = _fit(method, raw[train], labels[train])
        p = cal(raw[held])
        y = labels[held]
        losses.append(float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p))))
        kept.append(distinct_kept(raw[held], p))
    return float(np.mean(losses)), float(np.min(kept))


def distinct_kept(raw: ArrayLike, calibrated: ArrayLike) -> float:
    """Share of the raw scores' distinct values still distinct after calibration."""
    n_raw = len(np.unique(np.asarray(raw)))
    return len(np.unique(np.asarray(calibrated))) / n_raw if n_raw else 1.0


def calibration_metrics(raw: ArrayLike, calibrated: ArrayLike) -> dict[str, float]:
    """What the training report logs: distinct raw and calibrated values, and the share kept."""
    return {
        "test_distinct_raw": float(len(np.unique(np.asarray(raw)))),
        "test_distinct_calibrated": float(len(np.unique(np.asarray(calibrated)))),
        "test_distinct_kept": distinct_kept(raw, calibrated),
    }


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1.0 - EPS)
    return np.log(p / (1.0 - p))
