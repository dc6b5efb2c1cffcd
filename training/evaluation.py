"""Evaluation on the test period: model, baseline and (on simulated data) the oracle.

The oracle is the simulator's true probability for the same examples — the physical limit of
any model. `oracle_gap` = oracle ROC AUC − model ROC AUC on the examples the truth covers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from training.examples import ModelKind
from training.metrics import ece_bootstrap_sd, evaluate
from training.rolling import Rolling

log = logging.getLogger(__name__)

SCORES = ("model", "lightgbm", "baseline", "recency", "bgnbd")  # + "oracle" on simulated data
SEGMENTS = ("active", "lapsed", "new")
SEGMENT_COLUMN = "lifecycle_status"


@dataclass
class Evaluation:
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # score → metrics
    examples: int = 0
    positives: int = 0
    oracle_coverage: float | None = None  # share of test examples the truth covers
    oracle_gap: float | None = None
    observable_gap: float | None = None  # observable-information oracle AUC − model AUC
    segments: dict[str, float] = field(default_factory=dict)  # test_roc_auc_active, …
    rolling: Rolling | None = None  # refitted at each test cut-off (training.rolling)

    def flat(self) -> dict[str, float]:
        """{"model_roc_auc": …, "oracle_gap": …, "test_roc_auc_active": …} for MLflow."""
        out = {f"{score}_{k}": v for score, ms in self.metrics.items() for k, v in ms.items()}
        out |= self.segments
        if self.oracle_gap is not None:
            out["oracle_gap"] = self.oracle_gap
        if self.observable_gap is not None:
            out["observable_oracle_gap"] = self.observable_gap
        if self.oracle_coverage is not None:
            out["oracle_coverage"] = self.oracle_coverage
        if self.rolling is not None:
            out |= self.rolling.summary()
        out["test_examples"] = float(self.examples)
        out["test_positive_rate"] = self.positives / self.examples if self.examples else 0.0
        return out


def oracle_probabilities(
    kind: ModelKind,
    test: pd.DataFrame,
    truth: Any,
    *,
    horizon_days: int,
    paths: int | None = None,
) -> np.ndarray:
    """The simulator's true probability per test row (NaN where the truth has none).

    Churn truth is a Monte-Carlo estimate; `paths` overrides the simulator's default.
    """
    if kind == "deal":
        truth_by_deal = truth.deal_acceptance
        return test["deal_id"].map(truth_by_deal).to_numpy(dtype=np.float64, na_value=np.nan)
    out = np.full(len(test), np.nan)
    for as_of, rows in test.groupby("as_of", sort=True).groups.items():
        ts = pd.Timestamp(as_of)  # type: ignore[arg-type]
        extra = {} if paths is None else {"paths": paths}
        probs = truth.churn_probability(ts.to_pydatetime(), horizon_days, **extra)
        pos = test.index.get_indexer(rows)
        out[pos] = (
            test.loc[rows, "partner_id"].map(probs).to_numpy(dtype=np.float64, na_value=np.nan)
        )
    return out


def observable_probabilities(
    test: pd.DataFrame, truth: Any, tables: Any, *, horizon_days: int, particles: int = 64
) -> np.ndarray:
    """The observable-information oracle per churn test row (NaN where it has none): the
    simulator's dynamics filtered on the observed events only (`simulation.observable`)."""
    from simulation.observable import observable_churn_probability

    stamps = sorted(pd.to_datetime(test["as_of"], utc=True).unique())
    probs = observable_churn_probability(
        truth.latent, tables, stamps, horizon_days, particles=particles
    )
    keyed = test[["partner_id", "as_of"]].merge(probs, on=["partner_id", "as_of"], how="left")
    return keyed["p_churn"].to_numpy(dtype=np.float64, na_value=np.nan)


def evaluate_scores(test: pd.DataFrame, label: str) -> Evaluation:
    """Metrics for each score column present (model, baseline, oracle) on the test rows.

    Model and baseline are scored on every test row; the oracle and the gap on the rows the
    truth covers (all of them on simulated data).
    """
    y = test[label].to_numpy(dtype=np.int64)
    result = Evaluation(examples=len(test), positives=int(y.sum()))
    for score in SCORES:
        if score in test.columns:
            result.metrics[score] = evaluate(y, test[score].to_numpy())
    if "oracle" in test.columns:
        covered = test["oracle"].notna().to_numpy()
        result.oracle_coverage = float(covered.mean()) if len(test) else 0.0
        if covered.sum() and len(np.unique(y[covered])) == 2:
            result.metrics["oracle"] = evaluate(y[covered], test["oracle"].to_numpy()[covered])
            model_here = evaluate(y[covered], test["model"].to_numpy()[covered])["roc_auc"]
            result.oracle_gap = result.metrics["oracle"]["roc_auc"] - model_here
        if result.oracle_coverage < 1.0:
            log.warning(
                "the truth covers %.1f%% of the test examples", 100 * result.oracle_coverage
            )
    if "observable" in test.columns:
        covered = test["observable"].notna().to_numpy()
        if covered.sum() and len(np.unique(y[covered])) == 2:
            result.metrics["observable"] = evaluate(
                y[covered], test["observable"].to_numpy()[covered]
            )
            model_here = evaluate(y[covered], test["model"].to_numpy()[covered])["roc_auc"]
            result.observable_gap = result.metrics["observable"]["roc_auc"] - model_here
    result.segments = segment_metrics(test, label)
    result.segments |= ece_noise(test, label)
    return result


def ece_noise(test: pd.DataFrame, label: str, score: str = "model") -> dict[str, float]:
    """How much of the ECE is sampling noise: `test_ece_noise`, the ECE a perfectly
    calibrated model with these probabilities shows on this many rows on average, and
    `test_ece_sd`, the ECE's spread over a bootstrap of the test partners."""
    from training.registry import calibrated_ece

    if score not in test.columns or len(test) == 0:
        return {}
    probs = test[score].to_numpy(dtype=np.float64)
    y = test[label].to_numpy(dtype=np.float64)
    groups = (
        test["partner_id"].astype("str").to_numpy()
        if "partner_id" in test.columns
        else np.arange(len(test))  # no partners: each row its own group
    )
    return {
        "test_ece_noise": calibrated_ece(probs),
        "test_ece_sd": ece_bootstrap_sd(y, probs, groups),
    }


def segment_metrics(test: pd.DataFrame, label: str, score: str = "model") -> dict[str, float]:
    """test_roc_auc_{all,active,lapsed,new} and test_ece_* of `score` (a segment with a single
    class has no AUC and is left out); other scores as {score}_roc_auc_{segment}."""
    out: dict[str, float] = {}
    if SEGMENT_COLUMN not in test.columns:
        return out
    y = test[label].to_numpy(dtype=np.int64)
    status = test[SEGMENT_COLUMN].astype("str").to_numpy()
    masks = {"all": np.ones(len(test), dtype=bool)} | {s: status == s for s in SEGMENTS}
    for segment, mask in masks.items():
        if mask.sum() == 0 or len(np.unique(y[mask])) < 2:
            continue
        for name in (score, *(s for s in (*SCORES, "oracle", "observable") if s != score)):
            if name not in test.columns:
                continue
            p = test[name].to_numpy(dtype=np.float64)
            keep = mask & ~np.isnan(p)
            if len(np.unique(y[keep])) < 2:
                continue
            m = evaluate(y[keep], p[keep])
            prefix = "test" if name == score else name
            out[f"{prefix}_roc_auc_{segment}"] = m["roc_auc"]
            out[f"{prefix}_ece_{segment}"] = m["ece"]
        out[f"test_examples_{segment}"] = float(mask.sum())
    return out
