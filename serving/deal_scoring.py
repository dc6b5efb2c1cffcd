"""Scoring one deal registration: acceptance likelihood, top reasons, the rulebook's routing.

The deal model reads the deal's own attributes plus the registering partner's features as
of registration time; the rulebook's `deal_routing` bands turn the likelihood into
fast-track / review / likely-reject. Reasons are the largest per-feature contributions
(LightGBM `pred_contrib`, log-odds) — what pushed this registration up or down.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

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


def deal_row(deal: Mapping[str, Any], partner: Mapping[str, Any]) -> dict[str, Any]:
    """Partner features + deal attributes + the derived ones (log amount, vs partner average)."""
    amount = _number(deal.get("amount"))
    avg = _number(partner.get("avg_deal_value_365d"))
    ratio = amount / avg if amount is not None and avg is not None and avg > 0 else None
    return {
        **partner,
        **deal,
        "log_amount": math.log1p(amount) if amount is not None else None,
        "amount_vs_partner_avg": ratio,
    }


def _number(value: Any) -> float | None:
    """A known number, or None when missing (None or NaN)."""
    if value is None or value != value:
        return None
    return float(value)


def score_deal(
    deal: Mapping[str, Any],
    partner: Mapping[str, Any],
    *,
    rulebook: Rulebook,
    model: Scorer,
    top: int = TOP_REASONS,
) -> DealResult:
    row = deal_row(deal, partner)
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
