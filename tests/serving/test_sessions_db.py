"""Server-side review sessions in the database — on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from serving.auth import Principal
from serving.db import ReviewSession, session_scope
from serving.db.sessions import (
    find_session,
    live_sessions,
    open_session,
    revoke_key_sessions,
    revoke_session,
)
from tests.serving._db import BACKENDS, upgraded_engine

NOW = datetime(2026, 11, 30, 9, tzinfo=UTC)
ANN = Principal("manager", "m1", "Ann")


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with upgraded_engine(request.param, tmp_path) as eng:
        yield eng


def _open(engine: Engine, key: str = "a" * 64, max_age_s: int = 3600) -> str:
    with session_scope(engine) as s:
        opened = open_session(s, principal=ANN, key_sha256=key, now=NOW, max_age_s=max_age_s)
    return opened.session_id


def test_a_session_is_found_by_its_random_id_which_is_stored_hashed(engine: Engine) -> None:
    sid = _open(engine)
    with session_scope(engine) as s:
        found = find_session(s, session_id=sid, now=NOW)
        assert found is not None and found.manager_id == "m1" and len(found.csrf) >= 32
        assert sid not in set(s.scalars(select(ReviewSession.id_sha256)))
        assert find_session(s, session_id=sid + "x", now=NOW) is None


def test_a_session_expires(engine: Engine) -> None:
    sid = _open(engine, max_age_s=60)
    with session_scope(engine) as s:
        assert find_session(s, session_id=sid, now=NOW + timedelta(seconds=59)) is not None
        assert find_session(s, session_id=sid, now=NOW + timedelta(seconds=60)) is None


def test_logout_and_key_revocation_end_sessions(engine: Engine) -> None:
    one, two, other = _open(engine), _open(engine), _open(engine, key="b" * 64)
    with session_scope(engine) as s:
        assert revoke_session(s, session_id=one, now=NOW)
        assert revoke_key_sessions(s, key_sha256="A" * 64, now=NOW) == 1  # `two`
    with session_scope(engine) as s:
        assert find_session(s, session_id=one, now=NOW) is None
        assert find_session(s, session_id=two, now=NOW) is None
        assert find_session(s, session_id=other, now=NOW) is not None
        assert len(live_sessions(s, now=NOW)) == 1
