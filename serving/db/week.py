"""Persist one weekly run: partners, feature snapshot, tier decisions, incentive awards, plan.

`save_week` writes everything in the caller's transaction (the weekly job uses ONE
`session_scope`), so a run that fails half-way leaves the database as it was. Re-running a
week replaces what the run computed and keeps every reviewed plan action untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from features.registry import KEY_COLUMNS
from serving.db.models import (
    FeatureSnapshot,
    IncentiveAward,
    Partner,
    PlanAction,
    TierDecision,
    WeeklyPlan,
    utcnow,
)
from serving.db.types import RawJson, jsonable

log = logging.getLogger(__name__)
BATCH = 5000

PARTNER_COLUMNS = ("partner_id", "name", "partner_type", "region", "manager_id")
DECISION_COLUMNS = (
    "partner_id",
    "previous_tier",
    "qualified_tier",
    "tier",
    "change",
    "missed_evaluations",
    "override_tier",
    "override_reason",
    "override_until",
    "churn_risk",
    "score",
    "details",
)
AWARD_COLUMNS = ("partner_id", "incentive_id", "reward_type", "amount")
PLAN_ROW_COLUMNS = (
    "partner_id",
    "manager_id",
    "action_id",
    "rank",
    "manager_rank",
    "priority",
    "propensity",
    "value",
    "weight",
    "reasons",
    "tier",
    "churn_risk",
    "overflow",
)


@dataclass
class WeekData:
    """Everything one weekly run computed, as frames with the columns above."""

    week: str
    as_of: datetime
    partners: pd.DataFrame
    features: pd.DataFrame  # the feature frame: KEY_COLUMNS + features
    decisions: pd.DataFrame
    awards: pd.DataFrame
    plan: pd.DataFrame  # new (proposed) plan rows only; reviewed ones are already stored
    versions: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


def _records(frame: pd.DataFrame, columns: Sequence[str]) -> list[dict[str, Any]]:
    """Plain-Python row dicts (NaN → None, numpy → Python, timestamps → datetime)."""
    values = [_plain_list(frame[c]) for c in columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


def _plain_list(column: pd.Series) -> list[Any]:
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        return [None if pd.isna(v) else v.to_pydatetime() for v in column]
    out = column.astype(object)
    return out.where(out.notna(), None).tolist()


def _batches(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), BATCH):
        yield rows[start : start + BATCH]


def _insert(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Core executemany in batches (no ORM bookkeeping: 100,000s of rows per run)."""
    connection = session.connection()
    for batch in _batches(rows):
        connection.execute(insert(model.__table__), batch)


def save_partners(session: Session, partners: pd.DataFrame, *, now: datetime) -> None:
    """Insert new partners and refresh known ones (name, type, region, owning manager)."""
    rows = _records(partners, PARTNER_COLUMNS)
    for row in rows:
        row["updated_at"] = now
    known = set(session.scalars(select(Partner.partner_id)))
    _insert(session, Partner, [r for r in rows if r["partner_id"] not in known])
    changed = [r for r in rows if r["partner_id"] in known]
    for batch in _batches(changed):
        session.execute(update(Partner), batch)


def save_snapshot(session: Session, features: pd.DataFrame, *, week: str, as_of: datetime) -> int:
    """Store each partner's feature row as of `as_of` (replacing an earlier run's)."""
    session.execute(delete(FeatureSnapshot).where(FeatureSnapshot.as_of == as_of))
    names = [c for c in features.columns if c not in KEY_COLUMNS]
    encoded = features[names].to_json(orient="records", lines=True, double_precision=15)
    now = utcnow()
    rows = [
        {
            "partner_id": pid,
            "as_of": as_of,
            "week": week,
            "created_at": now,
            "features": RawJson(doc),
        }
        for pid, doc in zip(features["partner_id"].astype(str), encoded.splitlines(), strict=True)
    ]
    _insert(session, FeatureSnapshot, rows)
    return len(rows)


def save_decisions(
    session: Session, decisions: pd.DataFrame, *, week: str, as_of: datetime, rulebook: str
) -> None:
    session.execute(delete(TierDecision).where(TierDecision.week == week))
    rows = _records(decisions, DECISION_COLUMNS)
    for row in rows:
        row.update(week=week, as_of=as_of, rulebook_version=rulebook)
        row["details"] = jsonable(row["details"] or {})
        row["missed_evaluations"] = int(row["missed_evaluations"] or 0)
    _insert(session, TierDecision, rows)


def save_awards(session: Session, awards: pd.DataFrame, *, week: str, as_of: datetime) -> float:
    session.execute(delete(IncentiveAward).where(IncentiveAward.week == week))
    rows = _records(awards, AWARD_COLUMNS)
    for row in rows:
        row.update(week=week, as_of=as_of, amount=float(row["amount"] or 0.0))
        row["reward_type"] = row["reward_type"] or ""
    _insert(session, IncentiveAward, rows)
    return float(sum(r["amount"] for r in rows))


def reviewed_actions(session: Session, *, week: str) -> pd.DataFrame:
    """The week's plan actions a manager has already reviewed (kept as they are by a re-run)."""
    stmt = select(
        PlanAction.partner_id,
        PlanAction.action_id,
        PlanAction.manager_id,
        PlanAction.priority,
        PlanAction.overflow,
        PlanAction.status,
    ).where(PlanAction.week == week, PlanAction.status != "proposed")
    columns = ["partner_id", "action_id", "manager_id", "priority", "overflow", "status"]
    return pd.DataFrame([tuple(r) for r in session.execute(stmt)], columns=columns)


def save_plan(session: Session, data: WeekData, *, incentive_cost: float) -> WeeklyPlan:
    """The week's plan row and its proposed actions; reviewed actions stay as they are."""
    plan = session.scalar(select(WeeklyPlan).where(WeeklyPlan.week == data.week))
    if plan is None:
        plan = WeeklyPlan(week=data.week, as_of=data.as_of)
        session.add(plan)
    plan.as_of = data.as_of
    plan.generated_at = utcnow()
    plan.rulebook_version = str(data.versions.get("rulebook_version", ""))
    plan.versions = jsonable(data.versions)
    plan.partners_scored = len(data.partners)
    plan.incentive_cost = incentive_cost
    plan.summary = jsonable(data.summary)
    session.flush()
    session.execute(
        delete(PlanAction).where(PlanAction.week == data.week, PlanAction.status == "proposed")
    )
    rows = _records(data.plan, PLAN_ROW_COLUMNS)
    now = utcnow()
    for row in rows:
        row.update(plan_id=plan.id, week=data.week, status="proposed", created_at=now)
        row["reasons"] = [] if row["reasons"] is None else row["reasons"]
        row["overflow"] = bool(row["overflow"])
    _insert(session, PlanAction, rows)
    return plan


def save_week(session: Session, data: WeekData) -> WeeklyPlan:
    """Write the whole week in the caller's transaction (no commit here)."""
    now = utcnow()
    rulebook = str(data.versions.get("rulebook_version", ""))
    save_partners(session, data.partners, now=now)
    save_snapshot(session, data.features, week=data.week, as_of=data.as_of)
    save_decisions(session, data.decisions, week=data.week, as_of=data.as_of, rulebook=rulebook)
    cost = save_awards(session, data.awards, week=data.week, as_of=data.as_of)
    plan = save_plan(session, data, incentive_cost=cost)
    session.flush()
    log.info(
        "stored week %s: %d partners, %d new plan actions",
        data.week,
        len(data.partners),
        len(data.plan),
    )
    return plan
