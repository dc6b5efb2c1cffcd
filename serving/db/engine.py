"""Engine, session and schema helpers. Any SQLAlchemy URL; SQLite and PostgreSQL are tested."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.orm import Session

from serving.db.types import dumps

log = logging.getLogger(__name__)
if logging.getLogger("alembic").level == logging.NOTSET:
    logging.getLogger("alembic").setLevel(logging.WARNING)  # per-plugin INFO lines drown output

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_engines: dict[str, Engine] = {}
_upgraded: set[str] = set()
_lock = threading.Lock()


def get_engine(url: str) -> Engine:
    """One shared engine per URL (SQLite: a file in the data dir, created on first use)."""
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = _create(url)
        return engine


def _create(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, json_serializer=dumps
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, json_serializer=dumps)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def ready_engine(url: str) -> Engine:
    """The shared engine, its schema upgraded to head once per process (service and job)."""
    engine = get_engine(url)
    if url not in _upgraded:
        with _lock:
            if url not in _upgraded:
                upgrade(engine)
                _upgraded.add(url)
    return engine


def dispose_engine(url: str) -> None:
    """Close and forget the shared engine of `url` (tests dropping their database)."""
    with _lock:
        engine = _engines.pop(url, None)
        _upgraded.discard(url)
    if engine is not None:
        engine.dispose()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A unit of work: commit when the block ends, roll back everything if it raises."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


BULK_CACHE_KIB = 256 * 1024  # SQLite page cache while the weekly job writes (then restored)


@contextmanager
def bulk_writes(session: Session) -> Iterator[None]:
    """Tune the session's connection for large writes inside its transaction.

    SQLite: a 256 MiB page cache (the default 2 MiB spills index pages to the WAL again and
    again), restored when the block ends. Durability settings are left alone, so a crash
    still leaves the last committed state. Other dialects: nothing to do.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    before = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size = {int(before or -2000)}")


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (an empty database gets every table). Idempotent."""
    from alembic import command

    config = _alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    log.debug("database %s at revision %s", engine.url.render_as_string(), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    from alembic import command

    config = _alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (None when it has never been upgraded)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    config = _alembic_config_static()
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def _alembic_config_static() -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config
