"""Reads and review writes on the service database (the weekly job writes in serving/db/week.py).

Keyword-only, session-first functions; frames come back typed (UTC timestamps) even when empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from serving.db.models import (
    FeatureSnapshot,
    IncentiveAward,
    Partner,
    PlanAction,
    TierDecision,
    TierOverride,
    WeeklyPlan,
)

CHUNK = 5000  # ids per IN (...) list: far below SQLite's and PostgreSQL's parameter limits

TIER_STATE_COLUMNS = (
    "partner_id",
    "tier",
    "missed_evaluations",
    "override_tier",
    "override_reason",
    "override_until",
)
HISTORY_COLUMNS = ("partner_id", "action_id", "last_done_or_dismissed_at")
PLAN_COLUMNS = (
    "id",
    "week",
    "partner_id",
    "partner_name",
    "region",
    "partner_type",
    "manager_id",
    "action_id",
    "rank",
    "manager_rank",
    "priority",
    "propensity",
    "propensity_source",
    "value",
    "weight",
    "reasons",
    "title",
    "sentence",
    "tier",
    "churn_risk",
    "overflow",
    "status",
    "snooze_until",
    "dismiss_reason",
    "reviewed_by",
    "reviewed_at",
)


def _chunks(ids: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), CHUNK):
        yield list(ids[start : start + CHUNK])


def _utc(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for column in columns:
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def _frame(rows: Sequence[Any], columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame([tuple(r) for r in rows], columns=list(columns))


def _rows_by_partner(
    session: Session, stmt: Any, column: Any, partner_ids: Iterable[str] | None
) -> list[Any]:
    if partner_ids is None:
        return list(session.execute(stmt).all())
    rows: list[Any] = []
    for chunk in _chunks(list(dict.fromkeys(partner_ids))):
        rows.extend(session.execute(stmt.where(column.in_(chunk))).all())
    return rows


# --- the seams the scoring service calls -------------------------------------------------


def latest_snapshot(session: Session, partner_id: str) -> tuple[dict[str, Any], datetime] | None:
    """The partner's most recent stored feature row and its as_of, or None."""
    row = session.execute(
        select(FeatureSnapshot.features, FeatureSnapshot.as_of)
        .where(FeatureSnapshot.partner_id == partner_id)
        .order_by(FeatureSnapshot.as_of.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return dict(row.features), row.as_of


def snapshot_at(session: Session, partner_id: str, *, as_of: datetime) -> dict[str, Any] | None:
    """The partner's stored feature row as of exactly `as_of` (a weekly run's), or None."""
    row = session.execute(
        select(FeatureSnapshot.features).where(
            (FeatureSnapshot.partner_id == partner_id) & (FeatureSnapshot.as_of == as_of)
        )
    ).first()
    return None if row is None else dict(row.features)


def tier_states(
    session: Session, partner_ids: Iterable[str] | None = None, *, before: datetime | None = None
) -> pd.DataFrame:
    """Each partner's latest tier state (decided before `before`, if given) and its override.

    Columns: partner_id, tier, missed_evaluations, override_tier, override_reason,
    override_until. Partners never evaluated have no row. `partner_ids=None` means all.
    """
    latest = select(TierDecision.partner_id, func.max(TierDecision.as_of).label("as_of")).group_by(
        TierDecision.partner_id
    )
    if before is not None:
        latest = latest.where(TierDecision.as_of < before)
    sub = latest.subquery()
    stmt = (
        select(
            TierDecision.partner_id,
            TierDecision.tier,
            TierDecision.missed_evaluations,
            TierOverride.tier,
            TierOverride.reason,
            TierOverride.until,
        )
        .join(
            sub, (sub.c.partner_id == TierDecision.partner_id) & (sub.c.as_of == TierDecision.as_of)
        )
        .outerjoin(TierOverride, TierOverride.partner_id == TierDecision.partner_id)
    )
    rows = _rows_by_partner(session, stmt, TierDecision.partner_id, partner_ids)
    frame = _frame(rows, TIER_STATE_COLUMNS)
    frame["missed_evaluations"] = frame["missed_evaluations"].astype("int64")
    return _utc(frame, "override_until").sort_values("partner_id", ignore_index=True)


def action_history(
    session: Session, partner_ids: Iterable[str] | None = None, *, before: datetime | None = None
) -> pd.DataFrame:
    """When each (partner, action) was last done or dismissed: what the contact policy needs.

    Columns: partner_id, action_id, last_done_or_dismissed_at (UTC). The time is the review
    placed inside its plan's week, so replaying past weeks stays consistent.
    """
    stmt = (
        select(PlanAction.partner_id, PlanAction.action_id, func.max(PlanAction.decided_at))
        .where(PlanAction.status.in_(("done", "dismissed")), PlanAction.decided_at.is_not(None))
        .group_by(PlanAction.partner_id, PlanAction.action_id)
    )
    if before is not None:
        stmt = stmt.where(PlanAction.decided_at < before)
    rows = _rows_by_partner(session, stmt, PlanAction.partner_id, partner_ids)
    frame = _utc(_frame(rows, HISTORY_COLUMNS), "last_done_or_dismissed_at")
    return frame.sort_values(["partner_id", "action_id"], ignore_index=True)


def snoozed_actions(session: Session, *, at: datetime) -> pd.DataFrame:
    """(partner_id, action_id, snooze_until) still snoozed at `at`: left out of new plans."""
    stmt = (
        select(PlanAction.partner_id, PlanAction.action_id, func.max(PlanAction.snooze_until))
        .where(PlanAction.status == "snoozed", PlanAction.snooze_until > at)
        .group_by(PlanAction.partner_id, PlanAction.action_id)
    )
    frame = _frame(session.execute(stmt).all(), ("partner_id", "action_id", "snooze_until"))
    return _utc(frame, "snooze_until")


def partner_managers(session: Session) -> dict[str, str]:
    """partner_id → manager_id for every known partner."""
    rows = session.execute(select(Partner.partner_id, Partner.manager_id)).all()
    return {str(p): str(m) for p, m in rows}


def partner_owner(session: Session, partner_id: str) -> str | None:
    """The channel manager who owns the partner, or None for an unknown partner."""
    return session.scalar(select(Partner.manager_id).where(Partner.partner_id == partner_id))


# --- what the review page and the plans API read ------------------------------------------


def latest_week(session: Session) -> str | None:
    """The newest week that has a plan."""
    return session.scalar(select(WeeklyPlan.week).order_by(WeeklyPlan.as_of.desc()).limit(1))


def get_plan(session: Session, week: str) -> WeeklyPlan | None:
    return session.scalar(select(WeeklyPlan).where(WeeklyPlan.week == week))


# what a plan row is read as (pages, exports, the API): PLAN_COLUMNS, selected
PLAN_SELECT = (
    PlanAction.id,
    PlanAction.week,
    PlanAction.partner_id,
    Partner.name,
    Partner.region,
    Partner.partner_type,
    PlanAction.manager_id,
    PlanAction.action_id,
    PlanAction.rank,
    PlanAction.manager_rank,
    PlanAction.priority,
    PlanAction.propensity,
    PlanAction.propensity_source,
    PlanAction.value,
    PlanAction.weight,
    PlanAction.reasons,
    PlanAction.title,
    PlanAction.sentence,
    PlanAction.tier,
    PlanAction.churn_risk,
    PlanAction.overflow,
    PlanAction.status,
    PlanAction.snooze_until,
    PlanAction.dismiss_reason,
    PlanAction.reviewed_by,
    PlanAction.reviewed_at,
)


def plan_actions(
    session: Session, *, week: str, manager_id: str | None = None, include_overflow: bool = True
) -> pd.DataFrame:
    """The week's actions with partner name/region, ranked per manager (manager_id=None: all)."""
    stmt = (
        select(*PLAN_SELECT)
        .outerjoin(Partner, Partner.partner_id == PlanAction.partner_id)
        .where(PlanAction.week == week)
        .order_by(PlanAction.manager_id, PlanAction.overflow, PlanAction.manager_rank)
    )
    if manager_id is not None:
        stmt = stmt.where(PlanAction.manager_id == manager_id)
    if not include_overflow:
        stmt = stmt.where(PlanAction.overflow.is_(False))
    frame = _frame(session.execute(stmt).all(), PLAN_COLUMNS)
    return _utc(frame, "snooze_until", "reviewed_at")


def tier_changes(session: Session, *, week: str, manager_id: str | None = None) -> pd.DataFrame:
    """The week's tier decisions that are not `unchanged` (promoted, demoted, grace, …)."""
    stmt = (
        select(
            TierDecision.partner_id,
            Partner.name,
            Partner.region,
            Partner.manager_id,
            TierDecision.previous_tier,
            TierDecision.qualified_tier,
            TierDecision.tier,
            TierDecision.change,
            TierDecision.missed_evaluations,
            TierDecision.churn_risk,
        )
        .join(Partner, Partner.partner_id == TierDecision.partner_id)
        .where(TierDecision.week == week, TierDecision.change.not_in(("unchanged", "new")))
        .order_by(TierDecision.change, TierDecision.partner_id)
    )
    if manager_id is not None:
        stmt = stmt.where(Partner.manager_id == manager_id)
    columns = (
        "partner_id",
        "partner_name",
        "region",
        "manager_id",
        "previous_tier",
        "qualified_tier",
        "tier",
        "change",
        "missed_evaluations",
        "churn_risk",
    )
    return _frame(session.execute(stmt).all(), columns)


def week_decisions(session: Session, *, week: str, manager_id: str | None = None) -> pd.DataFrame:
    """Every tier decision of the week (tier, churn risk) for a manager's partners."""
    stmt = (
        select(
            TierDecision.partner_id,
            TierDecision.tier,
            TierDecision.change,
            TierDecision.churn_risk,
            Partner.region,
            Partner.manager_id,
        )
        .join(Partner, Partner.partner_id == TierDecision.partner_id)
        .where(TierDecision.week == week)
    )
    if manager_id is not None:
        stmt = stmt.where(Partner.manager_id == manager_id)
    columns = ("partner_id", "tier", "change", "churn_risk", "region", "manager_id")
    return _frame(session.execute(stmt).all(), columns)


def incentive_awards(session: Session, *, week: str, manager_id: str | None = None) -> pd.DataFrame:
    """The week's incentive awards (partner, incentive, reward type, amount, owning manager)."""
    stmt = (
        select(
            IncentiveAward.partner_id,
            Partner.name,
            IncentiveAward.incentive_id,
            IncentiveAward.reward_type,
            IncentiveAward.amount,
            Partner.manager_id,
        )
        .join(Partner, Partner.partner_id == IncentiveAward.partner_id)
        .where(IncentiveAward.week == week)
        .order_by(IncentiveAward.amount.desc(), IncentiveAward.partner_id)
    )
    if manager_id is not None:
        stmt = stmt.where(Partner.manager_id == manager_id)
    columns = ("partner_id", "partner_name", "incentive_id", "reward_type", "amount", "manager_id")
    return _frame(session.execute(stmt).all(), columns)


def get_partner(session: Session, partner_id: str) -> Partner | None:
    return session.get(Partner, partner_id)


def tier_history(session: Session, partner_id: str) -> list[TierDecision]:
    """The partner's tier decisions, newest first."""
    stmt = (
        select(TierDecision)
        .where(TierDecision.partner_id == partner_id)
        .order_by(TierDecision.as_of.desc())
    )
    return list(session.scalars(stmt))


def partner_actions(session: Session, partner_id: str) -> list[PlanAction]:
    """Every action ever planned for the partner and what became of it, newest week first."""
    stmt = (
        select(PlanAction)
        .where(PlanAction.partner_id == partner_id)
        .order_by(PlanAction.week.desc(), PlanAction.rank)
    )
    return list(session.scalars(stmt))


def get_action(session: Session, action_id: int) -> PlanAction | None:
    return session.get(PlanAction, action_id)
