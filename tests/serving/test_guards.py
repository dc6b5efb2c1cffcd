"""The shrink guard and job-run bookkeeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from serving.db import JobRun, get_engine, session_scope, upgrade
from serving.db.jobs import finish_job, last_succeeded, start_job
from serving.guards import refuse_shrink, shrink_problems
from tierwise.errors import InvalidInput

NOW = datetime(2026, 11, 30, 6, tzinfo=UTC)


def test_a_table_that_lost_most_rows_is_named() -> None:
    before = {"partners": 2000, "deals": 80_000, "surveys": 10}
    now = {"partners": 1990, "deals": 0, "surveys": 9}
    problems = shrink_problems(before, now)
    assert [p.table for p in problems] == ["deals"]
    assert "80,000" in problems[0].message and problems[0].value == 0
    with pytest.raises(InvalidInput, match="--allow-shrink"):
        refuse_shrink(before, now)


def test_growth_and_small_changes_pass() -> None:
    refuse_shrink({"deals": 100}, {"deals": 60})
    refuse_shrink({}, {"deals": 0})  # no earlier run: nothing to compare


def test_a_killed_run_leaves_a_row_marked_abandoned_at_the_next_start(tmp_path: Path) -> None:
    engine = get_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    killed = start_job(engine, job="weekly", week="2026-W48", now=NOW)  # then kill -9
    with session_scope(engine) as s:
        assert s.get(JobRun, killed).status == "running"  # committed at start
    later = start_job(engine, job="weekly", week="2026-W48", now=NOW + timedelta(hours=1))
    finish_job(engine, later, status="succeeded", now=NOW, summary={"table_rows": {"deals": 5}})
    with session_scope(engine) as s:
        rows = {r.id: r for r in s.scalars(select(JobRun))}
        assert rows[killed].status == "abandoned" and "killed" in (rows[killed].error or "")
        assert rows[later].status == "succeeded"
    last = last_succeeded(engine, job="weekly")
    assert last is not None and last.summary["table_rows"] == {"deals": 5}
