"""The point-in-time feature frame: one row per partner, as of a date.

Only facts known strictly before `as_of` count, each at the time it became known (a
registration at `registered_at`, its acceptance at `decided_at`, a win at `closed_at`, an exit
at `exited_at` …). Every registry feature is a column with its declared kind; features of an
absent optional table are NaN, and ratios with an empty denominator are NaN, never 0.

    >>> frame = build_features(tables, as_of=datetime(2025, 1, 1, tzinfo=UTC))
    >>> frames = build_snapshots(tables, month_starts)   # one sort per table, any number of dates
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from datetime import datetime

import numpy as np
import pandas as pd

from features import registry
from features.history import PartnerHistory, index_history
from features.lifecycle import lifecycle_status, recency_columns
from features.partner_features import event_columns
from features.tables import Tables
from features.windows import NAT, IntArray, days, days_since, query_order, to_ns
from tierwise.errors import InvalidInput, Problem

log = logging.getLogger(__name__)

Columns = dict[str, np.ndarray]


def build_features(
    tables: Tables, *, as_of: datetime | pd.Timestamp, year_start: int = 1
) -> pd.DataFrame:
    """The feature frame as of `as_of`: partners who joined before it, events before it.

    `year_start`: the program year's first month (period-to-date features count from it)."""
    return build_snapshots(tables, [as_of], year_start=year_start)


def build_snapshots(
    tables: Tables, as_ofs: Iterable[datetime | pd.Timestamp], *, year_start: int = 1
) -> pd.DataFrame:
    """Feature frames for many dates stacked (ordered by as_of, then partner), sharing the sort.

    Duplicate dates are answered once.
    """
    stamps = sorted({as_of_ns(a) for a in as_ofs})
    started = time.perf_counter()
    history = index_history(tables)
    indexed = time.perf_counter()
    codes, times = _spine(history, stamps)
    frame = features_at(history, codes, times, tables.present(), year_start=year_start)
    log.debug(
        "features: %d rows for %d dates (index %.2fs, query %.2fs)",
        len(frame),
        len(stamps),
        indexed - started,
        time.perf_counter() - indexed,
    )
    return frame


def as_of_ns(value: datetime | pd.Timestamp) -> int:
    """A timezone-aware as_of as int64 nanoseconds (UTC)."""
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        raise InvalidInput(
            "as_of must be timezone-aware (UTC)",
            [Problem("naive timestamp", column="as_of", value=str(value))],
        )
    return int(stamp.tz_convert("UTC").as_unit("ns").value)


def _spine(history: PartnerHistory, stamps: list[int]) -> tuple[IntArray, IntArray]:
    """(partner code, as_of) for every partner who joined strictly before each as_of."""
    codes = [np.flatnonzero((history.joined != NAT) & (history.joined < t)) for t in stamps]
    times = [np.full(len(c), t, dtype=np.int64) for c, t in zip(codes, stamps, strict=True)]
    if not codes:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(codes).astype(np.int64), np.concatenate(times)


def features_at(
    history: PartnerHistory,
    codes: IntArray,
    times: IntArray,
    present: set[str],
    *,
    year_start: int = 1,
) -> pd.DataFrame:
    """KEY_COLUMNS + every registry feature for (partner code, time) pairs, in registry order.

    Rows whose code is -1 (no known partner) get missing features and False booleans. Numbers
    go straight into one float block, family by family, so a stack of monthly snapshots holds
    its numbers once; event queries run in partner order (cache-friendly searches).
    """
    n = len(codes)
    valid = codes >= 0
    safe = np.where(valid, codes, 0)
    numbers = registry.names("number")
    slot = {name: i for i, name in enumerate(numbers)}
    block = np.empty((n, len(numbers)), order="F")
    filled = np.zeros(len(numbers), dtype=bool)
    others: dict[str, np.ndarray | pd.Series] = {}

    def store(family: Mapping[str, np.ndarray | pd.Series], order: IntArray | None) -> None:
        for name, values in family.items():
            if registry.FEATURES[name].table not in present:
                continue
            if name not in slot:
                others[name] = values
                continue
            if order is None:
                block[:, slot[name]] = values
            else:
                block[order, slot[name]] = values
            filled[slot[name]] = True

    store(profile_features(history, safe, times), None)
    order = query_order(safe, times)
    by_partner = (safe, times) if order is None else (safe[order], times[order])
    for family in event_columns(history, by_partner[0], by_partner[1], year_start):
        store(family, order)
    tenure = block[:, slot["tenure_days"]]
    p_sorted, t_sorted = by_partner
    tenure_sorted = tenure if order is None else tenure[order]
    signs, registered = history.signs, history.deals.registered
    for family in recency_columns(signs, registered, p_sorted, t_sorted, tenure_sorted):
        store(family, order)
    block[:, ~filled] = np.nan
    others["lifecycle_status"] = lifecycle_status(
        tenure,
        np.asarray(others["exited"], dtype=bool),
        block[:, slot["days_since_last_sign_of_life"]],
    )
    if not valid.all():
        block[~valid] = np.nan
    frame = pd.DataFrame(block, columns=numbers, copy=False)
    _insert_others(frame, history, safe, times, valid, others)
    return frame


def _insert_others(
    frame: pd.DataFrame,
    history: PartnerHistory,
    codes: IntArray,
    times: IntArray,
    valid: np.ndarray,
    others: dict[str, np.ndarray | pd.Series],
) -> None:
    """Key, category and boolean columns, inserted at their registry positions."""
    partners = history.partners
    columns: dict[str, np.ndarray | pd.Series | pd.DatetimeIndex] = {
        "partner_id": _strings(partners["partner_id"], codes),
        "as_of": pd.DatetimeIndex(times.view("datetime64[ns]"), tz="UTC"),
        "manager_id": _strings(partners["manager_id"], codes),
        **others,
    }
    n = len(codes)
    for position, name in enumerate([*registry.KEY_COLUMNS, *registry.FEATURES]):
        if name in frame.columns:
            continue
        values = columns.get(name)
        if name == "as_of":
            frame.insert(position, name, values)
        elif name in registry.FEATURES and registry.FEATURES[name].kind == "boolean":
            flags = np.zeros(n, dtype=bool) if values is None else np.asarray(values, dtype=bool)
            frame.insert(position, name, flags & valid)
        else:
            text = pd.Series([None] * n, dtype="str") if values is None else values
            frame.insert(position, name, pd.Series(text).where(valid))


def _strings(column: pd.Series, codes: IntArray) -> pd.Series:
    return column.astype("str").take(codes).reset_index(drop=True)


def profile_features(
    history: PartnerHistory, codes: IntArray, times: IntArray
) -> dict[str, np.ndarray | pd.Series]:
    """Profile and lifecycle features from the partners table."""
    p = history.partners
    joined = history.joined[codes]
    onboarded_at = to_ns(p["onboarded_at"])[codes]
    exited_at = to_ns(p["exited_at"])[codes]
    onboarded = (onboarded_at != NAT) & (onboarded_at < times)
    gap = np.where(onboarded, onboarded_at - np.where(onboarded, joined, 0), 0)
    cols: dict[str, np.ndarray | pd.Series] = {
        name: _strings(p[name], codes) for name in ("partner_type", "region", "recruited_via")
    }
    cols.update(
        tenure_days=days_since(times, joined),
        onboarded=onboarded,
        days_to_onboard=np.where(onboarded, days(gap), np.nan),
        exited=(exited_at != NAT) & (exited_at < times),
        verticals_count=verticals_count(p["verticals"])[codes],
    )
    for name in ("company_size", "market_share", "portfolio_fit", "customer_count"):
        cols[name] = p[name].to_numpy(dtype=np.float64, na_value=np.nan)[codes]
    return cols


def verticals_count(verticals: pd.Series) -> np.ndarray:
    """How many verticals each partner serves ('a|b|c', or a real list from Parquet)."""
    if isinstance(verticals.dtype, pd.StringDtype):
        text = verticals.str.strip()
        parts = text.str.count(r"\|").astype("float64") + 1
        return parts.where(text != "", 0.0).to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray([_count_verticals(v) for v in verticals], dtype=np.float64)


def _count_verticals(value: object) -> float:
    if isinstance(value, str):
        return float(sum(1 for part in value.split("|") if part.strip()))
    if isinstance(value, (list, tuple, np.ndarray)):
        return float(len(value))
    return np.nan
