"""The weekly job's two steps and the typed seam between them.

*Compute* is engine-specific (pandas in one process: `serving.weekly.PandasWeek`; Spark per
partner bucket: `serving.spark_week.SparkWeek`) and turns the program plus the stored state
into a `WeekComputed`. *Persist* is shared: `persist_week` writes a `WeekComputed` in ONE
transaction (ledger, snapshot, decisions, awards, plan, events, the job's success), so the
ledger, events and guards behave the same whichever engine computed the week.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from rules.model import Rulebook
from serving.db import JobRun, bulk_writes, events, queries, session_scope
from serving.db.ledger import record_week
from serving.db.types import jsonable
from serving.db.week import WeekData, reviewed_actions, save_week
from serving.overrides import invalid_overrides, override_report, without_overrides
from serving.recommend import Recommendations
from tierwise.errors import Conflict, Problem

log = logging.getLogger(__name__)

PLAN_FILE = "plan.parquet"
PLAN_FILE_COLUMNS = [
    "week",
    "manager_id",
    "partner_id",
    "action_id",
    "rank",
    "manager_rank",
    "priority",
    "tier",
    "reasons",
]


class Recommender(Protocol):
    """`recommend_frame` with the rulebook and models already bound."""

    def __call__(
        self, frame: pd.DataFrame, *, previous: pd.DataFrame, history: pd.DataFrame, as_of: datetime
    ) -> Recommendations: ...


@dataclass(frozen=True)
class StoredState:
    """What the database says before a week is computed (read once, before compute)."""

    previous: pd.DataFrame  # tier states before as_of (queries.tier_states)
    history: pd.DataFrame  # last done/dismissed per partner × action (queries.action_history)
    snoozed: pd.DataFrame  # partner_id, action_id still snoozed at as_of
    reviewed: pd.DataFrame  # this week's reviewed plan actions (pinned by the plan)


@dataclass(frozen=True)
class WeekContext:
    """Everything an engine needs besides the program's tables."""

    week: str
    as_of: datetime
    recommend: Recommender
    book: Rulebook
    state: StoredState
    capacity: int
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class WeekComputed:
    """The seam: what an engine computed for a week, as frames (see `persist_week`).

    `features` is the planned feature frame (snapshot), `ledger` what the ledger reads per
    partner (features + tier, track, model outputs), `incentives` the raw awards it accrues;
    `decisions`, `awards` and `plan` are `serving.weekly_plan.WeekPlan`'s (plan: new rows,
    overflow included); `reviewed` the pinned rows the plan was cut around. An engine that
    already wrote its outputs elsewhere (Spark's `--sink parquet`) leaves the frames it did
    not bring to the driver empty and names what it wrote in `written`.
    """

    partners: pd.DataFrame
    features: pd.DataFrame
    ledger: pd.DataFrame
    incentives: pd.DataFrame
    decisions: pd.DataFrame
    awards: pd.DataFrame
    plan: pd.DataFrame
    reviewed: pd.DataFrame
    versions: Mapping[str, Any]
    summary: Mapping[str, Any]
    written: tuple[str, ...] = ()


def read_state(engine: Any, *, week: str, as_of: datetime) -> StoredState:
    with session_scope(engine) as session:
        return StoredState(
            previous=queries.tier_states(session, before=as_of),
            history=queries.action_history(session, before=as_of),
            snoozed=queries.snoozed_actions(session, at=as_of),
            reviewed=reviewed_actions(session, week=week),
        )


def ledger_frame(frame: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
    """What the ledger reads per partner: features + decided tier/track + model outputs."""
    decided = [c for c in ("tier", "track", "churn_risk", "deal_acceptance") if c in decisions]
    right = decisions[["partner_id", *decided]].astype({"partner_id": str})
    left = frame.drop(columns=decided, errors="ignore").astype({"partner_id": str})
    return left.merge(right, on="partner_id", how="left", validate="one_to_one")


def usable_overrides(
    book: Rulebook, frame: pd.DataFrame, previous: pd.DataFrame, as_of: datetime
) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """`previous` without overrides outside the partner's track, and what was dropped."""
    if previous.empty or "override_tier" not in previous or previous["override_tier"].isna().all():
        return previous, []
    bad = invalid_overrides(book, frame, previous, as_of=as_of)
    if bad.empty:
        return previous, []
    report = override_report(bad)
    for item in report:
        log.warning(
            "ignoring the override of %s: '%s' is not a tier of track '%s' (tiers: %s)",
            item["partner_id"],
            item["override_tier"],
            item["track"],
            item["allowed"],
        )
    return without_overrides(previous, bad["partner_id"]), report


def persist_week(
    engine: Any, *, run_id: int, computed: WeekComputed, book: Rulebook, week: str, as_of: datetime
) -> dict[str, Any]:
    """Write a computed week in one transaction; the job row succeeds in that transaction.

    Refuses (409, nothing written) when a manager reviewed an action of this week while it was
    computed: the plan was cut around the reviews read before, so it must be run again.
    """
    with session_scope(engine) as session:
        _same_reviews(computed.reviewed, reviewed_actions(session, week=week), week=week)
        ledger = record_week(
            session,
            book=book,
            awards=computed.incentives,
            frame=computed.ledger,
            as_of=as_of,
            week=week,
        )
        summary = {**computed.summary, **ledger.summary()}  # the cost is what accrued
        data = WeekData(
            week=week,
            as_of=as_of,
            partners=computed.partners,
            features=computed.features,
            decisions=computed.decisions,
            awards=computed.awards,
            plan=computed.plan,
            versions=dict(computed.versions),
            summary=summary,
            incentive_cost=ledger.cost,
        )
        with bulk_writes(session):
            save_week(session, data)
            events.record_week(  # plan.ready, partner.tier_changed, incentive.awarded
                session,
                week=week,
                as_of=as_of,
                decisions=data.decisions,
                awards=data.awards,
                summary=jsonable(summary),
                versions=data.versions,
            )
        succeed(session, run_id, summary)
    return summary


def succeed(session: Any, run_id: int, summary: Mapping[str, Any]) -> None:
    job = session.get(JobRun, run_id)
    if job is not None:
        job.status, job.finished_at = "succeeded", datetime.now(UTC)
        job.summary = jsonable(dict(summary))


def _same_reviews(before: pd.DataFrame, now: pd.DataFrame, *, week: str) -> None:
    def keys(frame: pd.DataFrame) -> set[tuple[str, str]]:
        pairs = zip(frame["partner_id"].astype(str), frame["action_id"].astype(str), strict=True)
        return set(pairs)

    new = sorted(keys(now) - keys(before))
    if new:
        raise Conflict(
            f"{len(new)} action(s) of {week} were reviewed while the week was computed; "
            "run the week again",
            [
                Problem("reviewed meanwhile", column="partner_id/action_id", value="/".join(k))
                for k in new[:20]
            ],
        )


def plan_file_frame(plan: pd.DataFrame, *, week: str) -> pd.DataFrame:
    """One row per planned action (overflow left out), in a stable order, for `plan.parquet`."""
    planned = plan.loc[~plan["overflow"].astype(bool)]
    out = pd.DataFrame(
        {
            "week": week,
            "manager_id": planned["manager_id"].astype(str).to_numpy(),
            "partner_id": planned["partner_id"].astype(str).to_numpy(),
            "action_id": planned["action_id"].astype(str).to_numpy(),
            "rank": planned["rank"].astype("int64").to_numpy(),
            "manager_rank": planned["manager_rank"].astype("int64").to_numpy(),
            "priority": pd.to_numeric(planned["priority"]).astype("float64").to_numpy(),
            "tier": planned["tier"].astype(str).to_numpy(),
            "reasons": [list(map(str, r)) for r in planned["reasons"]],
        },
        columns=PLAN_FILE_COLUMNS,
    )
    return out.sort_values(["manager_id", "manager_rank"], ignore_index=True)


def write_plan_file(plan: pd.DataFrame, *, week: str, out_dir: Path) -> Path:
    path = Path(out_dir) / PLAN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    plan_file_frame(plan, week=week).to_parquet(path, index=False)
    return path
