"""Probability calibration fitted on the validation period, stored as plain JSON.

Isotonic calibration keeps its thresholds (applied with `np.interp`, as scikit-learn's
`IsotonicRegression(out_of_bounds="clip")` does); sigmoid (Platt) keeps two numbers. Neither
needs scikit-learn, pickle or pandas at serving time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from tierwise.errors import InvalidInput

Method = Literal["isotonic", "sigmoid", "identity"]
EPS = 1e-6
MIN_CLASS_FOR_ISOTONIC = 200


@dataclass(frozen=True)
class Calibrator:
    method: Method
    x: tuple[float, ...] = ()  # isotonic thresholds (raw probability)
    y: tuple[float, ...] = ()  # isotonic values (calibrated probability)
    a: float = 1.0  # sigmoid: p = 1 / (1 + exp(-(a * logit(raw) + b)))
    b: float = 0.0

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=np.float64)
        if self.method == "isotonic":
            out = np.interp(raw, np.asarray(self.x), np.asarray(self.y))
        elif self.method == "sigmoid":
            out = 1.0 / (1.0 + np.exp(-(self.a * _logit(raw) + self.b)))
        else:
            out = raw
        return np.clip(out, EPS, 1.0 - EPS)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "x": list(self.x),
            "y": list(self.y),
            "a": self.a,
            "b": self.b,
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
        )

    @classmethod
    def load(cls, path: Path) -> Calibrator:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


def fit_calibrator(
    raw: np.ndarray, labels: np.ndarray, method: Method | Literal["auto"] = "auto"
) -> Calibrator:
    """Fit a calibrator of raw scores to 0/1 labels (validation period).

    `auto` picks isotonic when both classes have at least 200 examples, else sigmoid.
    """
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

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
    if method == "auto":
        small = min(positives, len(labels) - positives) < MIN_CLASS_FOR_ISOTONIC
        method = "sigmoid" if small else "isotonic"
    if method == "isotonic":
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, labels)
        return Calibrator(
            "isotonic",
            x=tuple(map(float, iso.X_thresholds_)),
            y=tuple(map(float, iso.y_thresholds_)),
        )
    if method == "sigmoid":
        lr = LogisticRegression(C=1e6).fit(_logit(raw).reshape(-1, 1), labels)
        return Calibrator("sigmoid", a=float(lr.coef_[0, 0]), b=float(lr.intercept_[0]))
    return Calibrator("identity")


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1.0 - EPS)
    return np.log(p / (1.0 - p))
