"""Fit one model on its examples: time split → LightGBM + baseline → calibration → test scores.

Pure: frames in, fitted objects and a scored test frame out; no files, no MLflow.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from tierwise.errors import InvalidInput
from training.calibration import Calibrator, Method, fit_calibrator
from training.examples import Examples
from training.models import LgbConfig, fit_baseline, fit_lightgbm
from training.scorer import Scorer
from training.spec import FeatureSpec
from training.split import PERIODS, Boundaries

log = logging.getLogger(__name__)


@dataclass
class Fitted:
    """A trained model, its baseline, and both scored on the test period."""

    examples: Examples
    boundaries: Boundaries
    scorer: Scorer
    baseline: Pipeline
    baseline_calibrator: Calibrator
    test: pd.DataFrame  # keys + time + label + features + `model`, `model_raw`, `baseline`
    counts: dict[str, int] = field(default_factory=dict)
    ranges: dict[str, tuple[str, str]] = field(default_factory=dict)
    positive_rates: dict[str, float] = field(default_factory=dict)

    @property
    def x_test(self) -> np.ndarray:
        return self.scorer.encode_frame(self.test)

    @property
    def labels(self) -> np.ndarray:
        return self.test[self.examples.label].to_numpy(dtype=np.int64)

    @property
    def train_range(self) -> tuple[str, str]:
        return self.ranges["train"]


def fit_examples(
    examples: Examples,
    boundaries: Boundaries,
    *,
    config: LgbConfig | None = None,
    calibration: Method | Literal["auto"] = "auto",
) -> Fitted:
    """Train LightGBM (early stopping on validation) and the baseline on the same split."""
    frame = examples.frame
    period = boundaries.assign(frame[examples.time])
    parts = {p: frame.loc[period == p] for p in PERIODS}
    _check_periods(examples, parts)
    spec = FeatureSpec.from_frame(parts["train"], examples.features, examples.categorical)
    x = {p: spec.encode_frame(parts[p]) for p in PERIODS}
    y = {p: parts[p][examples.label].to_numpy(dtype=np.float64) for p in PERIODS}

    trained = fit_lightgbm(x["train"], y["train"], x["validation"], y["validation"], spec, config)
    booster = lgb.Booster(model_str=trained.model_to_string())  # exactly what is saved
    raw = Scorer(booster, Calibrator("identity"), spec)
    calibrator = fit_calibrator(raw.predict_raw(x["validation"]), y["validation"], calibration)
    scorer = Scorer(booster, calibrator, spec)

    baseline = fit_baseline(x["train"], y["train"], spec)
    base_cal = fit_calibrator(
        baseline.predict_proba(x["validation"])[:, 1], y["validation"], calibration
    )

    test = parts["test"].copy()
    test["model_raw"] = scorer.predict_raw(x["test"])
    test["model"] = calibrator(test["model_raw"].to_numpy())
    test["baseline"] = base_cal(baseline.predict_proba(x["test"])[:, 1])
    return Fitted(
        examples=examples,
        boundaries=boundaries,
        scorer=scorer,
        baseline=baseline,
        baseline_calibrator=base_cal,
        test=test.reset_index(drop=True),
        counts={p: len(parts[p]) for p in PERIODS},
        ranges={p: _range(parts[p][examples.time]) for p in PERIODS},
        positive_rates={p: float(y[p].mean()) for p in PERIODS},
    )


def _check_periods(examples: Examples, parts: dict[str, pd.DataFrame]) -> None:
    for name, part in parts.items():
        labels = part[examples.label]
        if len(part) == 0 or labels.nunique() < 2:
            raise InvalidInput(
                f"{examples.kind} model: the {name} period has {len(part)} example(s) "
                f"and {int(labels.sum())} positive(s); it needs both classes "
                "(give more history, more partners or a different horizon)"
            )
    log.info("%s examples: %s", examples.kind, ", ".join(f"{p} {len(parts[p]):,}" for p in PERIODS))


def _range(times: pd.Series) -> tuple[str, str]:
    return (str(times.min().date()), str(times.max().date()))
