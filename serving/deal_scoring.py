"""Scoring one deal registration: acceptance likelihood, top reasons, the rulebook's routing.

The deal model reads the deal's own attributes plus the registering partner's features as
of registration time — the row `features.deal_features.deal_example` builds, the same
builder training uses; the rulebook's `deal_routing` bands turn the likelihood into
fast-track / review / likely-reject. Reasons are the largest per-feature contributions
(LightGBM `pred_contrib`, log-odds) — what pushed this registration up or down.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from features.deal_features import deal_example
from rules.model import Rulebook
from training.scorer import Scorer

TOP_REASONS = 5


@dataclass(frozen=True)
class DealReason:
    feature: str
    value: Any
    contribution: float
    direction: str  # raises | lowers


@dataclass(frozen=True)
class DealResult:
    acceptance_likelihood: float
    routing: str
    bands: dict[str, float]
    reasons: list[DealReason]


def score_deal(
    deal: Mapping[str, Any],
    partner: Mapping[str, Any],
    *,
    rulebook: Rulebook,
    model: Scorer,
    top: int = TOP_REASONS,
) -> DealResult:
    row = deal_example(deal, partner)
    x = model.encode([row])
    p = float(model.predict(x)[0])
    contrib = model.contributions(x)[0]
    order = np.argsort(-np.abs(contrib), kind="stable")[:top]
    reasons = [
        DealReason(
            name,
            _plain(row.get(name)),
            float(contrib[j]),
            "raises" if contrib[j] >= 0 else "lowers",
        )
        for j in order
        if contrib[j] != 0
        for name in (model.features[j],)
    ]
    routing = rulebook.deal_routing
    return DealResult(
        p,
        routing.route(p),
        {"fast_track": routing.fast_track, "likely_reject": routing.likely_reject},
        reasons,
    )


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
