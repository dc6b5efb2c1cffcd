"""Persist one weekly run: partners, feature snapshot, tier decisions, incentive awards, plan.

`save_week` writes everything in the caller's transaction (the weekly job uses ONE
`session_scope`), so a run that fails half-way leaves the database as it was. Re-running a
week replaces what the run computed and keeps every reviewed plan action untouched.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from features.registry import KEY_COLUMNS
from serving.db.bulk import insert_rows, upsert_rows
from serving.db.models import (
    FeatureSnapshot,
    IncentiveAward,
    Partner,
    PlanAction,
    TierDecision,
    WeeklyPlan,
    utcnow,
)
from serving.db.types import jsonable

log = logging.getLogger(__name__)
SIMPLE_NAME = re.compile(r"[A-Za-z0-9_]+")  # a column name JSON writes as it is

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
OPTIONAL_PLAN_COLUMNS = ["title", "sentence", "propensity_source"]  # None when a row has none
AWARD_COLUMNS = ("partner_id", "incentive_id", "reward_type", "amount")
PLAN_ROW_COLUMNS = (
    "partner_id",
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
    incentive_cost: float | None = None  # what accrued in the ledger (None: the awards' sum)


def _plain(column: pd.Series) -> list[Any]:
    """Plain-Python values (NaN → None, numpy → Python, timestamps → datetime)."""
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        return [None if pd.isna(v) else v.to_pydatetime() for v in column]
    out = column.astype(object)
    return out.where(out.notna(), None).tolist()


def _columns(frame: pd.DataFrame, names: Sequence[str]) -> dict[str, Any]:
    return {name: _plain(frame[name]) for name in names}


def json_records(frame: pd.DataFrame, **options: Any) -> list[str]:
    """Each row of the frame as one JSON object, from one call of pandas' C encoder.

    The encoder writes one array; it is cut at the record boundaries `},{"<first column>":`,
    and the cut is used only when it yields exactly one piece per row (a boundary-like text
    inside a value would add pieces); otherwise pandas' own line splitting is used (slower).
    NaN/inf → null, floats with 15 decimals, unknown objects as their str(). `options` go to
    `DataFrame.to_json` (e.g. date_format).
    """
    if len(frame) == 0 or len(frame.columns) == 0:
        return ["{}"] * len(frame)
    options = {"double_precision": 15, "default_handler": str, **options}
    first = str(frame.columns[0])
    if SIMPLE_NAME.fullmatch(first):
        text = frame.to_json(orient="records", **options)
        head = '{"' + first + '":'
        parts = text[1:-1].split("}," + head)
        if len(parts) == len(frame):
            last = len(parts) - 1
            return [
                ("" if i == 0 else head) + part + ("" if i == last else "}")
                for i, part in enumerate(parts)
            ]
    lines = frame.to_json(orient="records", lines=True, **options)
    return lines.rstrip("\n").split("\n")


def json_lines(values: Iterable[Any]) -> list[str]:
    """Each value encoded as a JSON document, in one vectorized pass (see `json_records`).

    Strict JSON like `jsonable`: NaN/inf → null, numpy scalars as numbers, text escaped.
    """
    docs = json_records(
        pd.DataFrame({"v": pd.Series(list(values), dtype=object)}), date_format="iso"
    )
    return [doc[5:-1] for doc in docs]  # each is `{"v":<document>}`


def save_partners(session: Session, partners: pd.DataFrame, *, now: datetime) -> None:
    """Insert new partners and refresh known ones (name, type, region, owning manager)."""
    columns = _columns(partners, PARTNER_COLUMNS)
    columns["updated_at"] = now
    upsert_rows(session.connection(), Partner, columns, key="partner_id")


def save_snapshot(session: Session, features: pd.DataFrame, *, week: str, as_of: datetime) -> int:
    """Store each partner's feature row as of `as_of` (replacing an earlier run's)."""
    session.execute(delete(FeatureSnapshot).where(FeatureSnapshot.as_of == as_of))
    names = [c for c in features.columns if c not in KEY_COLUMNS]
    docs = json_records(features[names])
    columns = {
        "partner_id": features["partner_id"].astype(str).tolist(),
        "as_of": as_of,
        "week": week,
        "created_at": utcnow(),
        "features": docs,
    }
    return insert_rows(session.connection(), FeatureSnapshot, columns)


def save_decisions(
    session: Session, decisions: pd.DataFrame, *, week: str, as_of: datetime, rulebook: str
) -> None:
    session.execute(delete(TierDecision).where(TierDecision.week == week))
    columns = _columns(decisions, [c for c in DECISION_COLUMNS if c != "details"])
    columns["details"] = json_lines(d if d is not None else {} for d in decisions["details"])
    columns["missed_evaluations"] = [int(v or 0) for v in columns["missed_evaluations"]]
    columns.update(week=week, as_of=as_of, rulebook_version=rulebook)
    insert_rows(session.connection(), TierDecision, columns)


def save_awards(session: Session, awards: pd.DataFrame, *, week: str, as_of: datetime) -> float:
    session.execute(delete(IncentiveAward).where(IncentiveAward.week == week))
    columns = _columns(awards, AWARD_COLUMNS)
    columns["amount"] = [float(v or 0.0) for v in columns["amount"]]
    columns["reward_type"] = [v or "" for v in columns["reward_type"]]
    columns.update(week=week, as_of=as_of)
    insert_rows(session.connection(), IncentiveAward, columns)
    return float(sum(columns["amount"]))


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
    absent = [c for c in OPTIONAL_PLAN_COLUMNS if c not in data.plan.columns]
    plan_rows = data.plan.reindex(columns=[*data.plan.columns, *absent])
    columns = _columns(plan_rows, [c for c in PLAN_ROW_COLUMNS if c != "reasons"])
    columns["reasons"] = json_lines([] if r is None else r for r in data.plan["reasons"])
    columns["overflow"] = [bool(v) for v in columns["overflow"]]
    columns["propensity_source"] = [
        v if isinstance(v, str) and v else None for v in columns["propensity_source"]
    ]
    columns.update(plan_id=plan.id, week=data.week, status="proposed", created_at=utcnow())
    insert_rows(session.connection(), PlanAction, columns)
    return plan


def save_week(session: Session, data: WeekData) -> WeeklyPlan:
    """Write the whole week in the caller's transaction (no commit here)."""
    now = utcnow()
    rulebook = str(data.versions.get("rulebook_version", ""))
    save_partners(session, data.partners, now=now)
    save_snapshot(session, data.features, week=data.week, as_of=data.as_of)
    save_decisions(session, data.decisions, week=data.week, as_of=data.as_of, rulebook=rulebook)
    cost = save_awards(session, data.awards, week=data.week, as_of=data.as_of)
    plan = save_plan(
        session, data, incentive_cost=cost if data.incentive_cost is None else data.incentive_cost
    )
    session.flush()
    log.info(
        "stored week %s: %d partners, %d new plan actions",
        data.week,
        len(data.partners),
        len(data.plan),
    )
    return plan
