"""`GET /v1/partners/{id}/incentives`: a partner's incentive ledger (earned and accruing)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from serving.auth import Principal, ensure_owner, require_role
from serving.db import queries
from serving.db.ledger import accruals, entries
from serving.deps import SessionDep
from serving.ledger_cli import ledger_records
from serving.problems import responses
from serving.schemas.incentives import PartnerIncentivesPublic
from tierwise.errors import NotFound, Problem

router = APIRouter(prefix="/v1", tags=["incentives"])

Reader = Annotated[Principal, Depends(require_role("scorer", "manager", "admin"))]
PartnerId = Annotated[str, Path(min_length=1, max_length=200, examples=["P000123"])]
PeriodQuery = Annotated[
    str | None,
    Query(max_length=16, description="One period: once, 2026-Q4, 2026-11 or 2026"),
]


EXAMPLE = {
    "partner_id": "P000123",
    "totals": {"accruing": 4500.0, "earned": 500.0},
    "entries": [
        {
            "incentive_id": "commission_gold",
            "period": "2026-Q4",
            "status": "accruing",
            "amount": 4500.0,
            "unit": "USD",
            "reward_type": "commission",
            "period_start": "2026-10-01T00:00:00Z",
            "period_end": "2027-01-01T00:00:00Z",
            "pool": None,
            "rulebook_version": "2025.1",
            "rulebook_hash": "61bbac5f1088…",
            "first_week": "2026-W41",
            "last_week": "2026-W48",
            "evidence": {"when": "tier == Gold", "values": {"tier": "Gold"}},
            "accruals": [{"week": "2026-W48", "amount": 1500.0, "rulebook_hash": "61bbac5f1088…"}],
        }
    ],
}


@router.get(
    "/partners/{partner_id}/incentives",
    response_model=PartnerIncentivesPublic,
    responses={
        200: {"content": {"application/json": {"example": EXAMPLE}}},
        **responses(401, 403, 404, 422),
    },
)
def partner_incentives(
    partner_id: PartnerId, principal: Reader, session: SessionDep, period: PeriodQuery = None
) -> PartnerIncentivesPublic:
    """A partner's ledger entries with their weekly accruals; managers: own partners only."""
    owner = queries.partner_owner(session, partner_id)
    if owner is None:
        raise NotFound(
            f"No partner '{partner_id}' in any weekly plan",
            [Problem("unknown partner", column="path.partner_id", value=partner_id)],
        )
    ensure_owner(principal, partner_id, owner)
    rows = entries(session, partner_id=partner_id, period=period)
    docs = ledger_records(rows, accruals(session, partner_id=partner_id))
    totals = {str(k): float(v) for k, v in rows.groupby("status")["amount"].sum().items()}
    return PartnerIncentivesPublic.model_validate(
        {"partner_id": partner_id, "totals": totals, "entries": docs}
    )
