"""The weekly plan: the pure core (`plan_week`, pandas in/out) and the job (`run_week`).

Each channel manager gets at most `capacity` actions a week, the highest-priority ones; the
rest are kept as overflow. Actions already reviewed this week are pinned (never re-proposed,
never duplicated) and still count against the manager's capacity, so re-running a week gives
the same plan.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from serving import store
from serving.db import JobRun, bulk_writes, get_engine, session_scope, upgrade
from serving.db.types import jsonable
from serving.db.week import WeekData, reviewed_actions, save_week
from tierwise.errors import InvalidInput, Problem
from tierwise.settings import Settings

log = logging.getLogger(__name__)

WEEK_PATTERN = re.compile(r"^(\d{4})-W(\d{2})$")
PLAN_KEY = ["partner_id", "action_id"]


def week_start(week: str) -> datetime:
    """Monday 00:00 UTC of an ISO week such as `2026-W48`."""
    match = WEEK_PATTERN.match(week)
    if match is None:
        raise InvalidInput(
            f"'{week}' is not an ISO week", [Problem("use YYYY-Www, e.g. 2026-W48", value=week)]
        )
    try:
        day = datetime.strptime(f"{match[1]}-W{match[2]}-1", "%G-W%V-%u")
    except ValueError as exc:
        raise InvalidInput(f"'{week}' is not an ISO week", [Problem(str(exc), value=week)]) from exc
    if day.isocalendar()[:2] != (int(match[1]), int(match[2])):
        raise InvalidInput(f"'{week}' does not exist", [Problem("no such week", value=week)])
    return day.replace(tzinfo=UTC)


def week_of(moment: datetime) -> str:
    """The ISO week a moment falls in (`2026-W48`)."""
    year, number, _ = moment.astimezone(UTC).isocalendar()
    return f"{year}-W{number:02d}"


def next_week(week: str) -> str:
    return week_of(week_start(week) + timedelta(days=7))


def plan_week(
    actions: pd.DataFrame,
    *,
    owners: pd.DataFrame,
    capacity: int,
    reviewed: pd.DataFrame | None = None,
    snoozed: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Cut the recommended actions down to each manager's weekly capacity.

    actions: one row per recommended (partner_id, action_id) with `priority` (+ any columns).
    owners: partner_id → manager_id. reviewed: this week's already-reviewed actions
    (partner_id, action_id, manager_id, priority, overflow). snoozed: (partner_id, action_id)
    still snoozed from earlier weeks — left out.
    Returns the NEW rows only (reviewed ones excluded) with manager_id, manager_rank
    (1 = first in the manager's list, reviewed rows included) and overflow.
    """
    if capacity < 1:
        raise InvalidInput("capacity must be at least 1", [Problem("too small", value=capacity)])
    cands = actions.drop(columns=["manager_id"], errors="ignore").merge(
        owners[["partner_id", "manager_id"]], on="partner_id", how="left", validate="many_to_one"
    )
    missing = cands["manager_id"].isna()
    if missing.any():
        pid = cands.loc[missing, "partner_id"].iloc[0]
        raise InvalidInput(
            f"{int(missing.sum())} action(s) for partners without a channel manager",
            [Problem("no manager_id", column="manager_id", value=pid)],
        )
    cands = _without(cands, snoozed)
    pinned = _empty_reviewed() if reviewed is None else reviewed
    cands = _without(cands, pinned)
    cands["_new"] = True
    pins = pinned.assign(_new=False)[
        ["partner_id", "action_id", "manager_id", "priority", "overflow", "_new"]
    ]
    both = pd.concat([cands, pins], ignore_index=True) if len(pins) else cands
    both = both.sort_values(
        ["manager_id", "priority", "partner_id", "action_id"],
        ascending=[True, False, True, True],
        kind="mergesort",
        ignore_index=True,
    )
    both["manager_rank"] = both.groupby("manager_id", sort=False).cumcount() + 1
    pinned_in = pins.loc[~pins["overflow"].astype(bool)].groupby("manager_id").size()
    slots = (capacity - both["manager_id"].map(pinned_in).fillna(0)).clip(lower=0)
    new = both.loc[both["_new"].astype(bool)].copy()
    position = new.groupby("manager_id", sort=False).cumcount()
    new["overflow"] = position.to_numpy() >= slots.loc[new.index].to_numpy()
    new["manager_rank"] = new["manager_rank"].astype("int64")
    return new.drop(columns=["_new"]).reset_index(drop=True)


def _without(frame: pd.DataFrame, keys: pd.DataFrame | None) -> pd.DataFrame:
    if keys is None or keys.empty:
        return frame
    index = pd.MultiIndex.from_frame(keys[PLAN_KEY].astype(str))
    mine = pd.MultiIndex.from_frame(frame[PLAN_KEY].astype(str))
    return frame.loc[~mine.isin(index)].copy()


def _empty_reviewed() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "partner_id": pd.Series(dtype="str"),
            "action_id": pd.Series(dtype="str"),
            "manager_id": pd.Series(dtype="str"),
            "priority": pd.Series(dtype="float64"),
            "overflow": pd.Series(dtype="bool"),
        }
    )


# --- from recommend's frames to what the plan stores (pure) -------------------------------


def tier_decisions(decisions: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """recommend's tier decisions → stored rows, classified new/promoted/demoted/grace/override."""
    out = pd.DataFrame({"partner_id": decisions["partner_id"].astype(str).to_numpy()})
    prev = previous.set_index("partner_id")["tier"] if len(previous) else pd.Series(dtype="str")
    out["previous_tier"] = out["partner_id"].map(prev).astype(object).to_numpy()
    out["tier"] = _col(decisions, "tier").astype(str).to_numpy()
    out["qualified_tier"] = _col(decisions, "evaluated_tier", default=out["tier"]).to_numpy()
    out["missed_evaluations"] = (
        pd.to_numeric(_col(decisions, "missed_evaluations", default=0)).fillna(0).astype("int64")
    ).to_numpy()
    for name in ("override_tier", "override_reason", "override_until"):
        out[name] = _col(decisions, name, default=None).astype(object).to_numpy()
    out["churn_risk"] = pd.to_numeric(_col(decisions, "churn_risk", default=float("nan")))
    out["score"] = pd.to_numeric(_col(decisions, "overall", default=float("nan")))
    out["change"] = _change(decisions, out)
    out["details"] = pd.Series(_details(decisions), dtype=object)
    return out


def _col(frame: pd.DataFrame, *names: str, default: object = None) -> pd.Series:
    for name in names:
        if name in frame.columns:
            return frame[name].reset_index(drop=True)
    if isinstance(default, pd.Series):
        return default.reset_index(drop=True)
    return pd.Series([default] * len(frame), dtype=object)


def _change(decisions: pd.DataFrame, out: pd.DataFrame) -> pd.Series:
    change = _col(decisions, "tier_change", default="unchanged").astype(str).to_numpy()
    basis = _col(decisions, "tier_basis", default="rules").astype(str).to_numpy()
    result = pd.Series(change, dtype=object)
    result[(basis == "grace") | (out["missed_evaluations"].to_numpy() > 0)] = "grace"
    result[(basis == "override") & (change == "unchanged")] = "override"
    result[out["previous_tier"].isna().to_numpy()] = "new"
    return result


STORED_APART = {
    "partner_id",
    "manager_id",
    "as_of",
    "tier",
    "evaluated_tier",
    "tier_change",
    "missed_evaluations",
    "override_tier",
    "override_reason",
    "override_until",
    "churn_risk",
    "overall",
}


def _details(decisions: pd.DataFrame) -> list[dict[str, object]]:
    """Everything else of a decision (track, basis, deal_acceptance, the 6Cs scores)."""
    kept = [c for c in decisions.columns if c not in STORED_APART]
    if not kept:
        return [{} for _ in range(len(decisions))]
    names = [str(c) for c in kept]
    columns = [_cells(decisions[c]) for c in kept]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def _cells(column: pd.Series) -> list[object]:
    """Plain Python values; timestamps as ISO text (as `jsonable` writes them)."""
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        return [None if pd.isna(v) else v.isoformat() for v in column]
    return column.tolist()


def incentive_awards(incentives: pd.DataFrame) -> pd.DataFrame:
    """recommend's incentives → (partner_id, incentive_id, reward_type, amount)."""
    return pd.DataFrame(
        {
            "partner_id": _col(incentives, "partner_id").astype(str),
            "incentive_id": _col(incentives, "incentive_id", "id").astype(str),
            "reward_type": _col(incentives, "reward_type", "type", default=""),
            "amount": pd.to_numeric(_col(incentives, "amount", "cost", default=0.0)).fillna(0.0),
        }
    )


def summarize(
    *, week: str, partners: int, decisions: pd.DataFrame, plan: pd.DataFrame, awards: pd.DataFrame
) -> dict[str, object]:
    """The run's summary: partners scored, tier movement, actions per type, incentive cost."""
    changes = decisions["change"].value_counts()
    planned = plan.loc[~plan["overflow"].astype(bool)]
    return {
        "week": week,
        "partners_scored": partners,
        "promotions": int(changes.get("promoted", 0)),
        "demotions": int(changes.get("demoted", 0)),
        "in_grace": int(changes.get("grace", 0)),
        "overrides": int(changes.get("override", 0)),
        "actions_planned": len(planned),
        "actions_overflow": int(plan["overflow"].astype(bool).sum()),
        "actions_per_type": {
            str(k): int(v) for k, v in planned["action_id"].value_counts().items()
        },
        "managers": int(plan["manager_id"].nunique()),
        "incentive_awards": len(awards),
        "incentive_cost": float(awards["amount"].sum()),
    }


# --- the job (I/O at the edges) -------------------------------------------------------------


class Recommender(Protocol):
    """`recommend_frame` with the rulebook and models already bound."""

    def __call__(
        self, frame: pd.DataFrame, *, previous: pd.DataFrame, history: pd.DataFrame, as_of: datetime
    ) -> Any: ...


def default_recommender(settings: Settings) -> Recommender:
    """The active rulebook and the champion models, bound to `serving.recommend`."""
    from serving.recommend import recommend_frame
    from serving.state import load_from_settings

    loaded = load_from_settings(settings)

    def recommend(
        frame: pd.DataFrame, *, previous: pd.DataFrame, history: pd.DataFrame, as_of: datetime
    ) -> Any:
        return recommend_frame(
            frame,
            rulebook=loaded.rulebook,
            models=loaded.models,
            previous=previous,
            history=history,
            as_of=as_of,
        )

    return recommend


@dataclass
class WeekRun:
    """What `run_week` did: the summary, seconds per stage and the digest files."""

    summary: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    digest: list[Path] = field(default_factory=list)


def run_week(
    settings: Settings,
    *,
    data_dir: str | Path,
    week: str,
    out_dir: Path | None = None,
    recommender: Recommender | None = None,
) -> WeekRun:
    """Plan a week end to end and persist it in one transaction (idempotent per week)."""
    from features.io import load_tables
    from features.snapshot import build_features
    from serving.digest import write_digest

    as_of = week_start(week)
    timings: dict[str, float] = {}
    clock = _Clock(timings)
    engine = get_engine(settings.db_url)
    upgrade(engine)
    started = datetime.now(UTC)
    try:
        with clock("load"):
            tables = load_tables(data_dir)
        with clock("features"):
            frame = build_features(tables, as_of=as_of)
            frame = _active(frame)
        with clock("models"):
            recommend = recommender or default_recommender(settings)
        with clock("history"), session_scope(engine) as session:
            previous = store.tier_states(session, before=as_of)
            history = store.action_history(session, before=as_of)
            snoozed = store.snoozed_actions(session, at=as_of)
        with clock("recommend"):
            recs = recommend(frame, previous=previous, history=history, as_of=as_of)
            decisions = tier_decisions(recs.decisions, previous)
            awards = incentive_awards(recs.incentives)
        with clock("persist"), session_scope(engine) as session:
            reviewed = reviewed_actions(session, week=week)
            plan = plan_week(
                _plan_input(recs.actions, decisions),
                owners=frame,
                capacity=settings.manager_capacity,
                reviewed=reviewed,
                snoozed=snoozed,
            )
            summary = summarize(
                week=week,
                partners=len(frame),
                decisions=decisions,
                plan=pd.concat([plan, reviewed]),
                awards=awards,
            )
            data = WeekData(
                week=week,
                as_of=as_of,
                partners=_partners(tables, frame),
                features=frame,
                decisions=decisions,
                awards=awards,
                plan=plan,
                versions=dict(getattr(recs, "versions", {}) or {}),
                summary=summary,
            )
            with bulk_writes(session):
                save_week(session, data)
            session.add(
                JobRun(
                    job="weekly",
                    week=week,
                    started_at=started,
                    status="succeeded",
                    finished_at=datetime.now(UTC),
                    summary=jsonable(summary),
                )
            )
    except BaseException as exc:
        _record_failure(engine, week, started, exc)
        raise
    run = WeekRun(summary=summary, timings=timings)
    if out_dir is not None:
        with clock("digest"), session_scope(engine) as session:
            run.digest = write_digest(session, week=week, out_dir=Path(out_dir))
    log.info("week %s planned: %s", week, summary)
    return run


def _with(plan: pd.DataFrame, reviewed: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([plan, reviewed], ignore_index=True) if len(reviewed) else plan


def _active(frame: pd.DataFrame) -> pd.DataFrame:
    """Partners still in the program at as_of (exited ones get no plan)."""
    if "exited" not in frame.columns:
        return frame.reset_index(drop=True)
    exited = frame["exited"].astype("boolean").fillna(False).astype(bool)
    return frame.loc[~exited].reset_index(drop=True)


def _partners(tables: Any, frame: pd.DataFrame) -> pd.DataFrame:
    partners = tables.partners.loc[
        :, ["partner_id", "name", "partner_type", "region", "manager_id"]
    ]
    return partners.loc[partners["partner_id"].isin(frame["partner_id"])]


def _plan_input(actions: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
    extra = decisions[["partner_id", "tier", "churn_risk"]]
    out = actions.drop(columns=["tier", "churn_risk"], errors="ignore")
    return out.merge(extra, on="partner_id", how="left")


def _record_failure(engine: Any, week: str, started: datetime, exc: BaseException) -> None:
    try:
        with session_scope(engine) as session:
            session.add(
                JobRun(
                    job="weekly",
                    week=week,
                    started_at=started,
                    status="failed",
                    finished_at=datetime.now(UTC),
                    error=repr(exc)[:2000],
                )
            )
    except Exception:  # the original error matters more
        log.exception("could not record the failed weekly run")


class _Clock:
    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - start
