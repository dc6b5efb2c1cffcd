"""Evaluation metrics for probabilities: ranking, calibration and lift."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from tierwise.errors import InvalidInput

METRICS = ("roc_auc", "pr_auc", "brier", "log_loss", "ece", "top_decile_lift")
HIGHER_IS_BETTER = {
    "roc_auc": True,
    "pr_auc": True,
    "brier": False,
    "log_loss": False,
    "ece": False,
    "top_decile_lift": True,
}


def expected_calibration_error(labels: np.ndarray, probs: np.ndarray, bins: int = 10) -> float:
    """ECE with equal-width bins: Σ (n_bin / n) · |mean label − mean probability|."""
    labels = np.asarray(labels, dtype=np.float64)
    probs = np.asarray(probs, dtype=np.float64)
    which = np.minimum((probs * bins).astype(int), bins - 1)
    count = np.bincount(which, minlength=bins)
    gap = np.abs(np.bincount(which, labels, bins) - np.bincount(which, probs, bins))
    return float(gap.sum() / max(count.sum(), 1))


def top_decile_lift(labels: np.ndarray, probs: np.ndarray) -> float:
    """Positive rate among the 10 % highest scores divided by the overall positive rate."""
    labels = np.asarray(labels, dtype=np.float64)
    k = max(1, int(np.ceil(len(labels) * 0.1)))
    top = np.argsort(-np.asarray(probs), kind="stable")[:k]
    base = labels.mean()
    return float(labels[top].mean() / base) if base > 0 else float("nan")


def evaluate(labels: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """Every metric of METRICS for 0/1 labels and predicted probabilities."""
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.clip(np.asarray(probs, dtype=np.float64), 1e-15, 1 - 1e-15)
    if len(labels) != len(probs):
        raise InvalidInput(f"{len(labels)} labels but {len(probs)} probabilities")
    if len(np.unique(labels)) < 2:
        raise InvalidInput(f"cannot evaluate on {len(labels)} examples of a single class")
    return {
        "roc_auc": float(roc_auc_score(labels, probs)),
        "pr_auc": float(average_precision_score(labels, probs)),
        "brier": float(brier_score_loss(labels, probs)),
        "log_loss": float(log_loss(labels, probs, labels=[0, 1])),
        "ece": expected_calibration_error(labels, probs),
        "top_decile_lift": top_decile_lift(labels, probs),
    }


def ece_bootstrap_sd(
    labels: np.ndarray, probs: np.ndarray, groups: np.ndarray, *, draws: int = 200, seed: int = 0
) -> float:
    """Sampling spread of the ECE: its standard deviation over a Poisson bootstrap of whole
    groups (partners: one partner's cut-offs share its fate, so rows are not independent)."""
    labels = np.asarray(labels, dtype=np.float64)
    probs = np.asarray(probs, dtype=np.float64)
    codes = np.unique(np.asarray(groups), return_inverse=True)[1]
    which = np.minimum((probs * 10).astype(int), 9)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(draws):
        w = rng.poisson(1.0, codes.max() + 1)[codes].astype(np.float64)
        gap = np.abs(np.bincount(which, w * labels, 10) - np.bincount(which, w * probs, 10))
        values.append(gap.sum() / max(w.sum(), 1.0))
    return float(np.std(values))
