"""The tables as NumPy arrays for the KPI computations, with only the rows known before as_of.

Partner ids become integer codes (`pid`: the partner's row, -1 for none — a direct deal or
customer), timestamps int64 nanoseconds (`NEVER` when missing: the thing has not happened),
categories boolean flags. Deals, activities and surveys are sorted by their date, so that a
window of time is a slice (`span`), not a scan. `Frames.partition` splits the program by a
per-partner group (partner type, region) without copying a table per group.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.schema import ACTIVITY_KINDS, SCHEMAS
from features.tables import Tables
from tierwise.errors import DataValidationError, Problem

ALL_TABLES = ("partners", "deals", "activities", "surveys", "customers")
_P, _D, _A, _S, _C = ALL_TABLES
# table → (the column that dates a row, the columns the metrics read)
_USED: dict[str, tuple[str, tuple[str, ...]]] = {
    _P: (
        "joined_at",
        (
            "partner_id",
            "partner_type",
            "region",
            "joined_at",
            "onboarded_at",
            "exited_at",
            "recruited_via",
            "recruit_cost",
        ),
    ),
    _D: (
        "registered_at",
        (
            "partner_id",
            "deal_kind",
            "amount",
            "registered_at",
            "status",
            "decided_at",
            "outcome",
            "closed_at",
        ),
    ),
    _A: ("occurred_at", ("partner_id", "occurred_at", "kind")),
    _S: ("answered_at", ("partner_id", "answered_at", "score")),
    _C: ("acquired_at", ("source", "partner_id", "acquired_at", "acquisition_cost", "churned_at")),
}
NEVER = np.iinfo(np.int64).max
DAY_NS = 86_400 * 10**9
Ints = np.ndarray  # int64: timestamps in ns, partner codes
Floats = np.ndarray
Flags = np.ndarray


@dataclass(frozen=True)
class Window:
    start: pd.Timestamp
    end: pd.Timestamp  # exclusive

    @property
    def previous(self) -> Window:
        return Window(self.start - (self.end - self.start), self.start)

    def holds(self, times: Ints) -> Flags:
        return (times >= self.start.value) & (times < self.end.value)

    def span(self, sorted_times: Ints) -> slice:
        """The rows of a time-sorted column that fall in the window."""
        lo, hi = np.searchsorted(sorted_times, [self.start.value, self.end.value])
        return slice(int(lo), int(hi))


@dataclass(frozen=True)
class Partners:
    joined: Ints
    onboarded: Ints
    exited: Ints
    recruit_cost: Floats
    first_deal: Ints  # first partner deal registration (NEVER when none)

    def in_program(self, at: pd.Timestamp) -> Flags:
        return (self.joined < at.value) & ~(self.exited < at.value)


@dataclass(frozen=True)
class Deals:  # sorted by `registered`
    pid: Ints
    amount: Floats
    registered: Ints
    decided: Ints
    closed: Ints
    accepted: Flags
    rejected: Flags
    won: Flags
    lost: Flags
    expansion: Flags  # cross-sell or upsell


@dataclass(frozen=True)
class Activities:  # sorted by `occurred`
    pid: Ints
    occurred: Ints
    kind: Ints  # index into ACTIVITY_KINDS (-1 = unknown)


@dataclass(frozen=True)
class Surveys:  # sorted by `answered`
    pid: Ints
    answered: Ints
    score: Floats


@dataclass(frozen=True)
class Customers:
    pid: Ints
    acquired: Ints
    churned: Ints
    cost: Floats
    via_partner: Flags
    direct: Flags


_Keyed = TypeVar("_Keyed", Deals, Activities, Surveys, Customers)
_Table = TypeVar("_Table", Partners, Deals, Activities, Surveys, Customers)


def kind_of(kinds: Ints, *names: str) -> Flags:
    """Rows whose activity kind is one of `names`."""
    out = np.zeros(len(kinds), dtype=bool)
    for name in names:
        out |= kinds == ACTIVITY_KINDS.index(name)
    return out


@dataclass(frozen=True)
class Frames:
    """The program's arrays; an absent table is empty (and not in `present`)."""

    partner_frame: pd.DataFrame  # the partners rows (for groups and channels)
    partners: Partners
    deals: Deals
    activities: Activities
    surveys: Surveys
    customers: Customers
    present: frozenset[str]

    @property
    def n_partners(self) -> int:
        return len(self.partners.joined)

    @classmethod
    def known_before(cls, tables: Tables, end: pd.Timestamp) -> Frames:
        _check(tables)
        known = {}
        for name, (time_col, used) in _USED.items():
            frame = getattr(tables, name)
            known[name] = (
                _empty(name, used)
                if frame is None
                else frame.loc[frame[time_col] < end, list(used)]
            )
        p, d, a, s, c = (known[n] for n in ALL_TABLES)
        _check_unique(p)
        codes = _strings(p["partner_id"])
        deals = _by_time(
            Deals(
                pid=_codes(codes, d["partner_id"]),
                amount=_floats(d["amount"]),
                registered=_ns(d["registered_at"]),
                decided=_ns(d["decided_at"]),
                closed=_ns(d["closed_at"]),
                accepted=_is(d["status"], "accepted"),
                rejected=_is(d["status"], "rejected"),
                won=_is(d["outcome"], "won"),
                lost=_is(d["outcome"], "lost"),
                expansion=_is(d["deal_kind"], "cross_sell") | _is(d["deal_kind"], "upsell"),
            ),
            "registered",
        )
        kinds = pa.array(ACTIVITY_KINDS, pa.large_string())
        return cls(
            partner_frame=p.reset_index(drop=True),
            partners=Partners(
                joined=_ns(p["joined_at"]),
                onboarded=_ns(p["onboarded_at"]),
                exited=_ns(p["exited_at"]),
                recruit_cost=_floats(p["recruit_cost"]),
                first_deal=_first(deals.pid, deals.registered, len(p)),
            ),
            deals=deals,
            activities=_by_time(
                Activities(
                    _codes(codes, a["partner_id"]), _ns(a["occurred_at"]), _codes(kinds, a["kind"])
                ),
                "occurred",
            ),
            surveys=_by_time(
                Surveys(_codes(codes, s["partner_id"]), _ns(s["answered_at"]), _floats(s["score"])),
                "answered",
            ),
            customers=Customers(
                pid=_codes(codes, c["partner_id"]),
                acquired=_ns(c["acquired_at"]),
                churned=_ns(c["churned_at"]),
                cost=_floats(c["acquisition_cost"]),
                via_partner=_is(c["source"], "partner"),
                direct=_is(c["source"], "direct"),
            ),
            present=frozenset(tables.present()),
        )

    def partition(self, labels: Ints, groups: int) -> list[Frames]:
        """One `Frames` per group 0..groups-1 of `labels` (one label per partner, -1 = none).

        Rows of partners in no group (and direct deals and customers) drop out; each table
        is reordered once by group (stably: the time order holds within a group) and every
        group gets slices of it.
        """
        p_order = np.argsort(labels, kind="stable")
        p_bounds = np.searchsorted(labels[p_order], np.arange(groups + 1))
        split = {n: _group_rows(getattr(self, n), labels, groups) for n in ALL_TABLES[1:]}
        out = []
        for g in range(groups):
            members = p_order[p_bounds[g] : p_bounds[g + 1]]
            recode = np.full(self.n_partners, -1, dtype=np.int64)
            recode[members] = np.arange(len(members))
            tables = {}
            for name, (table, bounds) in split.items():
                part = _take(table, slice(bounds[g], bounds[g + 1]))
                tables[name] = replace(part, pid=recode[part.pid])
            out.append(
                replace(
                    self,
                    partner_frame=self.partner_frame.iloc[members].reset_index(drop=True),
                    partners=_take(self.partners, members),
                    **tables,
                )
            )
        return out


def _group_rows(table: _Keyed, labels: Ints, groups: int) -> tuple[_Keyed, Ints]:
    """The table ordered by its partner's group, and where each group starts."""
    dtype = np.int16 if groups < np.iinfo(np.int16).max else np.int64  # int16: radix sort
    row_labels = np.where(table.pid >= 0, labels[np.maximum(table.pid, 0)], -1).astype(dtype)
    order = np.argsort(row_labels, kind="stable")
    bounds = np.searchsorted(row_labels[order], np.arange(groups + 1))
    return _take(table, order), bounds


def _by_time(table: _Keyed, column: str) -> _Keyed:
    times: Ints = getattr(table, column)
    if times.size < 2 or bool(np.all(times[1:] >= times[:-1])):
        return table
    return _take(table, np.argsort(times, kind="stable"))


def _take(table: _Table, rows: Any) -> _Table:
    cols: dict[str, Any] = {f.name: getattr(table, f.name)[rows] for f in fields(table)}
    return replace(table, **cols)


def _first(pids: Ints, times: Ints, n: int) -> Ints:
    out = np.full(n, NEVER, dtype=np.int64)
    ours = pids >= 0
    np.minimum.at(out, pids[ours], times[ours])
    return out


def _ns(col: pd.Series) -> Ints:
    times = col.to_numpy(dtype="datetime64[ns]")
    out = times.view(np.int64).copy()
    out[np.isnat(times)] = NEVER
    return out


def _floats(col: pd.Series) -> Floats:
    return col.to_numpy(dtype=np.float64, na_value=np.nan)


def _codes(known: pa.Array, ids: pd.Series) -> Ints:
    """Position of each id in `known`, -1 when missing or unknown (Arrow: fast on strings)."""
    found = pc.index_in(_strings(ids), value_set=known).fill_null(-1)
    return found.to_numpy(zero_copy_only=False).astype(np.int64)


def _strings(col: pd.Series) -> pa.Array:
    return pc.cast(pa.array(col, from_pandas=True), pa.large_string())


def _is(col: pd.Series, value: str) -> Flags:
    return (col == value).to_numpy(dtype=bool, na_value=False)


def _empty(name: str, columns: tuple[str, ...]) -> pd.DataFrame:
    schema = SCHEMAS[name]
    dtypes = {"timestamp": "datetime64[ns, UTC]", "number": "float64", "integer": "float64"}
    return pd.DataFrame(
        {c: pd.Series(dtype=dtypes.get(schema.column(c).kind, "str")) for c in columns}
    )


def _check(tables: Tables) -> None:
    """Every column the metrics read is there, and every timestamp is tz-aware."""
    problems: list[Problem] = []
    for name, frame in tables.items():
        for col in _USED[name][1] if name in _USED else ():
            if col not in frame.columns:
                problems.append(Problem("column is missing", table=name, column=col))
            elif SCHEMAS[name].column(col).kind == "timestamp" and not isinstance(
                frame[col].dtype, pd.DatetimeTZDtype
            ):
                problems.append(
                    Problem(
                        "must hold tz-aware timestamps",
                        table=name,
                        column=col,
                        value=str(frame[col].dtype),
                    )
                )
    if problems:
        raise DataValidationError("Cannot compute the program KPIs", problems)


def _check_unique(partners: pd.DataFrame) -> None:
    duplicated = partners["partner_id"].duplicated()
    if duplicated.any():
        row = duplicated[duplicated].index[0]
        problem = Problem(
            "partner_id is not unique",
            table=_P,
            row=int(row),
            column="partner_id",
            value=partners.loc[row, "partner_id"],
        )
        raise DataValidationError("Cannot compute the program KPIs", [problem])
