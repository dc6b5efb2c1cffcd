"""JSON API of the weekly plan: read a week's plan, review an action.

Managers see and review only their own partners' actions; admins see every manager's.
Errors are problem+json via tierwise.errors (403 another manager's action, 404 unknown,
409 an impossible transition, 422 invalid input).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import AwareDatetime
from sqlalchemy.orm import Session

from serving.auth import Principal, require_role
from serving.db import PlanAction, queries
from serving.db.plan_pages import PlanFilter, plan_page, plan_weeks
from serving.db.reviews import review_action
from serving.deps import SessionDep
from serving.etag import json_answer
from serving.problems import PROBLEM_JSON
from serving.schemas.plans import PlanActionPublic, PlanPublic, PlanWeeks, ReviewRequest
from serving.weeks import week_start
from tierwise.errors import Forbidden, InvalidInput, NotFound, Problem

router = APIRouter(tags=["weekly plan"])


ReviewerDep = Annotated[Principal, Depends(require_role("manager", "admin"))]
ReaderDep = Annotated[Principal, Depends(require_role("manager", "admin", "integration"))]


def _problem(status: int, title: str, detail: str) -> dict[str, Any]:
    example = {
        "type": "https://tierwise.dev/problems/" + title.lower().replace(" ", "-"),
        "title": title,
        "status": status,
        "detail": detail,
    }
    return {"description": title, "content": {PROBLEM_JSON: {"example": example}}}


WeekParam = Annotated[
    str, Path(pattern=r"^(latest|\d{4}-W(0[1-9]|[1-4]\d|5[0-3]))$", examples=["2026-W48"])
]
ActionId = Annotated[int, Path(ge=1, le=2_147_483_647)]  # a database integer
ERRORS: dict[int | str, dict[str, Any]] = {
    400: _problem(400, "Bad request", "There was an error parsing the body"),
    401: _problem(401, "Unauthorized", "An API key is required"),
    403: _problem(403, "Forbidden", "Action 12 belongs to another channel manager's partner"),
    404: _problem(404, "Not found", "No plan for week 2026-W48"),
    409: _problem(409, "Conflict", "Action 12 is done; it cannot become accepted"),
    422: _problem(422, "Invalid input", "A dismissal needs a reason"),
}


def _records(frame: Any) -> list[PlanActionPublic]:
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [PlanActionPublic.model_validate(r) for r in rows]


def visible_manager(principal: Principal, requested: str | None) -> str | None:
    """The manager whose actions the caller may see: their own, or any (admin, integration)."""
    if principal.role in ("admin", "integration"):
        return requested
    if requested is not None and requested != principal.manager_id:
        raise Forbidden(
            f"'{principal.manager_id}' may not see the plan of '{requested}'",
            [Problem("not your plan", column="manager_id", value=requested)],
        )
    return principal.manager_id


Status = Literal["proposed", "accepted", "dismissed", "snoozed", "done"]


@router.get("/v1/plans", response_model=PlanWeeks, responses=ERRORS)
def list_weeks(principal: ReaderDep, session: SessionDep) -> PlanWeeks:
    """The weeks that have a plan, newest first (then `GET /v1/plans/{week}`)."""
    return PlanWeeks.model_validate({"weeks": plan_weeks(session)})


@router.get("/v1/plans/{week}", response_model=PlanPublic, responses=ERRORS)
def get_plan(
    request: Request,
    week: WeekParam,
    principal: ReaderDep,
    session: SessionDep,
    manager_id: Annotated[str | None, Query(description="Admins: one manager's plan")] = None,
    include_overflow: bool = False,
    partner_id: Annotated[str | None, Query(max_length=200)] = None,
    action_id: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[list[Status] | None, Query(description="Only these statuses")] = None,
    updated_since: Annotated[
        AwareDatetime | None, Query(description="Only actions created or reviewed since then")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Actions per page")] = 500,
    cursor: Annotated[str | None, Query(max_length=500, description="next_cursor")] = None,
) -> Response:
    """A week's plan (`2026-W48` or `latest`), a page at a time: a manager gets their own."""
    if week == "latest":
        week = queries.latest_week(session) or ""
    else:
        try:
            week_start(week)
        except InvalidInput as exc:  # well-formed but no such ISO week (2025-W53): no plan
            raise NotFound(f"No plan for week {week}", exc.problems) from exc
    plan = queries.get_plan(session, week) if week else None
    if plan is None:
        raise NotFound(f"No plan for week {week or 'latest'}", [Problem("no plan", value=week)])
    manager = visible_manager(principal, manager_id)
    where = PlanFilter(
        manager_id=manager,
        partner_id=partner_id,
        action_id=action_id,
        statuses=tuple(status or ()),
        updated_since=updated_since,
        include_overflow=include_overflow,
    )
    actions, next_cursor = plan_page(session, week=week, where=where, cursor=cursor, limit=limit)
    answer = PlanPublic(
        week=plan.week,
        as_of=plan.as_of,
        generated_at=plan.generated_at,
        versions=plan.versions,
        partners_scored=plan.partners_scored,
        incentive_cost=plan.incentive_cost,
        manager_id=manager,
        actions=_records(actions),
        next_cursor=next_cursor,
    )
    return json_answer(request, answer)


@router.post("/v1/actions/{action_id}/review", response_model=PlanActionPublic, responses=ERRORS)
def review(
    action_id: ActionId, body: ReviewRequest, principal: ReviewerDep, session: SessionDep
) -> PlanActionPublic:
    """Accept, dismiss (reason), snooze (until) or mark done one action; audited."""
    action = review_action(
        session,
        action_id=action_id,
        reviewer=principal,
        decision=body.decision,
        reason=body.reason,
        until=body.until,
        now=datetime.now(UTC),
    )
    return action_public(session, action)


def action_public(session: Session, action: PlanAction) -> PlanActionPublic:
    partner = queries.get_partner(session, action.partner_id)
    fields = {c: getattr(action, c) for c in PlanActionPublic.model_fields if hasattr(action, c)}
    fields["partner_name"] = partner.name if partner else None
    fields["region"] = partner.region if partner else None
    return PlanActionPublic.model_validate(fields)
