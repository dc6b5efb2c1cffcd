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

from serving.db import JobRun, bulk_writes, events, get_engine, queries, session_scope, upgrade
from serving.db.types import jsonable
from serving.db.week import WeekData, reviewed_actions, save_week
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


def default_recommender(settings: Settings) -> Recommender:
    """The active rulebook and the champion models, bound to `serving.recommend`."""
    from serving.recommend import recommend_frame
    from serving.service_state import load_from_settings

    loaded = load_from_settings(settings)

    def recommend(
        frame: pd.DataFrame, *, previous: pd.DataFrame, history: pd.DataFrame, as_of: datetime
    ) -> Recommendations:
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
            frame = _named(_active(frame), tables)
        with clock("models"):
            recommend = recommender or default_recommender(settings)
        with clock("history"), session_scope(engine) as session:
            previous = queries.tier_states(session, before=as_of)
            history = queries.action_history(session, before=as_of)
            snoozed = queries.snoozed_actions(session, at=as_of)
        with clock("recommend"):
            recs = recommend(frame, previous=previous, history=history, as_of=as_of)
        with clock("persist"), session_scope(engine) as session:
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
            summary = planned.summary
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
