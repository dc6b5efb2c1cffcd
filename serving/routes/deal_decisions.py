"""PRM systems report a deal registration's final decision and outcome back (stored)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path

from serving.auth import Principal, require_role
from serving.db import DealDecision
from serving.deps import SessionDep
from serving.schemas.integration import DealDecisionIn, DealDecisionOut, example

router = APIRouter(prefix="/v1", tags=["deal registrations"])

Reporter = Annotated[Principal, Depends(require_role("scorer", "integration", "admin"))]
DealId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^\S(.*\S)?$", examples=["D0001234"])
]
_EXAMPLE = {
    "deal_id": "D0001234",
    "partner_id": "P000123",
    "decision": "accepted",
    "outcome": "won",
    "amount": 48000.0,
    "currency": "USD",
    "reason": None,
    "decided_at": "2026-11-24T15:00:00Z",
    "reported_by": "salesforce-prm",
    "reported_at": "2026-11-24T15:00:02Z",
}


@router.post(
    "/deal-registrations/{deal_id}/decision",
    response_model=DealDecisionOut,
    responses=example(200, _EXAMPLE),
)
def report_deal_decision(
    deal_id: DealId, body: DealDecisionIn, who: Reporter, session: SessionDep
) -> DealDecisionOut:
    """Record the vendor's decision (and outcome) on a registration: the deal model's labels."""
    row = session.get(DealDecision, deal_id)
    if row is None:
        row = DealDecision(deal_id=deal_id)
        session.add(row)
    row.partner_id = body.partner_id or row.partner_id
    row.decision, row.outcome, row.reason = body.decision, body.outcome, body.reason
    row.amount, row.currency = body.amount, body.currency
    row.decided_at = body.decided_at
    row.reported_by = who.name or who.role
    row.reported_at = datetime.now(UTC)
    session.flush()
    return DealDecisionOut.model_validate(row, from_attributes=True)
