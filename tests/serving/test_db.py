"""The schema, migrations and column types — on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import DBAPIError

from serving.db import (
    AuditEntry,
    Base,
    JobRun,
    current_revision,
    downgrade,
    get_engine,
    head_revision,
    session_scope,
    upgrade,
)
from tests.serving._db import BACKENDS, database_url, upgraded_engine
from tierwise.errors import Forbidden


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with upgraded_engine(request.param, tmp_path) as eng:
        yield eng


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


def _audit(**kw: object) -> AuditEntry:
    base = dict(actor="ann", role="manager", what="accept", target="plan_action", target_id="1")
    return AuditEntry(**{**base, **kw})


def test_upgrade_creates_every_table_of_an_empty_database(empty_url: str) -> None:
    engine = get_engine(empty_url)
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())


def test_upgrade_twice_is_harmless(engine: Engine) -> None:
    upgrade(engine)
    assert current_revision(engine) == head_revision()


def test_migrations_match_the_models(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_downgrade_removes_every_table(engine: Engine) -> None:
    downgrade(engine)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}


def test_timestamps_come_back_as_utc(engine: Engine) -> None:
    paris = timezone(timedelta(hours=1))
    started = datetime(2026, 11, 23, 9, 30, tzinfo=paris)
    with session_scope(engine) as session:
        session.add(JobRun(job="weekly", started_at=started, status="running"))
    with session_scope(engine) as session:
        got = session.scalars(select(JobRun.started_at)).one()
    assert got == started
    assert got.tzinfo is not None and got.utcoffset() == timedelta(0)


def test_naive_timestamps_are_refused(engine: Engine) -> None:
    with pytest.raises(Exception, match="naive datetime"), session_scope(engine) as session:
        session.add(JobRun(job="weekly", started_at=datetime(2026, 1, 1), status="running"))


def test_session_scope_rolls_back_when_the_block_raises(engine: Engine) -> None:
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        session.add(JobRun(job="weekly", started_at=datetime.now(UTC), status="running"))
        session.flush()
        raise RuntimeError("killed half-way")
    with session_scope(engine) as session:
        assert session.scalars(select(JobRun)).all() == []


def test_audit_rows_cannot_be_changed_through_the_orm(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(_audit())
    with pytest.raises(Forbidden), session_scope(engine) as session:
        entry = session.scalars(select(AuditEntry)).one()
        entry.what = "dismiss"
    with pytest.raises(Forbidden), session_scope(engine) as session:
        session.delete(session.scalars(select(AuditEntry)).one())


@pytest.mark.parametrize("sql", ["UPDATE review_audit SET what = 'x'", "DELETE FROM review_audit"])
def test_the_database_itself_refuses_audit_changes(engine: Engine, sql: str) -> None:
    with session_scope(engine) as session:
        session.add(_audit())
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(sql))
    with session_scope(engine) as session:
        assert session.scalars(select(AuditEntry.what)).all() == ["accept"]


def test_json_columns_keep_structure(engine: Engine) -> None:
    before = {"status": "proposed", "nested": [1, 2.5, None]}
    with session_scope(engine) as session:
        session.add(_audit(before=before, after={"status": "accepted"}))
    with session_scope(engine) as session:
        entry = session.scalars(select(AuditEntry)).one()
    assert entry.before == before
    assert entry.after == {"status": "accepted"}
