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


# --- bulk writes (the weekly job's path: COPY on PostgreSQL, executemany on SQLite) --------

HOSTILE = "t\tn\nb\\s \"q\" 's' é \\N NULL"  # COPY's separators, escapes and NULL


def _award_columns(n: int, **over: object) -> dict[str, object]:
    columns: dict[str, object] = {
        "partner_id": [f"P{i}" for i in range(n)],
        "week": "2026-W48",
        "as_of": datetime(2026, 11, 23, 1, 0, tzinfo=timezone(timedelta(hours=1))),
        "incentive_id": [HOSTILE if i == 0 else f"inc{i}" for i in range(n)],
        "reward_type": "mdf",
        "amount": [float(i) + 0.5 for i in range(n)],
    }
    return {**columns, **over}


@pytest.mark.parametrize("portable", [False, True], ids=["fast", "portable"])
def test_bulk_insert_round_trips_every_kind_of_value(engine: Engine, portable: bool) -> None:
    from serving.db import PlanAction, WeeklyPlan
    from serving.db.bulk import insert_rows

    as_of = datetime(2026, 11, 23, tzinfo=UTC)
    with session_scope(engine) as session:
        plan = WeeklyPlan(week="2026-W48", as_of=as_of)
        session.add(plan)
        session.flush()
        columns = {
            "plan_id": plan.id,
            "week": "2026-W48",
            "partner_id": ["P1", "P2"],
            "manager_id": ["m1", "m2"],
            "action_id": [HOSTILE, "call"],
            "rank": [2.0, 1],  # a float rank from a NaN-widened column is stored as an int
            "manager_rank": [1, 2],
            "priority": [1.5, 1e300],
            "propensity": [0.25, 0.0],
            "value": [10.0, -3.0],
            "weight": [1.0, 2.0],
            "reasons": ['["a \\u00e9 \\"b\\""]', '[{"x": null, "y": [1, 2.5]}]'],
            "tier": ["Gold", None],
            "churn_risk": [None, 0.75],
            "overflow": [True, False],
            "status": "proposed",
            "snooze_until": [datetime(2026, 12, 1, 8, tzinfo=timezone(timedelta(hours=2))), None],
            "created_at": as_of,
        }
        assert insert_rows(session.connection(), PlanAction, columns, portable=portable) == 2
    with session_scope(engine) as session:
        rows = session.scalars(select(PlanAction).order_by(PlanAction.partner_id)).all()
    first, second = rows
    assert (first.action_id, first.rank, first.priority, first.overflow) == (HOSTILE, 2, 1.5, True)
    assert first.reasons == ['a é "b"'] and second.reasons == [{"x": None, "y": [1, 2.5]}]
    assert first.tier == "Gold" and second.tier is None
    assert first.churn_risk is None and second.churn_risk == 0.75
    assert second.priority == 1e300 and second.overflow is False
    assert first.snooze_until == datetime(2026, 12, 1, 6, tzinfo=UTC)
    assert first.snooze_until.tzinfo is not None and second.snooze_until is None
    assert first.created_at == as_of and first.plan_id == second.plan_id


@pytest.mark.parametrize("portable", [False, True], ids=["fast", "portable"])
def test_bulk_upsert_inserts_new_rows_and_refreshes_known_ones(
    engine: Engine, portable: bool
) -> None:
    from serving.db import Partner
    from serving.db.bulk import upsert_rows

    def partners(ids: list[str], manager: str, at: datetime) -> dict[str, object]:
        return {
            "partner_id": ids,
            "name": [f"{HOSTILE} {i}" for i in ids],
            "partner_type": "VAR",
            "region": "EMEA",
            "manager_id": manager,
            "updated_at": at,
        }

    first, later = datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC)
    with session_scope(engine) as session:
        upsert_rows(
            session.connection(), Partner, partners(["a", "b"], "m1", first), key="partner_id"
        )
    with session_scope(engine) as session:
        upsert_rows(
            session.connection(),
            Partner,
            partners(["b", "c"], "m2", later),
            key="partner_id",
            portable=portable,
        )
    with session_scope(engine) as session:
        got = session.execute(
            select(
                Partner.partner_id, Partner.manager_id, Partner.updated_at, Partner.name
            ).order_by(Partner.partner_id)
        ).all()
    assert [tuple(r) for r in got] == [
        ("a", "m1", first, f"{HOSTILE} a"),
        ("b", "m2", later, f"{HOSTILE} b"),
        ("c", "m2", later, f"{HOSTILE} c"),
    ]


def test_bulk_writes_roll_back_with_the_transaction(engine: Engine) -> None:
    from serving.db import IncentiveAward, Partner
    from serving.db.bulk import insert_rows, upsert_rows

    with pytest.raises(RuntimeError, match="killed"), session_scope(engine) as session:
        insert_rows(session.connection(), IncentiveAward, _award_columns(3))
        upsert_rows(
            session.connection(),
            Partner,
            {
                "partner_id": ["a"],
                "name": "A",
                "partner_type": "VAR",
                "region": "NA",
                "manager_id": "m1",
                "updated_at": datetime.now(UTC),
            },
            key="partner_id",
        )
        raise RuntimeError("killed half-way")
    with session_scope(engine) as session:
        assert session.scalars(select(IncentiveAward)).all() == []
        assert session.scalars(select(Partner)).all() == []


def test_bulk_insert_of_many_rows_goes_in_batches(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from serving.db import IncentiveAward, bulk

    monkeypatch.setattr(bulk, "BATCH", 7)
    with session_scope(engine) as session:
        assert bulk.insert_rows(session.connection(), IncentiveAward, _award_columns(30)) == 30
    with session_scope(engine) as session:
        amounts = session.scalars(select(IncentiveAward.amount).order_by(IncentiveAward.amount))
        as_of = session.scalars(select(IncentiveAward.as_of)).first()
        assert list(amounts) == [float(i) + 0.5 for i in range(30)]
    assert as_of == datetime(2026, 11, 23, tzinfo=UTC)


def test_bulk_insert_refuses_ragged_columns_and_naive_times(engine: Engine) -> None:
    from serving.db import IncentiveAward
    from serving.db.bulk import insert_rows

    with pytest.raises(ValueError, match="different lengths"), session_scope(engine) as s:
        insert_rows(s.connection(), IncentiveAward, _award_columns(3, amount=[1.0]))
    with pytest.raises(ValueError, match="naive datetime"), session_scope(engine) as s:
        insert_rows(s.connection(), IncentiveAward, _award_columns(2, as_of=datetime(2026, 1, 1)))
    with pytest.raises(KeyError, match="nope"), session_scope(engine) as s:
        insert_rows(s.connection(), IncentiveAward, _award_columns(2, nope=[1, 2]))


def test_bulk_writes_tunes_sqlite_only_while_the_job_writes(engine: Engine) -> None:
    from serving.db import bulk_writes

    with session_scope(engine) as session:
        connection = session.connection()
        sqlite = connection.dialect.name == "sqlite"
        before = connection.exec_driver_sql("PRAGMA cache_size").scalar() if sqlite else None
        with bulk_writes(session):
            if sqlite:
                during = connection.exec_driver_sql("PRAGMA cache_size").scalar()
                assert during == -256 * 1024
            session.add(JobRun(job="weekly", started_at=datetime.now(UTC), status="running"))
            session.flush()
        if sqlite:
            assert connection.exec_driver_sql("PRAGMA cache_size").scalar() == before
    with session_scope(engine) as session:
        assert len(session.scalars(select(JobRun)).all()) == 1
