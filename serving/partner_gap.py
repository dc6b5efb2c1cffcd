"""The gap to the next tier shown on a partner page, from the decision the weekly plan stored.

A stored decision that carries its gap (`details.next_tier`, `details.gap`) is shown as is.
Otherwise the stored decision is replayed: the same snapshot, the stored model outputs and the
tier state the plan started from (the decision before it), so the tier — and hence the next
tier — is the one the plan stored, grace and overrides included (never `previous=None`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from rules import evaluate_partner
from rules.model import Rulebook
from serving.db import queries
from serving.db.models import TierDecision
from serving.snapshots import tier_state

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Gap:
    """The next tier of the stored decision and what is still missing for it."""

    tier: str | None = None
    next_tier: str | None = None
    missing: list[str] = field(default_factory=list)
    note: str | None = None


def stored_gap(session: Session, rulebook: Rulebook, decision: TierDecision | None) -> Gap:
    """The gap of a stored tier decision (None: nothing stored yet)."""
    if decision is None:
        return Gap(note="No evaluation stored yet.")
    details = decision.details or {}
    if "next_tier" in details:
        return Gap(decision.tier, details["next_tier"], [str(g) for g in details.get("gap", [])])
    found = queries.snapshot_at(session, decision.partner_id, as_of=decision.as_of)
    if found is None:
        return Gap(decision.tier, note="The features behind this decision are not stored.")
    context = {
        **found,
        "partner_id": decision.partner_id,
        "churn_risk": decision.churn_risk,
        "deal_acceptance": details.get("deal_acceptance"),
    }
    before = queries.tier_states(session, [decision.partner_id], before=decision.as_of)
    try:
        replay = evaluate_partner(
            rulebook, context, previous=tier_state(before), as_of=decision.as_of
        )
    except Exception as exc:  # the page stays useful without the explanation
        log.warning("gap to next tier unavailable for %s: %s", decision.partner_id, exc)
        return Gap(decision.tier, note="The gap to the next tier is unavailable.")
    if replay.tier != decision.tier:
        return Gap(
            decision.tier,
            note=f"The active rulebook decides {replay.tier} where the plan stored "
            f"{decision.tier}; the gap shows after the next weekly run.",
        )
    return Gap(decision.tier, replay.next_tier, [g.text for g in replay.gap])
