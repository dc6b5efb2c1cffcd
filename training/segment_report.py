"""Where a model is good and where it is not: per segment, per snapshot, per threshold.

Pure tables for the model notebooks (`notebooks/3.0-model-segments.ipynb`): the score
columns of a scored frame (``lightgbm``, ``baseline``, ``model``, ``oracle``…) compared by
partner type, by tier, by snapshot over time (drift) and at the thresholds the rulebook
acts on (`rulebook_thresholds`: every action condition and deal route on a model output).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rules import Rulebook, evaluate_frame
from rules.conditions import Leaf
from training.fit import Fitted
from training.linear import LinearModel
from training.metrics import evaluate
from training.scorer import Scorer

SCORES = ("lightgbm", "baseline", "model", "oracle")


def _scores(frame: pd.DataFrame, scores: Sequence[str]) -> list[str]:
    return [s for s in scores if s in frame.columns]


def _metrics(y: np.ndarray, frame: pd.DataFrame, scores: Sequence[str]) -> dict[str, float]:
    out: dict[str, float] = {"examples": float(len(y)), "positive_rate": float(y.mean())}
    for score in scores:
        p = frame[score].to_numpy(dtype=np.float64)
        keep = ~np.isnan(p)
        out[f"{score}_mean"] = float(p[keep].mean()) if keep.any() else np.nan
        if len(np.unique(y[keep])) < 2:  # one class: no AUC, no calibration to speak of
            out[f"{score}_roc_auc"] = out[f"{score}_ece"] = np.nan
            continue
        m = evaluate(y[keep], p[keep])
        out[f"{score}_roc_auc"], out[f"{score}_ece"] = m["roc_auc"], m["ece"]
    return out


def by_segment(
    frame: pd.DataFrame, label: str, by: str, scores: Sequence[str] = SCORES
) -> pd.DataFrame:
    """One row per value of ``by``: examples, positive rate, and each score's mean
    prediction, ROC AUC and ECE (NaN where the segment holds one class only)."""
    names = _scores(frame, scores)
    rows = {
        str(key): _metrics(part[label].to_numpy(dtype=np.int64), part, names)
        for key, part in frame.groupby(frame[by].astype(str), sort=True)
    }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = by
    return out


def by_snapshot(
    frame: pd.DataFrame, label: str, time: str, scores: Sequence[str] = SCORES
) -> pd.DataFrame:
    """`by_segment` per snapshot time, oldest first (performance over time: drift)."""
    names = _scores(frame, scores)
    rows = {
        pd.Timestamp(str(key)): _metrics(part[label].to_numpy(dtype=np.int64), part, names)
        for key, part in frame.groupby(time, sort=True)
    }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = time
    return out


def scored_history(fitted: Fitted) -> pd.DataFrame:
    """Every example of a fit, scored by the candidate (``model``) and the baseline, with the
    period it belongs to (train: in-sample; validation; test: out of time; gap: the embargo
    between them, whose labels would overlap the next period)."""
    ex = fitted.examples
    frame = ex.frame.reset_index(drop=True)
    period = fitted.boundaries.assign(frame[ex.time], frame["partner_id"])
    x = fitted.scorer.encode_frame(frame)
    n = len(fitted.scorer.features)
    baseline = Scorer(
        LinearModel.from_pipeline(fitted.baseline, n),
        fitted.baseline_calibrator,
        fitted.scorer.spec,
    )
    return frame.assign(
        period=np.where(np.asarray(period) == "", "gap", np.asarray(period)),
        model=fitted.scorer.predict(x),
        baseline=baseline.predict(x),
    )


@dataclass(frozen=True)
class Threshold:
    value: float
    op: str  # the rule's comparison: >= > flag high scores, < <= flag low ones
    used_by: str  # e.g. "action retention_call", "deal route fast_track"


def rulebook_thresholds(rulebook: Rulebook, output: str) -> list[Threshold]:
    """Every threshold the rulebook applies to model output ``output``."""
    found = [
        Threshold(float(leaf.cond.value), leaf.cond.op, f"action {action.id}")
        for action in rulebook.actions
        for leaf in action.compiled.leaves()
        if isinstance(leaf.cond, Leaf)
        and leaf.cond.name == output
        and leaf.cond.op in (">=", ">", "<", "<=")
    ]
    if output == "deal_acceptance":
        routing = rulebook.deal_routing
        found += [
            Threshold(routing.fast_track, ">=", "deal route fast_track"),
            Threshold(routing.likely_reject, "<", "deal route likely_reject"),
        ]
    return sorted(found, key=lambda t: (t.value, t.used_by))


def at_thresholds(
    frame: pd.DataFrame, label: str, score: str, thresholds: Sequence[Threshold]
) -> pd.DataFrame:
    """Precision and recall of each rule's cut: a ``>=``/``>`` rule flags high scores and
    targets the positives (churners, accepted deals); a ``<``/``<=`` rule flags low scores and
    targets the negatives (e.g. deals likely to be rejected)."""
    y = frame[label].to_numpy(dtype=np.int64)
    p = frame[score].to_numpy(dtype=np.float64)
    rows = []
    for t in thresholds:
        high = t.op in (">=", ">")
        flagged = {">=": p >= t.value, ">": p > t.value, "<": p < t.value, "<=": p <= t.value}[t.op]
        target = y == 1 if high else y == 0
        hits = int((flagged & target).sum())
        rows.append(
            {
                "used_by": t.used_by,
                "rule": f"{score} {t.op} {t.value:g}",
                "targets": "positives" if high else "negatives",
                "flagged_share": float(flagged.mean()) if len(p) else np.nan,
                "precision": hits / int(flagged.sum()) if flagged.any() else np.nan,
                "recall": hits / int(target.sum()) if target.any() else np.nan,
            }
        )
    return pd.DataFrame(rows)


def tiers_of(rulebook: Rulebook, frame: pd.DataFrame, time: str) -> pd.Series:
    """The tier the rulebook gives each row at its own snapshot time (no tier history: each
    snapshot evaluated fresh, as a first evaluation would)."""
    out = pd.Series(index=frame.index, dtype=object)
    outputs = {"churn_risk": np.nan, "deal_acceptance": np.nan}  # tiers read no model output
    frame = frame.assign(**{k: v for k, v in outputs.items() if k not in frame.columns})
    for when, part in frame.groupby(time, sort=True):
        decided = evaluate_frame(
            rulebook, part.reset_index(drop=True), as_of=pd.Timestamp(str(when))
        )
        out.loc[part.index] = decided.tiers["tier"].astype(str).to_numpy()
    return out
