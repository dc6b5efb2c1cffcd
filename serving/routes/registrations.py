"""Stored deal registrations: each scored one, its decision and where it stands."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from serving.auth import Principal, require_role
from serving.db import registrations as store
from serving.db.integration import DealDecision
from serving.db.registrations import ScoredRegistration
from serving.deps import SessionDep
from serving.routes.deals import EXAMPLE_ANSWER
from serving.schemas import DealScore
from serving.schemas.integration import DealDecisionOut, example
from serving.schemas.registrations import (
    RegistrationOut,
    RegistrationsOut,
    RegistrationSummary,
    StoredVersion,
    example_registration,
)
from tierwise.errors import NotFound, Problem

router = APIRouter(prefix="/v1", tags=["deal registrations"])

Reader = Annotated[Principal, Depends(require_role("scorer", "integration", "admin"))]
DealId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^\S(.*\S)?$", examples=["D0001234"])
]


@router.get(
    "/deal-registrations/{deal_id}",
    response_model=RegistrationOut,
    responses=example(200, example_registration(EXAMPLE_ANSWER)),
)
def get_deal_registration(deal_id: DealId, _: Reader, session: SessionDep) -> RegistrationOut:
    """A stored registration: its latest answer, every version's, its decision and status."""
    now = datetime.now(UTC)
    found = store.find(session, deal_id=deal_id, now=now)
    if found is None:
        raise NotFound(
            f"No scored registration '{deal_id}'",
            [Problem("never scored with this deal_id", column="path.deal_id", value=deal_id)],
        )
    summary = _summary(found.latest, found.decision, now=now)
    return RegistrationOut(
        **summary.model_dump(),
        answer=DealScore.model_validate(found.latest.answer),
        versions=[_version(v) for v in found.versions],
    )


@router.get(
    "/deal-registrations",
    response_model=RegistrationsOut,
    responses=example(200, {"registrations": [example_registration(EXAMPLE_ANSWER)]}),
)
def list_deal_registrations(
    _: Reader,
    session: SessionDep,
    partner_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    eligible: Annotated[bool | None, Query(description="Only eligible (or refused) ones")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> RegistrationsOut:
    """The latest scoring of stored registrations, newest first, with their decisions."""
    now = datetime.now(UTC)
    rows = store.latest_rows(session, partner_id=partner_id, eligible=eligible, limit=limit)
    return RegistrationsOut(registrations=[_summary(r, d, now=now) for r, d in rows])


def _summary(
    row: ScoredRegistration, decision: DealDecision | None, *, now: datetime
) -> RegistrationSummary:
    return RegistrationSummary(
        deal_id=row.deal_id,
        partner_id=row.partner_id,
        customer_id=row.customer_id,
        registered_at=row.registered_at,
        status=store.lifecycle(row, decision, now=now),
        eligible=row.eligible,
        refusals=list(row.refusals),
        acceptance_likelihood=row.acceptance_likelihood,
        routing=row.routing,
        protected_until=row.protected_until,
        expires_at=row.expires_at,
        scored_at=row.scored_at,
        decision=(
            None
            if decision is None
            else DealDecisionOut.model_validate(decision, from_attributes=True)
        ),
    )


def _version(row: ScoredRegistration) -> StoredVersion:
    return StoredVersion.model_validate(
        {**{k: getattr(row, k) for k in StoredVersion.model_fields}, "refusals": list(row.refusals)}
    )
