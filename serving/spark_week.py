"""The weekly job's Spark engine: the pandas functions per partner bucket, then per manager.

    run_week(settings, data_dir=..., week=W, out_dir=O,
             engine=SparkWeek(spark, data="s3a://…/program", buckets=64))

1. Every table is cut into partner-hash buckets (`features.spark.buckets`); the stored tier
   states and action history join their partners' buckets. Ids that must be unique across
   partners (deals, customers) are checked across buckets first (`duplicate_keys`).
2. `groupBy("bucket").applyInArrow`: per bucket, the SAME `build_features`, `recommend_frame`
   (the recommender — rulebook + champion models — is broadcast once and unpickled once per
   Python worker), `tier_decisions`, `incentive_awards` and `plan_actions` as the pandas engine.
3. `groupBy("manager_id").applyInArrow`: each manager's capacity by the SAME
   `allocate_capacity` (this week's reviewed actions pinned, snoozed ones left out).
4. The driver collects the frames (Arrow) into a `WeekComputed`; `run_week` persists it with
   the shared code. With `sink="parquet"` the executors write decisions and awards per bucket
   to the output folder and only the plan comes to the driver.
"""

from __future__ import annotations

import hashlib
import pickle
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import pyarrow as pa

from features.spark.buckets import (
    blobs_of,
    bucket_blobs,
    bucket_tables,
    by_bucket,
    duplicate_keys,
    families,
    frames_blobs,
    read_tables,
    table_rows,
)
from features.spark.frames import concat_frames, from_blob, to_blob
from features.spark.session import buckets_for, worker_errors, worker_job
from features.spark.snapshot import fresh_folder
from rules.model import Rulebook
from serving.week_steps import WeekComputed, WeekContext, ledger_frame, usable_overrides
from serving.weekly_plan import (
    allocate_capacity,
    incentive_awards,
    plan_actions,
    summarize,
    tier_decisions,
)

OUT_SCHEMA = "bucket int, kind string, manager_id string, payload binary"
PREVIOUS, HISTORY = "_previous", "_history"
DRIVER_KINDS = ("partners", "features", "ledger", "incentives", "decisions", "awards")
SLIM_KINDS = ("changes", "amounts")  # what a parquet sink brings back for the summary
_WORKER_CACHE: dict[str, Any] = {}  # recommender per Python worker, by its digest


@dataclass
class SparkWeek:
    """The Spark engine over a data folder (any Hadoop URI) or catalog tables."""

    spark: Any
    data: str | None = None
    table_prefix: str | None = None
    buckets: int = 0  # 0: `features.spark.session.buckets_for` the rows per table
    sink: str = "db"
    out_uri: str | None = None  # where executors write with sink="parquet"
    _tables: dict[str, Any] | None = None
    bucket_timings: pd.DataFrame | None = None  # seconds, partners, events per bucket

    def tables(self) -> dict[str, Any]:
        if self._tables is None:
            self._tables = read_tables(self.spark, data=self.data, table_prefix=self.table_prefix)
        return self._tables

    def table_rows(self) -> dict[str, int]:
        rows = table_rows(self.tables())
        if self.buckets <= 0:
            conf = dict(self.spark.sparkContext.getConf().getAll())
            self.buckets = buckets_for(rows, conf)
        return rows

    def compute(self, ctx: WeekContext) -> WeekComputed:
        from pyspark import StorageLevel
        from pyspark.sql import functions as sf

        started = time.perf_counter()
        if self.buckets <= 0:
            self.table_rows()
        duplicate_keys(self.tables(), label=str(self.data or self.table_prefix))
        state = {PREVIOUS: ctx.state.previous, HISTORY: ctx.state.history}
        stored = {k: v for k, v in state.items() if len(v)}
        family = families(self.tables())  # a distributor and its resellers share a bucket
        tops = _family_map(family) if family is not None and stored else None
        blobs = bucket_blobs(self.tables(), buckets=self.buckets, family=family).unionByName(
            frames_blobs(self.spark, stored, buckets=self.buckets, family=tops)
        )
        if self.sink == "parquet" and self.out_uri:
            for name in ("decisions", "awards"):
                fresh_folder(f"{self.out_uri.rstrip('/')}/{name}.parquet")
        recommender = self.spark.sparkContext.broadcast(pickle_bytes(ctx.recommend))
        per_bucket = BucketJob(
            recommender=recommender,
            week=ctx.week,
            as_of=ctx.as_of,
            year_start=ctx.book.calendar.year_start,
            out_uri=self.out_uri if self.sink == "parquet" else None,
            book=ctx.book,
            no_previous=ctx.state.previous.iloc[:0],
            no_history=ctx.state.history.iloc[:0],
        )
        out = by_bucket(blobs, self.buckets).applyInArrow(worker_job(per_bucket), OUT_SCHEMA)
        out = out.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            per_manager = ManagerJob(
                capacity=ctx.capacity,
                reviewed=ctx.state.reviewed,
                snoozed=ctx.state.snoozed,
                per_partner=ctx.book.slots_per_partner,
                caps=dict(ctx.book.action_caps),
                keep_overflow=self.sink == "db",
            )
            actions = out.where(sf.col("kind") == "actions")
            plans = actions.groupBy("manager_id").applyInArrow(worker_job(per_manager), OUT_SCHEMA)
            kinds = [*(DRIVER_KINDS if self.sink == "db" else SLIM_KINDS), "ignored", "versions"]
            collected = out.where(sf.col("kind").isin([*kinds, "timing"])).unionByName(plans)
            with worker_errors():
                found = _by_kind(collected.toArrow())
        finally:
            out.unpersist()
            recommender.unpersist()
        ctx.timings["spark"] = time.perf_counter() - started
        return self._computed(found, ctx)

    def _computed(self, found: Mapping[str, list[Any]], ctx: WeekContext) -> WeekComputed:
        frames = {k: _sorted(concat_frames(v)) for k, v in found.items() if k != "versions"}
        self.bucket_timings = frames.get("timing", pd.DataFrame())
        empty = pd.DataFrame()
        plan = frames.get("plan", empty)
        overflow = frames.get("overflow", empty)
        decisions = frames.get("decisions", frames.get("changes", empty))
        awards = frames.get("awards", frames.get("amounts", empty))
        both = plan if ctx.state.reviewed.empty else pd.concat([plan, ctx.state.reviewed])
        summary = summarize(
            week=ctx.week, partners=len(decisions), decisions=decisions, plan=both, awards=awards
        )
        if len(overflow):  # the parquet sink counts overflow per manager instead of collecting it
            summary["actions_overflow"] = int(overflow["overflow"].sum())
        ignored = frames.get("ignored", empty)
        summary["overrides_ignored"] = ignored.to_dict("records") if len(ignored) else []
        versions = pickle.loads(found["versions"][0]) if found.get("versions") else {}
        written: tuple[str, ...] = ()
        if self.sink == "parquet" and self.out_uri:
            written = tuple(f"{self.out_uri}/{n}.parquet" for n in ("decisions", "awards"))
        return WeekComputed(
            partners=frames.get("partners", empty),
            features=frames.get("features", empty),
            ledger=frames.get("ledger", empty),
            incentives=frames.get("incentives", empty),
            decisions=decisions,
            awards=awards,
            plan=plan,
            reviewed=ctx.state.reviewed,
            versions=versions,
            summary=summary,
            written=written,
        )


def _family_map(family: Any) -> dict[str, str]:
    """partner_id → family id on the driver, for the stored frames (only the partners that
    belong to another's family)."""
    from pyspark.sql import functions as sf

    moved = family.where(sf.col("partner_id") != sf.col("family")).toArrow()
    pids = moved.column("partner_id").to_pylist()
    return dict(zip(pids, moved.column("family").to_pylist(), strict=True))


def pickle_bytes(value: Any) -> bytes:
    from pyspark import cloudpickle

    return bytes(cloudpickle.dumps(value))


def _cached_recommender(payload: bytes) -> Any:
    key = hashlib.sha256(payload).hexdigest()
    if key not in _WORKER_CACHE:
        _WORKER_CACHE.clear()  # one recommender per worker at a time
        _WORKER_CACHE[key] = pickle.loads(payload)
    return _WORKER_CACHE[key]


@dataclass
class BucketJob:
    """Step 2 for one bucket: features → recommend → decisions, awards, actions (as blobs)."""

    recommender: Any  # a Broadcast of the pickled recommender
    week: str
    as_of: datetime
    year_start: int
    out_uri: str | None  # set: write decisions/awards parts here (sink parquet)
    book: Rulebook  # for the overrides check (the recommender decides with the same)
    no_previous: pd.DataFrame  # zero-row templates for a bucket without stored state
    no_history: pd.DataFrame

    def __call__(self, table: pa.Table) -> pa.Table:
        from features.snapshot import build_features
        from serving.weekly import active, named, partner_rows

        started = time.perf_counter()
        bucket = int(table.column("bucket")[0].as_py())
        pieces: dict[str, list[pd.DataFrame]] = defaultdict(list)
        for name, frame in blobs_of(table):
            pieces[name].append(frame)
        state = {k: concat_frames(pieces.pop(k, [])) for k in (PREVIOUS, HISTORY)}
        tables = bucket_tables(pieces, label=f"bucket {bucket}")
        frame = build_features(tables, as_of=self.as_of, year_start=self.year_start)
        frame = named(active(frame), tables)
        rows = _Rows(bucket)
        if len(frame):
            recommend = _cached_recommender(self.recommender.value)
            previous = state[PREVIOUS] if len(state[PREVIOUS].columns) else self.no_previous
            history = state[HISTORY] if len(state[HISTORY].columns) else self.no_history
            previous, ignored = usable_overrides(self.book, frame, previous, self.as_of)
            recs = recommend(frame, previous=previous, history=history, as_of=self.as_of)
            decisions = tier_decisions(recs.decisions, previous)
            awards = incentive_awards(recs.incentives)
            actions = plan_actions(recs.actions, decisions).merge(
                frame[["partner_id", "manager_id"]], on="partner_id", how="left"
            )
            for manager, part in actions.groupby("manager_id", dropna=False, sort=True):
                rows.add("actions", part, manager=None if pd.isna(manager) else str(manager))
            if self.out_uri:
                _write_part(self.out_uri, "decisions", bucket, decisions)
                _write_part(self.out_uri, "awards", bucket, awards)
                rows.add("changes", decisions[["partner_id", "change"]])
                rows.add("amounts", awards[["partner_id", "amount"]])
            else:
                rows.add("partners", partner_rows(tables.partners, frame))
                rows.add("features", frame)
                rows.add("ledger", ledger_frame(frame, recs.decisions))
                rows.add("incentives", recs.incentives)
                rows.add("decisions", decisions)
                rows.add("awards", awards)
            if ignored:
                rows.add("ignored", pd.DataFrame(ignored))
            rows.raw("versions", pickle.dumps(dict(recs.versions)))
        events = sum(len(f) for n, f in tables.items() if n != "partners")
        seconds = time.perf_counter() - started
        rows.add("timing", _timing(bucket, seconds, len(frame), events))
        return rows.table()


@dataclass
class ManagerJob:
    """Step 3 for one manager: the SAME `allocate_capacity` over the manager's actions."""

    capacity: int
    reviewed: pd.DataFrame
    snoozed: pd.DataFrame
    per_partner: int
    caps: dict[str, int]
    keep_overflow: bool

    def __call__(self, table: pa.Table) -> pa.Table:
        actions = concat_frames([from_blob(p) for p in table.column("payload").to_pylist()])
        manager = table.column("manager_id")[0].as_py()
        reviewed = self.reviewed
        if len(reviewed):
            reviewed = reviewed.loc[reviewed["manager_id"].astype(str) == str(manager)]
        plan = allocate_capacity(
            actions,
            owners=actions[["partner_id", "manager_id"]].drop_duplicates("partner_id"),
            capacity=self.capacity,
            reviewed=reviewed,
            snoozed=self.snoozed,
            per_partner=self.per_partner,
            caps=self.caps,
        )
        rows = _Rows(-1)
        overflow = plan["overflow"].astype(bool)
        if not self.keep_overflow:
            rows.add("overflow", pd.DataFrame({"overflow": [int(overflow.sum())]}), manager=manager)
            plan = plan.loc[~overflow]
        rows.add("plan", plan, manager=manager)
        return rows.table()


class _Rows:
    """The output rows of one group: (bucket, kind, manager_id, payload)."""

    def __init__(self, bucket: int) -> None:
        self.bucket = bucket
        self.kinds: list[str] = []
        self.managers: list[str | None] = []
        self.payloads: list[bytes] = []

    def add(self, kind: str, frame: pd.DataFrame, manager: str | None = None) -> None:
        self.raw(kind, to_blob(frame), manager)

    def raw(self, kind: str, payload: bytes, manager: str | None = None) -> None:
        self.kinds.append(kind)
        self.managers.append(manager)
        self.payloads.append(payload)

    def table(self) -> pa.Table:
        n = len(self.kinds)
        return pa.table(
            {
                "bucket": pa.array([self.bucket] * n, pa.int32()),
                "kind": pa.array(self.kinds, pa.string()),
                "manager_id": pa.array(self.managers, pa.string()),
                "payload": pa.array(self.payloads, pa.binary()),
            }
        )


def _timing(bucket: int, seconds: float, partners: int, events: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"bucket": [bucket], "seconds": [seconds], "partners": [partners], "events": [events]}
    )


def _write_part(out_uri: str, name: str, bucket: int, frame: pd.DataFrame) -> None:
    from features.spark.snapshot import write_part
    from serving.weekly import parquet_ready

    write_part(out_uri, bucket, parquet_ready(frame), name=name)


def _by_kind(table: pa.Table) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = defaultdict(list)
    kinds = table.column("kind").to_pylist()
    for kind, payload in zip(kinds, table.column("payload").to_pylist(), strict=True):
        found[kind].append(payload if kind == "versions" else from_blob(payload))
    return found


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """Buckets arrive in any order: partner frames in partner order, plans by manager rank."""
    if "manager_rank" in frame.columns:
        return frame.sort_values(["manager_id", "manager_rank"], ignore_index=True)
    keys = [c for c in ("partner_id", "incentive_id", "action_id") if c in frame.columns]
    if not keys:
        return frame
    return frame.sort_values(keys, kind="mergesort", ignore_index=True)
