"""Fit one model on its examples: split → LightGBM + baseline → calibration → the candidate.

The candidate is whichever learner ranks the validation period better (ROC AUC): LightGBM or
the logistic baseline. Both, and for churn two reference scores — recency alone
(`days_since_last_sign_of_life`, calibrated on validation) and a BG/NBD fit (P(no sign of life
within the horizon)) — are scored on the test period. For churn, lapsed partners' scores are
blended with BG/NBD's when that ranks them better on validation (`training.blend`); the
calibrator comes last (`training.crossfit` for short histories). `refit` then fits the
candidate's learner again on all labelled examples with the settings chosen on validation:
that is the model registered. Pure: frames in, fitted objects and a scored test frame out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline

from tierwise.errors import InvalidInput
from training.blend import choose_blend
from training.calibration import Calibrator, Method, fit_calibrator
from training.crossfit import Learner, cross_fit_wanted, out_of_fold
from training.examples import Examples
from training.linear import LinearModel
from training.models import LgbConfig, fit_baseline, fit_lightgbm, fit_lightgbm_rounds
from training.scorer import Scorer
from training.spec import BGNBD_INPUTS, FeatureSpec
from training.split import PERIODS, Boundaries

log = logging.getLogger(__name__)
RECENCY = "days_since_last_sign_of_life"
NEVER_DAYS = 10_000.0  # recency of a partner never seen: older than any real one


@dataclass
class Refit:
    """The candidate's learner fitted again on every labelled example (what is registered)."""

    scorer: Scorer
    examples: int
    range: tuple[str, str]
    iterations: int


@dataclass
class Fitted:
    """The candidate (LightGBM or baseline), both learners, and all scored on the test period."""

    examples: Examples
    boundaries: Boundaries
    scorer: Scorer  # the candidate, fitted on the training period only
    baseline: Pipeline
    baseline_calibrator: Calibrator
    test: pd.DataFrame  # keys + time + label + features + model, lightgbm, baseline (+ refs)
    learner: str = "lightgbm"  # the candidate's learner: lightgbm | logistic
    validation_auc: dict[str, float] = field(default_factory=dict)
    best_iteration: int = 0
    horizon_days: int | None = None
    config: LgbConfig = field(default_factory=LgbConfig)
    counts: dict[str, int] = field(default_factory=dict)
    ranges: dict[str, tuple[str, str]] = field(default_factory=dict)
    positive_rates: dict[str, float] = field(default_factory=dict)
    refit: Refit | None = None
    calibration_source: str = ""

    @property
    def x_test(self) -> np.ndarray:
        return self.scorer.encode_frame(self.test)

    @property
    def labels(self) -> np.ndarray:
        return self.test[self.examples.label].to_numpy(dtype=np.int64)

    @property
    def train_range(self) -> tuple[str, str]:
        return self.ranges["train"]

    @property
    def registered(self) -> Scorer:
        """What gets registered: the refit when there is one, else the held-out candidate."""
        return self.refit.scorer if self.refit is not None else self.scorer


def fit_examples(
    examples: Examples,
    boundaries: Boundaries,
    *,
    config: LgbConfig | None = None,
    calibration: Method | Literal["auto"] = "auto",
    horizon_days: int | None = None,
    cross_fit: bool = True,
) -> Fitted:
    """Train LightGBM (early stopping on validation) and the baseline on the same split; the
    candidate is the one with the higher validation ROC AUC. Its calibrator is fitted on the
    validation period — or, when validation is a group of partners rather than a later
    period (short histories) and the program is small, on out-of-fold scores of every
    partner before the test period (`training.crossfit`)."""
    config = config or LgbConfig()
    frame = examples.frame
    period = boundaries.assign(frame[examples.time], frame["partner_id"])
    parts = {p: frame.loc[period == p] for p in PERIODS}
    _check_periods(examples, parts)
    bgnbd = fit_bgnbd_params(parts["train"], horizon_days) if _uses_bgnbd(examples) else None
    spec = FeatureSpec.from_frame(parts["train"], examples.features, examples.categorical, bgnbd)
    x = {p: spec.encode_frame(parts[p]) for p in PERIODS}
    y = {p: parts[p][examples.label].to_numpy(dtype=np.float64) for p in PERIODS}

    trained = fit_lightgbm(x["train"], y["train"], x["validation"], y["validation"], spec, config)
    booster = lgb.Booster(model_str=trained.model_to_string())  # exactly what is saved
    lgb_val = Scorer(booster, Calibrator("identity"), spec).predict_raw(x["validation"])
    lightgbm = Scorer(booster, fit_calibrator(lgb_val, y["validation"], calibration), spec)

    baseline = fit_baseline(x["train"], y["train"], spec)
    linear = LinearModel.from_pipeline(baseline, len(spec.features))
    base_val = baseline.predict_proba(x["validation"])[:, 1]
    base_cal = fit_calibrator(base_val, y["validation"], calibration)
    logistic = Scorer(linear, base_cal, spec)

    val_auc = {
        "lightgbm": float(roc_auc_score(y["validation"], lgb_val)),
        "logistic": float(roc_auc_score(y["validation"], base_val)),
    }
    learner = "lightgbm" if val_auc["lightgbm"] >= val_auc["logistic"] else "logistic"
    chosen = lightgbm if learner == "lightgbm" else logistic
    best = max(int(booster.current_iteration()), 1)
    if examples.kind == "churn":  # lapsed partners: BG/NBD blended in if it ranks them better
        raw_val = chosen.predict_raw(x["validation"])
        chosen.blend = choose_blend(raw_val, x["validation"], y["validation"], spec)
    cal_source = f"validation period ({len(parts['validation']):,} rows)"
    pooled = len(parts["train"]) + len(parts["validation"])
    if cross_fit and boundaries.validation == "partners" and cross_fit_wanted(pooled):
        pool = pd.concat([parts["train"], parts["validation"]])
        x_pool, y_pool = np.vstack([x["train"], x["validation"]]), pool[examples.label]
        oof = out_of_fold(
            x_pool,
            y_pool.to_numpy(dtype=np.float64),
            pool["partner_id"],
            _learner(learner, spec, config, best),
        )
        if chosen.blend is not None:
            oof = chosen.blend.apply(oof, x_pool, spec)
        seen = ~np.isnan(oof)
        chosen.calibrator = fit_calibrator(oof[seen], y_pool.to_numpy()[seen], calibration)
        cal_source = (
            f"cross-fitted: out-of-fold scores of {int(seen.sum()):,} train + validation rows"
        )
    elif chosen.blend is not None:  # the blended scores need their own calibrator
        blended = chosen.predict_raw(x["validation"])
        chosen.calibrator = fit_calibrator(blended, y["validation"], calibration)
    log.info(
        "%s candidate: %s (validation AUC LightGBM %.4f, baseline %.4f)",
        examples.kind,
        learner,
        val_auc["lightgbm"],
        val_auc["logistic"],
    )
    test = parts["test"].copy()
    test["lightgbm"] = lightgbm.predict(x["test"])  # the chosen one with its own calibrator
    test["baseline"] = logistic.predict(x["test"])
    test["model"] = test[learner if learner == "lightgbm" else "baseline"]
    test["model_raw"] = chosen.predict_raw(x["test"])
    if examples.kind == "churn":
        _reference_scores(test, parts["validation"], y["validation"], spec)
    return Fitted(
        examples=examples,
        boundaries=boundaries,
        scorer=chosen,
        baseline=baseline,
        baseline_calibrator=logistic.calibrator,
        test=test.reset_index(drop=True),
        learner=learner,
        validation_auc=val_auc,
        best_iteration=best,
        calibration_source=cal_source,
        horizon_days=horizon_days,
        config=config,
        counts={p: len(parts[p]) for p in PERIODS},
        ranges={p: _range(parts[p][examples.time]) for p in PERIODS},
        positive_rates={p: float(y[p].mean()) for p in PERIODS},
    )


def _learner(name: str, spec: FeatureSpec, config: LgbConfig, rounds: int) -> Learner:
    """Fit `name` on (x, y) with the settings chosen on validation; returns its raw scorer."""

    def fit(x: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        if name == "lightgbm":
            booster = fit_lightgbm_rounds(x, y, spec, config, rounds=rounds)
            return lambda rows: np.asarray(booster.predict(rows), dtype=np.float64)
        pipe = fit_baseline(x, y, spec)
        return lambda rows: np.asarray(pipe.predict_proba(rows)[:, 1], dtype=np.float64)

    return fit


def refit(fitted: Fitted) -> Refit:
    """Fit the candidate's learner on every labelled example, with the iteration count chosen
    on validation (no early stopping) and the validation-fitted calibrator."""
    examples = fitted.examples
    frame = examples.frame
    bgnbd = fit_bgnbd_params(frame, fitted.horizon_days) if fitted.scorer.spec.bgnbd else None
    spec = FeatureSpec.from_frame(frame, examples.features, examples.categorical, bgnbd)
    x = spec.encode_frame(frame)
    y = frame[examples.label].to_numpy(dtype=np.float64)
    model: lgb.Booster | LinearModel
    if fitted.learner == "lightgbm":
        booster = fit_lightgbm_rounds(x, y, spec, fitted.config, rounds=fitted.best_iteration)
        model = lgb.Booster(model_str=booster.model_to_string())
    else:
        model = LinearModel.from_pipeline(fit_baseline(x, y, spec), len(spec.features))
    scorer = Scorer(model, fitted.scorer.calibrator, spec, blend=fitted.scorer.blend)
    iterations = fitted.best_iteration if fitted.learner == "lightgbm" else 0
    log.info("%s refit on all %d labelled examples", examples.kind, len(frame))
    return Refit(scorer, len(frame), _range(frame[examples.time]), iterations)


def _uses_bgnbd(examples: Examples) -> bool:
    return examples.kind == "churn" and all(n in examples.frame.columns for n in BGNBD_INPUTS)


def fit_bgnbd_params(frame: pd.DataFrame, horizon_days: int | None) -> dict[str, float] | None:
    """BG/NBD parameters from each partner's latest example in `frame` (None when the fit is
    impossible, e.g. nobody has a repeat event)."""
    from features.btyd import fit_bgnbd

    latest = frame.sort_values("as_of", kind="stable").drop_duplicates("partner_id", keep="last")
    try:
        fit = fit_bgnbd(*(latest[n] for n in BGNBD_INPUTS))
    except InvalidInput as exc:
        log.warning("no BG/NBD features: %s", exc)
        return None
    return {**fit.to_dict(), "horizon_days": float(horizon_days or 90)}


def _reference_scores(
    test: pd.DataFrame, validation: pd.DataFrame, y_val: np.ndarray, spec: FeatureSpec
) -> None:
    """Recency alone (isotonic on validation) and BG/NBD's P(quiet), for comparison."""
    if RECENCY in test.columns:
        days = validation[RECENCY].fillna(NEVER_DAYS).to_numpy(dtype=np.float64)
        recency = fit_calibrator(days, y_val, "isotonic")
        test["recency"] = recency(test[RECENCY].fillna(NEVER_DAYS).to_numpy(dtype=np.float64))
    if spec.bgnbd is not None:
        test["bgnbd"] = spec.derive_frame(test)["bgnbd_p_quiet"].to_numpy(dtype=np.float64)


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


def describe_fit(fitted: Fitted) -> dict[str, Any]:
    """What was chosen, for MLflow params."""
    return {
        "learner": fitted.learner,
        "validation_auc_lightgbm": round(fitted.validation_auc.get("lightgbm", float("nan")), 6),
        "validation_auc_logistic": round(fitted.validation_auc.get("logistic", float("nan")), 6),
        "best_iteration": fitted.best_iteration,
        "calibration_source": fitted.calibration_source,
        "lapsed_blend_weight": fitted.scorer.blend.weight if fitted.scorer.blend else 0.0,
    }
