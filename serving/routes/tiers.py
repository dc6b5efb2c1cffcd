"""A partner's tier history: every weekly evaluation, its change and why."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from sqlalchemy import select

from serving.auth import Principal, ensure_owner, require_role
from serving.db import TierDecision, WeeklyPlan, queries
from serving.deps import SessionDep
from serving.schemas.integration import EXAMPLE_TIERS, TierEvaluation, TierHistory, example
from tierwise.errors import NotFound, Problem

router = APIRouter(prefix="/v1", tags=["partners"])

Caller = Annotated[Principal, Depends(require_role("scorer", "integration", "manager", "admin"))]
PartnerId = Annotated[str, Path(min_length=1, max_length=200, examples=["P000123"])]


@router.get(
    "/partners/{partner_id}/tiers",
    response_model=TierHistory,
    responses=example(200, EXAMPLE_TIERS),
)
def partner_tiers(partner_id: PartnerId, principal: Caller, session: SessionDep) -> TierHistory:
    """Every evaluation of the partner's tier, newest first: change, reason, rulebook."""
    decisions = queries.tier_history(session, partner_id)
    if not decisions:
        raise NotFound(
            f"No tier evaluation of partner '{partner_id}'",
            [Problem("never evaluated", column="path.partner_id", value=partner_id)],
        )
    ensure_owner(principal, partner_id, queries.partner_owner(session, partner_id))
    hashes = _rulebook_hashes(session, {d.week for d in decisions})
    return TierHistory(
        partner_id=partner_id,
        evaluations=[_evaluation(d, hashes.get(d.week)) for d in decisions],
    )


def _rulebook_hashes(session: Any, weeks: set[str]) -> dict[str, str | None]:
    rows = session.execute(
        select(WeeklyPlan.week, WeeklyPlan.versions).where(WeeklyPlan.week.in_(weeks))
    ).all()
    return {week: (versions or {}).get("rulebook_hash") for week, versions in rows}


def _evaluation(d: TierDecision, rulebook_hash: str | None) -> TierEvaluation:
    return TierEvaluation(
        week=d.week,
        as_of=d.as_of,
        tier=d.tier,
        previous_tier=d.previous_tier,
        evaluated_tier=d.qualified_tier,
        change=d.change,
        reason=reason(d),
        override_reason=d.override_reason,
        rulebook_version=d.rulebook_version,
        rulebook_hash=rulebook_hash,
    )


def reason(d: TierDecision) -> str:
    """Why the partner holds this tier, in one sentence."""
    if d.change == "new":
        return f"first evaluation: the rules give {d.qualified_tier or d.tier}"
    if d.override_tier and d.tier == d.override_tier:
        until = d.override_until.date().isoformat() if d.override_until else "?"
        return f"pinned by a manager's override until {until}: {d.override_reason or ''}".strip()
    if d.change == "grace" or (d.missed_evaluations and d.tier != d.qualified_tier):
        return (
            f"qualifies only for {d.qualified_tier}; keeps {d.tier} in grace "
            f"({d.missed_evaluations} missed evaluation(s))"
        )
    if d.change in ("promoted", "demoted"):
        return f"{d.change} from {d.previous_tier}: the rules give {d.qualified_tier}"
    return f"still qualifies for {d.tier}"
