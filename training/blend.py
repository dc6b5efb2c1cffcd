"""A segment blend: for lapsed partners, the model's score mixed with BG/NBD's.

Lapsed partners are few among the examples and the model's splits mostly separate them from
the active ones; within the lapsed, BG/NBD's P(no sign of life in the horizon) — frequency
and recency read through a buy-till-you-die model — often ranks better. The blend is, for
the rows of one segment only, σ((1 − w) · logit(model) + w · logit(reference)); w is chosen
on the validation period (the segment's ROC AUC) and the blend is kept only when it ranks
that segment's validation rows better than the model alone. It reads the encoded matrix
(the segment's category code and the reference column), so serving needs nothing more than
the features it already sends. Stored as `blend.json` beside the booster.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from training.spec import FeatureSpec

log = logging.getLogger(__name__)

SEGMENT_FEATURE = "lifecycle_status"
SEGMENT = "lapsed"
REFERENCE = "bgnbd_p_quiet"
WEIGHTS = tuple(round(0.1 * k, 1) for k in range(1, 11))
MIN_ROWS = 100  # validation rows of the segment below which no blend is tried
EPS = 1e-6


@dataclass(frozen=True)
class SegmentBlend:
    weight: float
    feature: str = SEGMENT_FEATURE
    level: str = SEGMENT
    reference: str = REFERENCE
    validation_auc: tuple[float, float] = (float("nan"), float("nan"))  # model, blend

    def apply(self, raw: np.ndarray, x: np.ndarray, spec: FeatureSpec) -> np.ndarray:
        """`raw` with the segment's rows blended (rows without a reference value keep raw)."""
        where = _columns(self, spec)
        if where is None:
            return raw
        col, code, ref = where
        reference = x[:, ref]
        rows = (x[:, col] == code) & ~np.isnan(reference)
        if not rows.any():
            return raw
        out = np.array(raw, dtype=np.float64, copy=True)
        z = (1 - self.weight) * _logit(out[rows]) + self.weight * _logit(reference[rows])
        out[rows] = 1.0 / (1.0 + np.exp(-z))
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps(self.to_dict()), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path) -> SegmentBlend:
        data = json.loads(path.read_text(encoding="utf-8"))
        auc = data.get("validation_auc") or (np.nan, np.nan)
        return cls(
            weight=float(data["weight"]),
            feature=str(data["feature"]),
            level=str(data["level"]),
            reference=str(data["reference"]),
            validation_auc=(float(auc[0]), float(auc[1])),
        )


def _columns(blend: SegmentBlend, spec: FeatureSpec) -> tuple[int, float, int] | None:
    """(segment column, the level's code, reference column) in `spec`, None if absent."""
    levels = spec.categories.get(blend.feature, ())
    if blend.level not in levels or blend.reference not in spec.features:
        return None
    return (
        spec.features.index(blend.feature),
        float(levels.index(blend.level)),
        spec.features.index(blend.reference),
    )


def choose_blend(
    raw: np.ndarray, x: np.ndarray, y: np.ndarray, spec: FeatureSpec
) -> SegmentBlend | None:
    """The weight that ranks the segment's validation rows best, if it beats the model alone
    (None when the segment or the reference is absent, too small or single-class)."""
    from sklearn.metrics import roc_auc_score

    where = _columns(SegmentBlend(1.0), spec)
    if where is None:
        return None
    col, code, ref = where
    rows = (x[:, col] == code) & ~np.isnan(x[:, ref])
    if rows.sum() < MIN_ROWS or len(np.unique(y[rows])) < 2:
        return None
    model_auc = float(roc_auc_score(y[rows], raw[rows]))
    aucs = {
        w: float(roc_auc_score(y[rows], SegmentBlend(w).apply(raw, x, spec)[rows])) for w in WEIGHTS
    }
    best = max(aucs, key=lambda w: aucs[w])
    log.info(
        "%s partners: validation AUC model %.4f, best blend with %s (w=%.1f) %.4f",
        SEGMENT,
        model_auc,
        REFERENCE,
        best,
        aucs[best],
    )
    if aucs[best] <= model_auc:
        return None
    return SegmentBlend(best, validation_auc=(model_auc, aucs[best]))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1.0 - EPS)
    return np.log(p / (1.0 - p))
