"""The weekly job: load the program, recommend, plan the week, persist it in one transaction.

`run_week` is the I/O around the pure core: the ISO-week calendar is `serving.weeks`, the
plan itself (`Recommendations` in, `WeekPlan` out) is `serving.weekly_plan.plan_week`.
Re-running a week is idempotent; a failed run leaves the database as it was and a
`job_runs` row saying why. Per-manager digests are written after the commit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from rules.model import Rulebook
from serving.db import JobRun, bulk_writes, events, get_engine, queries, session_scope, upgrade
from serving.db.jobs import finish_job, last_succeeded, start_job
from serving.db.ledger import record_week
from serving.db.types import jsonable
from serving.db.week import WeekData, reviewed_actions, save_week
from serving.guards import refuse_shrink, table_sizes
from serving.overrides import invalid_overrides, override_report, without_overrides
from serving.recommend import PARTNER_NAME, Recommendations
from serving.weekly_plan import plan_week
from serving.weeks import week_start
from tierwise.settings import Settings

log = logging.getLogger(__name__)


class Recommender(Protocol):
    """`recommend_frame` with the rulebook and models already bound."""

    def __call__(
        self, frame: pd.DataFrame, *, previous: pd.DataFrame, history: pd.DataFrame, as_of: datetime
    ) -> Recommendations: ...


@dataclass
class BoundRecommender:
    """`recommend_frame` bound to a rulebook and models (the rulebook also runs the ledger)."""

    rulebook: Rulebook
    models: Any

    def __call__(
        self, frame: pd.DataFrame, *, previous: pd.DataFrame, history: pd.DataFrame, as_of: datetime
    ) -> Recommendations:
        from serving.recommend import recommend_frame

        return recommend_frame(
            frame,
            rulebook=self.rulebook,
            models=self.models,
            previous=previous,
            history=history,
            as_of=as_of,
        )


def default_recommender(settings: Settings) -> Recommender:
    """The active rulebook and the champion models, bound to `serving.recommend`."""
    from serving.service_state import load_from_settings

    loaded = load_from_settings(settings)
    return BoundRecommender(loaded.rulebook, loaded.models)


def rulebook_of(recommend: Recommender, settings: Settings) -> Rulebook:
    """The rulebook a recommender decides with (the active one if it does not say)."""
    book = getattr(recommend, "rulebook", None)
    if isinstance(book, Rulebook):
        return book
    from rules.loader import load_rulebook

    return load_rulebook(settings.rules_dir)


def ledger_frame(frame: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
    """What the ledger reads per partner: features + decided tier/track + model outputs."""
    decided = [c for c in ("tier", "track", "churn_risk", "deal_acceptance") if c in decisions]
    right = decisions[["partner_id", *decided]].astype({"partner_id": str})
    left = frame.drop(columns=decided, errors="ignore").astype({"partner_id": str})
    return left.merge(right, on="partner_id", how="left", validate="one_to_one")


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
    allow_shrink: bool = False,
) -> WeekRun:
    """Plan a week end to end and persist it in one transaction (idempotent per week).

    A `running` job_runs row is committed first (a killed run leaves it; the next start marks
    it abandoned). The job refuses a program whose tables shrank sharply since the last
    successful run unless `allow_shrink`; an override naming a tier outside the partner's
    track is reported in the summary and the partner planned without it.
    """
    from features.io import load_tables
    from features.snapshot import build_features
    from serving.digest import write_digest

    as_of = week_start(week)
    timings: dict[str, float] = {}
    clock = _Clock(timings)
    engine = get_engine(settings.db_url)
    upgrade(engine)
    run_id = start_job(engine, job="weekly", week=week, now=datetime.now(UTC))
    try:
        with clock("models"):
            recommend = recommender or default_recommender(settings)
            book = rulebook_of(recommend, settings)
        with clock("load"):
            tables = load_tables(data_dir)
            sizes = table_sizes(tables)
            if not allow_shrink:
                last = last_succeeded(engine, job="weekly")
                refuse_shrink((last.summary if last else {}).get("table_rows", {}), sizes)
        with clock("features"):
            frame = build_features(tables, as_of=as_of, year_start=book.calendar.year_start)
            frame = _named(_active(frame), tables)
        with clock("history"), session_scope(engine) as session:
            previous = queries.tier_states(session, before=as_of)
            history = queries.action_history(session, before=as_of)
            snoozed = queries.snoozed_actions(session, at=as_of)
        previous, ignored = _usable_overrides(settings, frame, previous, as_of)
        with clock("recommend"):
            recs = recommend(frame, previous=previous, history=history, as_of=as_of)
        with clock("persist"), session_scope(engine) as session:
            with clock("ledger"):  # part of persist: the same transaction
                ledger = record_week(
                    session,
                    book=book,
                    awards=recs.incentives,
                    frame=ledger_frame(frame, recs.decisions),
                    as_of=as_of,
                    week=week,
                )
            reviewed = reviewed_actions(session, week=week)
            planned = plan_week(
                recs,
                week=week,
                owners=frame,
                previous=previous,
                capacity=settings.manager_capacity,
                reviewed=reviewed,
                snoozed=snoozed,
            )
            summary = {
                **planned.summary,
                **ledger.summary(),  # the cost is what accrued
                "table_rows": sizes,
                "overrides_ignored": ignored,
            }
            data = WeekData(
                week=week,
                as_of=as_of,
                partners=_partners(tables, frame),
                features=frame,
                decisions=planned.decisions,
                awards=planned.awards,
                plan=planned.plan,
                versions=dict(recs.versions),
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
            job = session.get(JobRun, run_id)  # succeeded in the plan's own transaction
            if job is not None:
                job.status, job.finished_at = "succeeded", datetime.now(UTC)
                job.summary = jsonable(summary)
    except BaseException as exc:
        _record_failure(engine, run_id, exc)
        raise
    run = WeekRun(summary=summary, timings=timings)
    if out_dir is not None:
        with clock("digest"), session_scope(engine) as session:
            run.digest = write_digest(session, week=week, out_dir=Path(out_dir))
    log.info("week %s planned: %s", week, summary)
    return run


def _active(frame: pd.DataFrame) -> pd.DataFrame:
    """Partners still in the program at as_of (exited ones get no plan)."""
    if "exited" not in frame.columns:
        return frame.reset_index(drop=True)
    exited = frame["exited"].astype("boolean").fillna(False).astype(bool)
    return frame.loc[~exited].reset_index(drop=True)


def _named(frame: pd.DataFrame, tables: Any) -> pd.DataFrame:
    """The frame with each partner's name (what the reason sentences call it)."""
    names = tables.partners.set_index("partner_id")["name"]
    return frame.assign(**{PARTNER_NAME: frame["partner_id"].map(names).to_numpy()})


def _partners(tables: Any, frame: pd.DataFrame) -> pd.DataFrame:
    partners = tables.partners.loc[
        :, ["partner_id", "name", "partner_type", "region", "manager_id"]
    ]
    return partners.loc[partners["partner_id"].isin(frame["partner_id"])]


def _record_failure(engine: Any, run_id: int, exc: BaseException) -> None:
    try:
        finish_job(engine, run_id, status="failed", now=datetime.now(UTC), error=repr(exc))
    except Exception:  # the original error matters more
        log.exception("could not record the failed weekly run")


def _usable_overrides(
    settings: Settings, frame: pd.DataFrame, previous: pd.DataFrame, as_of: datetime
) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """`previous` without overrides outside the partner's track, and what was dropped."""
    if previous.empty or "override_tier" not in previous or previous["override_tier"].isna().all():
        return previous, []
    from rules import load_rulebook

    bad = invalid_overrides(load_rulebook(settings.rules_dir), frame, previous, as_of=as_of)
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
