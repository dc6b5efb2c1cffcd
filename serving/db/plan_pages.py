"""Pages of a week's plan for machines: filters and keyset (cursor) pagination.

The order is the plan's own (manager, in-capacity before overflow, manager rank, id); a cursor
is the last row's sort key, so a page never repeats or skips a row however far one reads.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import func, or_, select, tuple_
from sqlalchemy.orm import Session

from serving.db.models import Partner, PlanAction, WeeklyPlan
from serving.db.queries import PLAN_COLUMNS, PLAN_SELECT
from tierwise.errors import InvalidInput, Problem

SORT = (PlanAction.manager_id, PlanAction.overflow, PlanAction.manager_rank, PlanAction.id)


@dataclass(frozen=True)
class PlanFilter:
    manager_id: str | None = None
    partner_id: str | None = None
    action_id: str | None = None
    statuses: Sequence[str] = ()
    updated_since: datetime | None = None
    include_overflow: bool = False


def encode_cursor(row: Mapping[Any, Any]) -> str:
    key = [row["manager_id"], bool(row["overflow"]), int(row["manager_rank"]), int(row["id"])]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, bool, int, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        manager, overflow, rank, ident = json.loads(raw)
        return str(manager), bool(overflow), int(rank), int(ident)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(
            "Not a cursor of this API",
            [Problem("pass next_cursor as it came", column="query.cursor", value=cursor)],
        ) from exc


def plan_page(
    session: Session, *, week: str, where: PlanFilter, cursor: str | None, limit: int
) -> tuple[pd.DataFrame, str | None]:
    """Up to `limit` actions after the cursor, and the cursor of the next page (or None)."""
    stmt = (
        select(*PLAN_SELECT)
        .outerjoin(Partner, Partner.partner_id == PlanAction.partner_id)
        .where(PlanAction.week == week)
        .order_by(*SORT)
        .limit(limit + 1)
    )
    for condition in _conditions(where):
        stmt = stmt.where(condition)
    if cursor is not None:
        stmt = stmt.where(tuple_(*SORT) > tuple_(*decode_cursor(cursor)))
    rows = session.execute(stmt).all()
    frame = pd.DataFrame([tuple(r) for r in rows[:limit]], columns=list(PLAN_COLUMNS))
    for column in ("snooze_until", "reviewed_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    more = len(rows) > limit
    return frame, encode_cursor(frame.iloc[-1].to_dict()) if more else None


def _conditions(where: PlanFilter) -> list[Any]:
    out: list[Any] = []
    if where.manager_id is not None:
        out.append(PlanAction.manager_id == where.manager_id)
    if where.partner_id is not None:
        out.append(PlanAction.partner_id == where.partner_id)
    if where.action_id is not None:
        out.append(PlanAction.action_id == where.action_id)
    if where.statuses:
        out.append(PlanAction.status.in_(list(where.statuses)))
    if not where.include_overflow:
        out.append(PlanAction.overflow.is_(False))
    if where.updated_since is not None:
        since = where.updated_since
        out.append(or_(PlanAction.reviewed_at >= since, PlanAction.created_at >= since))
    return out


def plan_weeks(session: Session, *, limit: int = 104) -> list[dict[str, Any]]:
    """The weeks that have a plan, newest first, with their size."""
    counts = (
        select(PlanAction.week, func.count().label("actions")).group_by(PlanAction.week).subquery()
    )
    rows = session.execute(
        select(
            WeeklyPlan.week,
            WeeklyPlan.as_of,
            WeeklyPlan.generated_at,
            WeeklyPlan.partners_scored,
            func.coalesce(counts.c.actions, 0),
        )
        .outerjoin(counts, counts.c.week == WeeklyPlan.week)
        .order_by(WeeklyPlan.as_of.desc())
        .limit(limit)
    ).all()
    keys = ("week", "as_of", "generated_at", "partners_scored", "actions")
    return [dict(zip(keys, row, strict=True)) for row in rows]
