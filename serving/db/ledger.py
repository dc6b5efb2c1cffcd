"""Persist the incentive ledger (`rules.ledger`) in the weekly job's transaction, and read it.

`record_week` loads the open entries (this week's periods, every `once` entry, whatever is
still accruing), takes back out what an earlier run of the same week wrote, computes the
week's movements and writes them: idempotent per week, a `once` entry never twice (also a
unique key in the database), a rulebook change mid-period added as new accruals.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any, cast

import numpy as np
import pandas as pd
from sqlalchemy import Table, bindparam, delete, or_, select, update
from sqlalchemy.orm import Session

from rules.ledger import (
    KEY,
    OPENING_WEEK,
    ROW_COLUMNS,
    LedgerUpdate,
    accrue,
    empty_rows,
    opening_balance,
    without_week,
)
from rules.model import Rulebook
from serving.db.bulk import insert_rows, upsert_rows
from serving.db.models import Accrual, LedgerEntry
from serving.db.week import json_lines

log = logging.getLogger(__name__)

LOADED = [c for c in ROW_COLUMNS if c != "evidence"]
ACCRUAL_READ = ("partner_id", "incentive_id", "period", "week", "amount", "unit", "measure",
                "previous_measure", "rulebook_hash")  # fmt: skip


def _frame(rows: Any, columns: list[str] | tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame([tuple(r) for r in rows], columns=list(columns))


def open_entries(
    session: Session, *, book: Rulebook, as_of: datetime, week: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(entries a run of `week` may change, the accruals an earlier run of it wrote)."""
    periods = sorted({book.calendar.period(i.period, as_of).label for i in book.incentives})
    cols = [getattr(LedgerEntry, c) for c in LOADED]
    stmt = select(*cols).where(
        or_(
            LedgerEntry.period.in_([*periods, "once"]),
            LedgerEntry.status == "accruing",
            LedgerEntry.last_week == week,
        )
    )
    rows = _frame(session.execute(stmt), LOADED)
    evidence: dict[str, Any] = dict(
        session.execute(
            select(LedgerEntry.entry_key, LedgerEntry.evidence).where(LedgerEntry.last_week == week)
        ).all()
    )
    rows["evidence"] = [evidence.get(k) for k in _keys(rows)]
    for column in ("period_start", "period_end"):
        rows[column] = pd.to_datetime(rows[column], utc=True)
    for column in ("amount", "measure"):
        rows[column] = pd.to_numeric(rows[column]).astype(float)
    accruals = _frame(
        session.execute(
            select(*[getattr(Accrual, c) for c in ACCRUAL_READ]).where(Accrual.week == week)
        ),
        ACCRUAL_READ,
    )
    return rows, accruals


def _keys(rows: pd.DataFrame) -> list[str]:
    return [f"{p}|{i}|{t}" for p, i, t in zip(*(rows[k] for k in KEY), strict=True)]


def record_week(
    session: Session,
    *,
    book: Rulebook,
    awards: pd.DataFrame,
    frame: pd.DataFrame,
    as_of: datetime,
    week: str,
    opening: bool = True,
) -> LedgerUpdate:
    """Compute and write the week's ledger movements in the caller's transaction.

    On an empty ledger (the program's first run) with `opening`, what partners had already
    reached is first written as the opening balance (week `opening`, `rules.ledger.
    opening_balance`), so the first week's cost is that week's movements, not the program's
    history. Without `opening` the first week accrues everything reached."""
    loaded, earlier = open_entries(session, book=book, as_of=as_of, week=week)
    start = None
    if opening and session.scalar(select(LedgerEntry.id).limit(1)) is None:
        start = opening_balance(
            accrue(book, awards, frame, prior=empty_rows(), as_of=as_of, week=OPENING_WEEK)
        )
        _write_entries(session, start.rows)
        _write_accruals(session, start.accruals)
        loaded = start.rows
        log.info("ledger opening balance: %d entries (%.0f)", len(start.rows), start.cost)
    prior = without_week(loaded, earlier, week)
    update = accrue(book, awards, frame, prior=prior, as_of=as_of, week=week)
    final = pd.concat([update.rows, prior], ignore_index=True).drop_duplicates(KEY, keep="first")
    touched = set(_keys(update.rows)) | set(_keys(loaded.loc[loaded["last_week"] == week]))
    write = final.loc[np.isin(_keys(final), list(touched))] if len(final) else final
    session.execute(delete(LedgerEntry).where(LedgerEntry.last_week == week))
    session.execute(delete(Accrual).where(Accrual.week == week))
    _write_entries(session, write)
    _write_accruals(session, update.accruals)
    accruals = update.accruals
    log.info(
        "ledger %s: %d entries written, %d accruals (%.0f), %d refusals",
        week,
        len(write),
        len(accruals),
        update.cost,
        len(update.refusals),
    )
    return replace(update, opening=start.cost) if start is not None else update


def _write_accruals(session: Session, accruals: pd.DataFrame) -> None:
    insert_rows(session.connection(), Accrual, {c: _plain(accruals[c]) for c in accruals.columns})


def _plain(column: pd.Series) -> list[Any]:
    """Plain values for the driver: NaN/NaT → None (timestamps stay `datetime` subclasses)."""
    out = column.astype(object)
    return out.where(out.notna(), None).tolist()


def _write_entries(session: Session, rows: pd.DataFrame) -> None:
    """Upsert entries this run computed; entries only closed (status and week changed, their
    evidence not loaded) are updated in place."""
    if rows.empty:
        return
    known = rows["evidence"].notna().to_numpy()
    full = rows.loc[known]
    if len(full):
        columns: dict[str, Any] = {c: _plain(full[c]) for c in LOADED}
        columns["entry_key"] = _keys(full)
        columns["evidence"] = json_lines(full["evidence"])
        upsert_rows(session.connection(), LedgerEntry, columns, key="entry_key")
    closed = rows.loc[~known]
    if len(closed):
        table = cast(Table, LedgerEntry.__table__)
        stmt = (
            update(table)
            .where(table.c.entry_key == bindparam("key"))
            .values(status=bindparam("new_status"), last_week=bindparam("week"))
        )
        params = [
            {"key": k, "new_status": s, "week": w}
            for k, s, w in zip(_keys(closed), closed["status"], closed["last_week"], strict=True)
        ]
        session.connection().execute(stmt, params)


# --- reading ------------------------------------------------------------------------------

SHOWN = ("partner_id", "incentive_id", "period", "status", "amount", "unit", "reward_type",
         "period_start", "period_end", "pool", "rulebook_version", "rulebook_hash", "first_week",
         "last_week", "evidence")  # fmt: skip


def entries(
    session: Session,
    *,
    period: str | None = None,
    partner_id: str | None = None,
    partner_ids: list[str] | None = None,
) -> pd.DataFrame:
    """Ledger entries, filtered; ordered by partner, period, incentive."""
    stmt = select(*[getattr(LedgerEntry, c) for c in SHOWN])
    if period is not None:
        stmt = stmt.where(LedgerEntry.period == period)
    if partner_id is not None:
        stmt = stmt.where(LedgerEntry.partner_id == partner_id)
    if partner_ids is not None:
        stmt = stmt.where(LedgerEntry.partner_id.in_(partner_ids))
    stmt = stmt.order_by(LedgerEntry.partner_id, LedgerEntry.period, LedgerEntry.incentive_id)
    return _frame(session.execute(stmt), SHOWN)


def accruals(
    session: Session, *, week: str | None = None, partner_id: str | None = None
) -> pd.DataFrame:
    """Weekly accruals, filtered; ordered by week."""
    stmt = select(*[getattr(Accrual, c) for c in ACCRUAL_READ])
    if week is not None:
        stmt = stmt.where(Accrual.week == week)
    if partner_id is not None:
        stmt = stmt.where(Accrual.partner_id == partner_id)
    return _frame(session.execute(stmt.order_by(Accrual.week, Accrual.id)), ACCRUAL_READ)


def mark_paid(session: Session, *, period: str, partner_id: str | None = None) -> tuple[int, float]:
    """Earned entries of `period` become `paid` (accruing ones are not due yet): (count, sum)."""
    due = select(LedgerEntry).where(LedgerEntry.period == period, LedgerEntry.status == "earned")
    if partner_id is not None:
        due = due.where(LedgerEntry.partner_id == partner_id)
    rows = list(session.scalars(due))
    for row in rows:
        row.status = "paid"
    session.flush()
    return len(rows), float(sum(r.amount for r in rows))
