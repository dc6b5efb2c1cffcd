"""The logistic baseline as plain numbers, so it can be registered and served like LightGBM.

`LinearModel.from_pipeline` reads the fitted scikit-learn pipeline of `training.models.
fit_baseline` (median imputation + missing indicators, signed log1p, standardisation, one-hot,
logistic regression) into arrays; `predict_raw` reproduces `predict_proba` with numpy alone
(a test binds the two) and `contributions` splits the logit per input feature. It offers the
few `lightgbm.Booster` methods the `Scorer` calls, so a champion can be either learner.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

KIND = "logistic"


@dataclass(frozen=True)
class LinearModel:
    numeric: tuple[int, ...]  # input columns that are numbers
    medians: tuple[float, ...]  # per numeric column
    indicators: tuple[int, ...]  # positions (within numeric) that get a missing indicator
    center: tuple[float, ...]  # scaler mean per (numeric + indicator) column
    scale: tuple[float, ...]
    categorical: tuple[int, ...]  # input columns that are category codes
    levels: tuple[tuple[float, ...], ...] = ()  # one-hot levels per categorical column
    coef: tuple[float, ...] = ()
    intercept: float = 0.0
    n_features: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_pipeline(cls, pipe: Pipeline, n_features: int) -> LinearModel:
        columns = pipe.named_steps["columns"]
        num_pipe, num_cols = columns.named_transformers_["num"], columns.transformers_[0][2]
        cat_pipe, cat_cols = columns.named_transformers_["cat"], columns.transformers_[1][2]
        imputer, scaler = num_pipe.steps[0][1], num_pipe.steps[-1][1]
        indicator = imputer.indicator_
        model = pipe.named_steps["model"]
        encoder = cat_pipe.steps[-1][1] if len(cat_cols) else None
        return cls(
            numeric=tuple(int(i) for i in num_cols),
            medians=tuple(float(v) for v in np.nan_to_num(imputer.statistics_)),
            indicators=tuple(int(i) for i in indicator.features_) if indicator else (),
            center=tuple(float(v) for v in scaler.mean_),
            scale=tuple(float(v) for v in scaler.scale_),
            categorical=tuple(int(i) for i in cat_cols),
            levels=tuple(tuple(float(v) for v in c) for c in encoder.categories_)
            if encoder is not None
            else (),
            coef=tuple(float(v) for v in model.coef_[0]),
            intercept=float(model.intercept_[0]),
            n_features=n_features,
        )

    # --- the Booster-like surface the Scorer uses ------------------------------------------
    def predict(
        self, x: np.ndarray, *, pred_contrib: bool = False, num_threads: int = 1
    ) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if not pred_contrib and len(x) == 1:  # one request: plain floats, no arrays
            with contextlib.suppress(OverflowError):
                return np.array([_sigmoid(self.logit_one(x[0].tolist()))])
        parts = self._design(x)
        if not pred_contrib:
            logit = sum(p @ c for p, c in parts) + self.intercept
            return 1.0 / (1.0 + np.exp(-np.asarray(logit)))
        out = np.zeros((len(x), self.n_features + 1))
        for (values, coef), owner in zip(parts, self._owners(), strict=True):
            np.add.at(out.T, owner, (values * coef).T)
        out[:, -1] = self.intercept
        return out

    def num_feature(self) -> int:
        return self.n_features

    def current_iteration(self) -> int:
        return 0

    def feature_importance(self, importance_type: str = "gain") -> np.ndarray:
        """|coefficient| summed per input feature (for the importance plot)."""
        out = np.zeros(self.n_features)
        coef = np.abs(np.asarray(self.coef))
        pos = 0
        for owner in self._owners():
            np.add.at(out, owner, coef[pos : pos + len(owner)])
            pos += len(owner)
        return out

    def save_model(self, path: str) -> None:
        Path(path).write_text(json.dumps({"kind": KIND, **self._dict()}), encoding="utf-8")

    @classmethod
    def load(cls, text: str) -> LinearModel:
        data = json.loads(text)
        data.pop("kind", None)
        tuples = {k: tuple(v) for k, v in data.items() if isinstance(v, list)}
        tuples["levels"] = tuple(tuple(v) for v in data.get("levels", []))
        return cls(**{**data, **tuples})

    # --- internals -------------------------------------------------------------------------
    def _dict(self) -> dict[str, Any]:
        return {
            "numeric": list(self.numeric),
            "medians": list(self.medians),
            "indicators": list(self.indicators),
            "center": list(self.center),
            "scale": list(self.scale),
            "categorical": list(self.categorical),
            "levels": [list(v) for v in self.levels],
            "coef": list(self.coef),
            "intercept": self.intercept,
            "n_features": self.n_features,
        }

    def _design(self, x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """(design block, its coefficients): numbers + indicators, then each one-hot block."""
        coef = np.asarray(self.coef)
        num = x[:, list(self.numeric)]
        missing = np.isnan(num)
        filled = np.where(missing, np.asarray(self.medians)[None, :], num)
        block = np.hstack([filled, missing[:, list(self.indicators)].astype(np.float64)])
        block = np.sign(block) * np.log1p(np.abs(block))
        scale = np.where(np.asarray(self.scale) == 0, 1.0, np.asarray(self.scale))
        block = (block - np.asarray(self.center)) / scale
        parts = [(block, coef[: block.shape[1]])]
        pos = block.shape[1]
        for col, levels in zip(self.categorical, self.levels, strict=True):
            codes = np.nan_to_num(x[:, col], nan=-1.0)
            onehot = (codes[:, None] == np.asarray(levels)[None, :]).astype(np.float64)
            parts.append((onehot, coef[pos : pos + len(levels)]))
            pos += len(levels)
        return parts

    def logit_one(self, row: Sequence[float]) -> float:
        """The logit of one input row with plain floats: the scalar view of `_design` (a test
        binds the two)."""
        numbers, indicators, onehots = self._scalar_plan
        logit = 0.0
        for col, median, center, scale, coef in numbers:
            v = row[col]
            if v != v:
                v = median
            logit += (math.copysign(math.log1p(abs(v)), v) - center) / scale * coef
        for col, center, scale, coef in indicators:
            v = _LOG2 if row[col] != row[col] else 0.0  # signed log1p of the 0/1 indicator
            logit += (v - center) / scale * coef
        for col, coefs in onehots:
            logit += coefs.get(row[col], 0.0)
        return logit + self.intercept

    @cached_property
    def _scalar_plan(
        self,
    ) -> tuple[
        tuple[tuple[int, float, float, float, float], ...],
        tuple[tuple[int, float, float, float], ...],
        tuple[tuple[int, dict[float, float]], ...],
    ]:
        """`_design`'s columns as tuples: (column, median, center, scale, coef) per number,
        (column, center, scale, coef) per missing indicator, (column, level → coef) per
        one-hot block."""
        scale = [1.0 if s == 0 else s for s in self.scale]
        n = len(self.numeric)
        numbers = tuple(
            zip(self.numeric, self.medians, self.center[:n], scale[:n], self.coef[:n], strict=True)
        )
        indicators = tuple(
            (self.numeric[i], self.center[n + k], scale[n + k], self.coef[n + k])
            for k, i in enumerate(self.indicators)
        )
        onehots = []
        pos = n + len(self.indicators)
        for col, levels in zip(self.categorical, self.levels, strict=True):
            onehots.append(
                (col, dict(zip(levels, self.coef[pos : pos + len(levels)], strict=True)))
            )
            pos += len(levels)
        return numbers, indicators, tuple(onehots)

    def _owners(self) -> list[np.ndarray]:
        """The input feature of each design column, block by block (as `_design`)."""
        numeric = np.asarray(self.numeric, dtype=np.int64)
        first = np.concatenate([numeric, numeric[list(self.indicators)]])
        rest = [
            np.full(len(lv), col, dtype=np.int64)
            for col, lv in zip(self.categorical, self.levels, strict=True)
        ]
        return [first, *rest]


_LOG2 = math.log1p(1.0)


def _sigmoid(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-logit))


def is_linear(text: str) -> bool:
    """Whether a saved model file holds a LinearModel (else a LightGBM booster)."""
    return text.lstrip().startswith("{")
