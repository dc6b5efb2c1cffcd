"""The weekly job: load the program, recommend, plan the week, persist it in one transaction.

`run_week` is the I/O around the pure core: the ISO-week calendar is `serving.weeks`, the
plan itself (`Recommendations` in, `WeekPlan` out) is `serving.weekly_plan.plan_week`. It runs
in two steps (`serving.week_steps`): an engine computes the week — `PandasWeek` here, in one
process, or `serving.spark_week.SparkWeek` per partner bucket — and `persist_week` writes it
the same way for both. Re-running a week is idempotent; a failed run leaves the database as
it was and a `job_runs` row saying why. `plan.parquet` and the per-manager digests are
written after the commit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import pandas as pd

from rules.model import Rulebook
from serving.db import get_engine, session_scope, upgrade
from serving.db.jobs import finish_job, last_succeeded, start_job
from serving.db.week import json_lines
from serving.digest import write_digest
from serving.guards import refuse_shrink, table_sizes
from serving.recommend import PARTNER_NAME, Recommendations
from serving.week_steps import (
    Recommender,
    WeekComputed,
    WeekContext,
    ledger_frame,
    persist_week,
    read_state,
    succeed,
    usable_overrides,
    write_plan_file,
)
from serving.weekly_plan import plan_week
from serving.weeks import week_start
from tierwise.errors import InvalidInput, Problem
from tierwise.settings import Settings

log = logging.getLogger(__name__)
Sink = Literal["db", "parquet"]
SINKS = ("db", "parquet")
__all__ = ["Recommender", "WeekComputed", "WeekContext", "ledger_frame", "run_week"]


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


@dataclass
class WeekRun:
    """What `run_week` did: the summary, seconds per stage and the files written."""

    summary: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    digest: list[Path] = field(default_factory=list)
    plan_file: Path | None = None
    written: tuple[str, ...] = ()


class WeekEngine(Protocol):
    """How a week is computed: pandas in this process, or Spark (`serving.spark_week`)."""

    def table_rows(self) -> dict[str, int]: ...

    def compute(self, ctx: WeekContext) -> WeekComputed: ...


def run_week(
    settings: Settings,
    *,
    data_dir: str | Path,
    week: str,
    out_dir: Path | None = None,
    recommender: Recommender | None = None,
    allow_shrink: bool = False,
    engine: WeekEngine | None = None,
    sink: Sink = "db",
) -> WeekRun:
    """Plan a week end to end and persist it in one transaction (idempotent per week).

    A `running` job_runs row is committed first (a killed run leaves it; the next start marks
    it abandoned). The job refuses a program whose tables shrank sharply since the last
    successful run unless `allow_shrink`; an override naming a tier outside the partner's
    track is reported in the summary and the partner planned without it. `engine` computes
    (default: pandas over `data_dir`); `sink="parquet"` writes the week's frames to `out_dir`
    instead of the database (the job row is still recorded; no ledger, no digest).
    """
    if sink not in SINKS:
        raise InvalidInput("unknown sink", [Problem(f"one of {SINKS}", column="sink", value=sink)])
    if sink == "parquet" and out_dir is None:
        raise InvalidInput("--sink parquet needs an output folder", [Problem("no --out")])
    as_of = week_start(week)
    timings: dict[str, float] = {}
    clock = _Clock(timings)
    source = engine or PandasWeek(data_dir)
    db = get_engine(settings.db_url)
    upgrade(db)
    run_id = start_job(db, job="weekly", week=week, now=datetime.now(UTC))
    try:
        with clock("models"):
            recommend = recommender or default_recommender(settings)
            book = rulebook_of(recommend, settings)
        with clock("load"):
            sizes = source.table_rows()
            if not allow_shrink:
                last = last_succeeded(db, job="weekly")
                refuse_shrink((last.summary if last else {}).get("table_rows", {}), sizes)
        with clock("history"):
            state = read_state(db, week=week, as_of=as_of)
        ctx = WeekContext(week, as_of, recommend, book, state, settings.manager_capacity, timings)
        computed = source.compute(ctx)
        computed = replace(computed, summary={**computed.summary, "table_rows": sizes})
        with clock("persist"):
            if sink == "db":
                summary = persist_week(
                    db, run_id=run_id, computed=computed, book=book, week=week, as_of=as_of
                )
            else:
                summary = dict(computed.summary)
                written = write_frames(computed, out_dir=Path(str(out_dir)))
                computed = replace(computed, written=(*computed.written, *written))
                with session_scope(db) as session:
                    succeed(session, run_id, summary)
    except BaseException as exc:
        _record_failure(db, run_id, exc)
        raise
    run = WeekRun(summary=summary, timings=timings, written=computed.written)
    if out_dir is not None:
        run.plan_file = write_plan_file(computed.plan, week=week, out_dir=Path(out_dir))
        if sink == "db":
            with clock("digest"), session_scope(db) as session:
                run.digest = write_digest(session, week=week, out_dir=Path(out_dir))
    log.info("week %s planned: %s", week, summary)
    return run


@dataclass
class PandasWeek:
    """The pandas engine: the whole program in this process."""

    data_dir: str | Path
    _tables: Any = None

    def tables(self) -> Any:
        from features.io import load_tables

        if self._tables is None:
            self._tables = load_tables(self.data_dir)
        return self._tables

    def table_rows(self) -> dict[str, int]:
        return table_sizes(self.tables())

    def compute(self, ctx: WeekContext) -> WeekComputed:
        from features.snapshot import build_features

        clock = _Clock(ctx.timings)
        tables = self.tables()
        with clock("features"):
            frame = build_features(tables, as_of=ctx.as_of, year_start=ctx.book.calendar.year_start)
            frame = named(active(frame), tables)
        previous, ignored = usable_overrides(ctx.book, frame, ctx.state.previous, ctx.as_of)
        with clock("recommend"):
            recs = ctx.recommend(
                frame, previous=previous, history=ctx.state.history, as_of=ctx.as_of
            )
        with clock("plan"):
            planned = plan_week(
                recs,
                week=ctx.week,
                owners=frame,
                previous=previous,
                capacity=ctx.capacity,
                reviewed=ctx.state.reviewed,
                snoozed=ctx.state.snoozed,
            )
        return WeekComputed(
            partners=partner_rows(tables.partners, frame),
            features=frame,
            ledger=ledger_frame(frame, recs.decisions),
            incentives=recs.incentives,
            decisions=planned.decisions,
            awards=planned.awards,
            plan=planned.plan,
            reviewed=ctx.state.reviewed,
            versions=dict(recs.versions),
            summary={**planned.summary, "overrides_ignored": ignored},
        )


def write_frames(computed: WeekComputed, *, out_dir: Path) -> list[str]:
    """`--sink parquet`: the week's decisions and awards as Parquet in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in (("decisions", computed.decisions), ("awards", computed.awards)):
        if name in {Path(w).stem for w in computed.written}:
            continue  # the engine wrote it already (Spark: per bucket, on the executors)
        path = out_dir / f"{name}.parquet"
        parquet_ready(frame).to_parquet(path, index=False)
        written.append(str(path))
    return written


def parquet_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its free-form dict column (`details`) as JSON text."""
    if "details" not in frame.columns:
        return frame
    return frame.assign(details=json_lines(d if d is not None else {} for d in frame["details"]))


def active(frame: pd.DataFrame) -> pd.DataFrame:
    """Partners still in the program at as_of (exited ones get no plan)."""
    if "exited" not in frame.columns:
        return frame.reset_index(drop=True)
    exited = frame["exited"].astype("boolean").fillna(False).astype(bool)
    return frame.loc[~exited].reset_index(drop=True)


def named(frame: pd.DataFrame, tables: Any) -> pd.DataFrame:
    """The frame with each partner's name (what the reason sentences call it)."""
    names = tables.partners.set_index("partner_id")["name"]
    return frame.assign(**{PARTNER_NAME: frame["partner_id"].map(names).to_numpy()})


def partner_rows(partners: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """What the database keeps of each planned partner."""
    rows = partners.loc[:, ["partner_id", "name", "partner_type", "region", "manager_id"]]
    return rows.loc[rows["partner_id"].isin(frame["partner_id"])]


def _record_failure(engine: Any, run_id: int, exc: BaseException) -> None:
    try:
        finish_job(engine, run_id, status="failed", now=datetime.now(UTC), error=repr(exc))
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
