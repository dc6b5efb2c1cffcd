"""Job runs: a `running` row committed when a job starts, closed when it ends.

A job killed with `kill -9` cannot record its failure; its `running` row stays, and the next
start of the same job marks it `abandoned`, so every run leaves a row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update

from serving.db.engine import session_scope
from serving.db.models import JobRun
from serving.db.types import jsonable


def start_job(engine: Engine, *, job: str, week: str | None, now: datetime) -> int:
    """Mark earlier `running` rows of this job abandoned; commit a new `running` row."""
    with session_scope(engine) as session:
        session.execute(
            update(JobRun)
            .where(JobRun.job == job, JobRun.status == "running")
            .values(
                status="abandoned",
                finished_at=now,
                error="still running when a later run started (killed?)",
            )
        )
        run = JobRun(job=job, week=week, started_at=now, status="running", summary={})
        session.add(run)
        session.flush()
        return int(run.id)


def finish_job(
    engine: Engine,
    run_id: int,
    *,
    status: str,
    now: datetime,
    summary: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """Close a run: succeeded (with its summary) or failed (with the error)."""
    with session_scope(engine) as session:
        run = session.get(JobRun, run_id)
        if run is None:
            return
        run.status, run.finished_at = status, now
        if summary is not None:
            run.summary = jsonable(summary)
        if error is not None:
            run.error = error[:2000]


def last_succeeded(engine: Engine, *, job: str) -> JobRun | None:
    """The latest succeeded run of a job (its summary holds e.g. the table sizes)."""
    with session_scope(engine) as session:
        run = session.scalars(
            select(JobRun)
            .where(JobRun.job == job, JobRun.status == "succeeded")
            .order_by(JobRun.started_at.desc())
            .limit(1)
        ).first()
        if run is not None:
            session.expunge(run)
        return run
