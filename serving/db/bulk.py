"""Bulk writes for the weekly job: 100,000s of rows per run without per-row ORM or type work.

Callers hand over columns of plain, database-ready Python values (None for NULL, tz-aware
datetimes, JSON already encoded as text). The rows go out the fastest way the dialect has,
always on the caller's connection, so inside the caller's transaction:

- PostgreSQL with psycopg: `COPY … FROM STDIN` (an upsert goes through a temporary table
  dropped at commit);
- SQLite: one prepared `INSERT` run by the driver's `executemany` (upsert: `ON CONFLICT`);
- anything else: SQLAlchemy Core `insert()` with executemany, as portable as it gets.

Datetime columns still go through the column type's own bind processing (`UTCDateTime`:
stored as UTC, naive datetimes refused), once per distinct value.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    DateTime,
    Integer,
    Table,
    bindparam,
    insert,
    select,
    update,
)

from serving.db.models import Base
from serving.db.types import RawJson, UTCDateTime

BATCH = 20_000  # rows per executemany / COPY chunk: bounds the memory of the row tuples
Columns = Mapping[str, Any]  # name → list (one value per row) or any other value (a constant)


def insert_rows(
    connection: Connection, model: type[Base], columns: Columns, *, portable: bool = False
) -> int:
    """INSERT every row of the model's table; returns the number of rows written.

    `portable=True` forces the SQLAlchemy Core path (what any other dialect gets).
    """
    table = _table(model)
    names, values, count = _prepared(connection, table, columns, for_driver=not portable)
    if count == 0:
        return 0
    if portable:
        _core_insert(connection, table, names, values, count)
    elif _is_psycopg(connection):
        _copy(connection, table.name, names, values, count)
    elif connection.dialect.name == "sqlite":
        _executemany(connection, _insert_sql(connection, table.name, names), values, count)
    else:
        _core_insert(connection, table, names, values, count)
    return count


def upsert_rows(
    connection: Connection, model: type[Base], columns: Columns, *, key: str, portable: bool = False
) -> int:
    """INSERT new rows, UPDATE every other column of rows whose `key` already exists."""
    table = _table(model)
    names, values, count = _prepared(connection, table, columns, for_driver=not portable)
    if count == 0:
        return 0
    if portable:
        _core_upsert(connection, table, names, values, count, key=key)
        return count
    q = connection.dialect.identifier_preparer.quote
    assignments = ", ".join(f"{q(n)} = excluded.{q(n)}" for n in names if n != key)
    conflict = f" ON CONFLICT ({q(key)}) DO UPDATE SET {assignments}"
    if _is_psycopg(connection):
        stage = f"_tw_stage_{table.name}"
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {q(stage)}")
        connection.exec_driver_sql(
            f"CREATE TEMPORARY TABLE {q(stage)} (LIKE {q(table.name)} INCLUDING DEFAULTS) "
            "ON COMMIT DROP"
        )
        _copy(connection, stage, names, values, count)
        cols = ", ".join(q(n) for n in names)
        connection.exec_driver_sql(
            f"INSERT INTO {q(table.name)} ({cols}) SELECT {cols} FROM {q(stage)}{conflict}"
        )
        connection.exec_driver_sql(f"DROP TABLE {q(stage)}")
    elif connection.dialect.name == "sqlite":
        sql = _insert_sql(connection, table.name, names) + conflict
        _executemany(connection, sql, values, count)
    else:
        _core_upsert(connection, table, names, values, count, key=key)
    return count


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def _prepared(
    connection: Connection, table: Table, columns: Columns, *, for_driver: bool
) -> tuple[list[str], list[Any], int]:
    """Column names, per-column values (lists or constants) and the row count.

    for_driver: values go to the DBAPI driver as they are, so apply the column types' own
    processing here (Core does that itself otherwise).
    """
    lengths = {len(v) for v in columns.values() if isinstance(v, list)}
    if len(lengths) > 1:
        raise ValueError(f"{table.name}: columns of different lengths {sorted(lengths)}")
    count = lengths.pop() if lengths else 0
    names, values = [], []
    for name, value in columns.items():
        names.append(name)
        process = _processor(connection, table.c[name].type) if for_driver else None
        values.append(_processed(value, process))
    return names, values, count


def _processor(connection: Connection, kind: Any) -> Callable[[Any], Any] | None:
    """What a value of a column needs before the driver sees it (None: nothing)."""
    if isinstance(kind, (UTCDateTime, DateTime)):  # the type's own processing (UTC, format)
        process: Callable[[Any], Any] | None = kind.dialect_impl(connection.dialect).bind_processor(
            connection.dialect
        )
        return process
    if isinstance(kind, Boolean):
        return bool
    if isinstance(kind, Integer):  # 2.0 from a float column: COPY wants "2"
        return int
    return None


def _processed(value: Any, process: Callable[[Any], Any] | None) -> Any:
    if process is None:
        return value
    if not isinstance(value, list):
        return None if value is None else process(value)
    if process is bool or process is int:
        return [None if v is None else process(v) for v in value]
    memo: dict[Any, Any] = {}
    out: list[Any] = []
    for v in value:
        if v is None:
            out.append(None)
            continue
        if v not in memo:
            memo[v] = process(v)
        out.append(memo[v])
    return out


def _rows(values: list[Any], count: int) -> Iterator[list[tuple[Any, ...]]]:
    sources = [v if isinstance(v, list) else itertools.repeat(v, count) for v in values]
    rows = zip(*sources, strict=False)
    while batch := list(itertools.islice(rows, BATCH)):
        yield batch


def _is_psycopg(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg"


def _insert_sql(connection: Connection, table: str, names: Sequence[str]) -> str:
    q = connection.dialect.identifier_preparer.quote
    marks = ", ".join("?" for _ in names)
    return f"INSERT INTO {q(table)} ({', '.join(q(n) for n in names)}) VALUES ({marks})"


def _executemany(connection: Connection, sql: str, values: list[Any], count: int) -> None:
    for batch in _rows(values, count):
        connection.exec_driver_sql(sql, batch)


def _copy(
    connection: Connection, table: str, names: Sequence[str], values: list[Any], count: int
) -> None:
    q = connection.dialect.identifier_preparer.quote
    raw: Any = connection.connection.driver_connection
    sql = f"COPY {q(table)} ({', '.join(q(n) for n in names)}) FROM STDIN"
    with raw.cursor() as cursor, cursor.copy(sql) as copy:
        for batch in _rows(values, count):
            for row in batch:
                copy.write_row(row)


def _core_rows(
    table: Table, names: list[str], values: list[Any], count: int
) -> Iterator[list[dict[str, Any]]]:
    """Row dicts for Core executemany; encoded JSON passes the engine's serializer as is."""
    json = {n for n in names if isinstance(table.c[n].type, JSON)}
    for batch in _rows(values, count):
        yield [
            {
                n: RawJson(v) if n in json and isinstance(v, str) else v
                for n, v in zip(names, row, strict=True)
            }
            for row in batch
        ]


def _core_insert(
    connection: Connection, table: Table, names: list[str], values: list[Any], count: int
) -> None:
    for batch in _core_rows(table, names, values, count):
        connection.execute(insert(table), batch)


def _core_upsert(
    connection: Connection,
    table: Table,
    names: list[str],
    values: list[Any],
    count: int,
    *,
    key: str,
) -> None:
    known = set(connection.scalars(select(table.c[key])))
    stmt = (
        update(table)
        .where(table.c[key] == bindparam(f"b_{key}"))
        .values({n: bindparam(f"b_{n}") for n in names if n != key})
    )
    for batch in _core_rows(table, names, values, count):
        new = [r for r in batch if r[key] not in known]
        old = [{f"b_{n}": v for n, v in r.items()} for r in batch if r[key] in known]
        if new:
            connection.execute(insert(table), new)
        if old:
            connection.execute(stmt, old)
