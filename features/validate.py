"""Validate raw tables against the data contract: every problem in one pass, row by row.

`validate_tables(raw)` takes the tables as read (CSV cells as strings, Parquet/SQL typed),
coerces each column to its canonical dtype, runs every check vectorized over whole columns and
records one `Finding` per (table, column, kind of problem) holding all the rows it affects.
The `ValidationReport` turns findings into per-row `Problem`s, splits each table into good
rows (canonical `Tables`) and bad rows (raw values + a `problem` column), and prints itself.

Nothing is dropped silently: a bad row is either a problem itself or refers to a row that is
one (the deal of a quarantined partner is quarantined, with that reason).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from features import guards, hierarchy
from features.coerce import coerce_column, plain
from features.schema import PROVENANCE_COLUMNS, SCHEMAS, Column, TableSchema
from features.tables import Tables
from tierwise.errors import DataValidationError, Problem

log = logging.getLogger(__name__)

MAX_EXAMPLES = 5  # rows shown per group of identical problems when printing
MAX_ERROR_PROBLEMS = 1000  # problems carried by a DataValidationError (its count is exact)


@dataclass(frozen=True)
class Finding:
    """One kind of problem in one column of one table, with every row it affects.

    `rows`: 0-based positions in the raw table (None: the whole table, e.g. a missing column).
    `values`: the raw values at those rows (None: nothing to show, e.g. a missing value).
    """

    table: str
    message: str
    column: str | None = None
    rows: np.ndarray | None = None
    values: np.ndarray | None = None

    @property
    def count(self) -> int:
        return 1 if self.rows is None else len(self.rows)


@dataclass
class ValidationReport:
    """What `validate_tables` found, the good rows (as `Tables`) and the bad rows per table."""

    source: str
    findings: list[Finding]
    tables: Tables | None
    bad: dict[str, pd.DataFrame] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # loadable, but features will be empty

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def problem_count(self) -> int:
        return sum(f.count for f in self.findings)

    @property
    def bad_row_count(self) -> int:
        return sum(len(b) for b in self.bad.values())

    def bad_mask(self, table: str) -> np.ndarray:
        """True for each raw row of `table` that was set aside."""
        mask = np.zeros(self.rows.get(table, 0), dtype=bool)
        if table in self.bad:
            mask[self.bad[table]["row"].to_numpy() - 1] = True
        return mask

    @cached_property
    def problems(self) -> list[Problem]:
        """Every problem: one per bad cell, one per whole-table problem."""
        return list(self.iter_problems())

    def iter_problems(self, limit: int | None = None) -> Iterator[Problem]:
        n = 0
        for finding in self.findings:
            for problem in _problems_of(finding, self.files.get(finding.table)):
                if limit is not None and n >= limit:
                    return
                n += 1
                yield problem

    def error(self) -> DataValidationError:
        """What `load_tables` raises: the exact count and (up to a limit) every problem."""
        total = self.problem_count
        shown = list(self.iter_problems(MAX_ERROR_PROBLEMS))
        more = f", first {len(shown):,} listed" if total > len(shown) else ""
        detail = (
            f"{self.source}: {total:,} data problem{_s(total)} "
            f"({self.bad_row_count:,} bad row{_s(self.bad_row_count)}{more}); "
            "`tierwise validate` prints the report"
        )
        return DataValidationError(detail, shown)

    def raise_for_problems(self) -> Tables:
        if not self.ok or self.tables is None:
            raise self.error()
        return self.tables

    def print(self, console: Any) -> None:
        """Print with rich: identical problems grouped with a few example rows, all counted."""
        from features.validation_print import render

        render(self, console)


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _problems_of(finding: Finding, file: str | None) -> Iterator[Problem]:
    csv = bool(file and file.lower().endswith(".csv"))
    if finding.rows is None:
        yield Problem(
            finding.message, file=file, table=finding.table or None, column=finding.column
        )
        return
    for i, pos in enumerate(finding.rows.tolist()):
        value = None if finding.values is None else plain(finding.values[i])
        message = finding.message if finding.values is None else f"{finding.message}: {value!r}"
        yield Problem(
            message,
            file=file,
            table=finding.table or None,
            row=pos + 1,
            line=pos + 2 if csv else None,
            column=finding.column,
            value=value,
        )


# --- the checks ------------------------------------------------------------------------------


def validate_tables(
    raw: Mapping[str, pd.DataFrame],
    *,
    origin: Mapping[str, str] | None = None,
    source: str | None = None,
    as_of: datetime | pd.Timestamp | None = None,
) -> ValidationReport:
    """Check `raw` against the contract. `origin`: table -> file it came from (CSV: lines).

    Timestamps later than `as_of` (default: the end of the bulk of the data) are problems.
    """
    files = dict(origin or {})
    findings: list[Finding] = []
    notes: list[str] = []
    warnings: list[str] = []
    coerced: dict[str, pd.DataFrame] = {}
    for name, schema in SCHEMAS.items():
        if name not in raw:
            if schema.required:
                findings.append(Finding(name, f"required table {name} is missing"))
            continue
        if schema.required and not len(raw[name]):
            findings.append(Finding(name, f"required table {name} is empty (no rows)"))
        coerced[name] = _check_table(schema, raw[name], findings, notes)
        warnings += guards.missing_columns_warnings(schema, raw[name])
    unknown = sorted(set(raw) - set(SCHEMAS))
    if unknown:
        notes.append(f"ignored tables outside the contract: {', '.join(unknown)}")
    stamp = None if as_of is None else pd.Timestamp(as_of).tz_convert("UTC")
    findings += _check_future(coerced, raw, guards.data_end(coerced, stamp))
    findings += _check_parents(coerced, raw, findings)
    # References last: a row pointing at a bad partner follows it into quarantine.
    for name in sorted(coerced, key=lambda n: _references_anything(SCHEMAS[n])):
        findings += _check_references(SCHEMAS[name], coerced, findings)
    report = _report(raw, coerced, findings, files, notes, source)
    report.warnings = warnings
    return report


def _check_table(
    schema: TableSchema, raw: pd.DataFrame, findings: list[Finding], notes: list[str]
) -> pd.DataFrame:
    name, n = schema.name, len(raw)
    extra = [str(c) for c in raw.columns if c not in (*schema.column_names, *PROVENANCE_COLUMNS)]
    if extra:
        notes.append(f"{name}: ignored columns outside the contract: {', '.join(extra)}")
    out: dict[str, pd.Series] = {}
    found: list[Finding] = []
    for col in schema.columns:
        if col.name not in raw.columns:
            if not (col.nullable or col.optional):
                found.append(Finding(name, "required column is missing", col.name))
            elif not col.feeds and col.default is None:
                notes.append(f"{name}: optional column {col.name} is absent (all empty)")
            values = guards.fill_default(col, pd.Series([None] * n, dtype=object), raw)
        else:
            values = guards.fill_default(col, raw[col.name].reset_index(drop=True), raw)
        series, issues = coerce_column(col, values)
        out[col.name] = series
        if col.name in raw.columns:
            found += [_finding(name, col.name, msg, mask, values) for msg, mask in issues]
            found += _check_cells(name, col, series, values)
    frame = pd.DataFrame(out, index=pd.RangeIndex(n))
    found += _check_key(schema, frame, raw)
    found += _check_time_order(schema, frame, raw)
    findings += [f for f in found if f.count]
    return frame


def _finding(
    table: str, column: str, message: str, mask: np.ndarray, raw: pd.Series, show: bool = True
) -> Finding:
    rows = np.flatnonzero(mask) if mask.any() else np.empty(0, dtype=np.int64)
    values = raw.iloc[rows].to_numpy() if show and len(rows) else None
    return Finding(table, message, column, rows, values)


def _mask(condition: pd.Series) -> np.ndarray:
    return condition.fillna(False).to_numpy(dtype=bool)


def _check_cells(table: str, col: Column, series: pd.Series, raw: pd.Series) -> list[Finding]:
    out = []
    if not col.nullable and col.kind != "list":  # an empty list is a value, not a missing one
        out.append(_finding(table, col.name, "missing value", raw.isna().to_numpy(), raw, False))
    if col.allowed is not None:
        unknown = series.notna() & ~series.isin(col.allowed)
        out.append(
            _finding(table, col.name, f"not one of {', '.join(col.allowed)}", _mask(unknown), raw)
        )
    if col.min is not None:
        out.append(
            _finding(table, col.name, f"must be >= {col.min:g}", _mask(series < col.min), raw)
        )
    if col.max is not None:
        out.append(
            _finding(table, col.name, f"must be <= {col.max:g}", _mask(series > col.max), raw)
        )
    long = guards.too_long(col, raw)
    if long is not None:
        out.append(Finding(table, guards.length_message(col), col.name, *long))
    return out


def _check_future(
    coerced: Mapping[str, pd.DataFrame],
    raw: Mapping[str, pd.DataFrame],
    end: guards.DataEnd | None,
) -> list[Finding]:
    """Timestamps later than the data's end (a 2099 date is a typo, not a plan)."""
    if end is None:
        return []
    out = []
    for name, frame in coerced.items():
        for col in SCHEMAS[name].columns:
            if col.kind != "timestamp" or col.scheduled or col.name not in raw[name].columns:
                continue
            later = guards.after_end(frame, col.name, end)
            message = f"later than {end.at:%Y-%m-%d} ({end.why})"
            values = raw[name][col.name].reset_index(drop=True)
            out.append(_finding(name, col.name, message, later, values))
    return [f for f in out if f.count]


def _check_key(schema: TableSchema, frame: pd.DataFrame, raw: pd.DataFrame) -> list[Finding]:
    if schema.key is None or schema.key not in raw.columns:
        return []
    key = frame[schema.key]
    duplicated = key.notna() & key.duplicated(keep=False)
    message = "duplicated id (more than one row has it; all are set aside)"
    return [
        _finding(
            schema.name,
            schema.key,
            message,
            _mask(duplicated),
            raw[schema.key].reset_index(drop=True),
        )
    ]


def _check_time_order(schema: TableSchema, frame: pd.DataFrame, raw: pd.DataFrame) -> list[Finding]:
    out = []
    for earlier, later in schema.time_order:
        if earlier not in raw.columns or later not in raw.columns:
            continue
        before = frame[later] < frame[earlier]  # NaT compares False: checked when both set
        out.append(
            _finding(
                schema.name,
                later,
                f"is before {earlier}",
                _mask(before),
                raw[later].reset_index(drop=True),
            )
        )
    return out


def _check_parents(
    coerced: Mapping[str, pd.DataFrame], raw: Mapping[str, pd.DataFrame], findings: list[Finding]
) -> list[Finding]:
    """partners.parent_partner_id: another known partner, no cycles; children of a partner
    set aside follow it (before the other tables' references look at partners)."""
    if "partners" not in coerced or "parent_partner_id" not in raw["partners"].columns:
        return []
    frame = coerced["partners"]
    ids, parents = frame["partner_id"], frame["parent_partner_id"]
    shown = raw["partners"]["parent_partner_id"].reset_index(drop=True)
    column = "parent_partner_id"
    out = [
        _finding("partners", column, message, mask, shown)
        for message, mask in hierarchy.parent_problems(ids, parents).items()
    ]
    out = [f for f in out if f.count]
    bad = np.zeros(len(frame), dtype=bool)
    bad[_bad_positions([*findings, *out], "partners", len(frame))] = True
    follows = hierarchy.following(ids, parents, bad)
    out.append(_finding("partners", column, hierarchy.FOLLOWS, follows, shown))
    return [f for f in out if f.count]


def _references_anything(schema: TableSchema) -> bool:
    return any(c.references for c in schema.columns)


def _check_references(
    schema: TableSchema, coerced: Mapping[str, pd.DataFrame], findings: list[Finding]
) -> list[Finding]:
    """A reference to an unknown row is a problem; one to a quarantined row follows it."""
    frame, out = coerced[schema.name], []
    for col in schema.columns:
        if col.references is None or col.references[0] not in coerced:
            continue
        target, key = col.references
        ref = frame[col.name]
        ids = coerced[target][key]
        bad_ids = ids.iloc[_bad_positions(findings, target, len(ids))].dropna().unique()
        whole_target_bad = any(f.table == target and f.rows is None for f in findings)
        known = ref.isin(pd.Index(ids.dropna().unique()))
        follows = ref.notna() if whole_target_bad else ref.isin(pd.Index(bad_ids))
        unknown = ref.notna() & ~known & ~follows
        out += [
            _finding(schema.name, col.name, f"no such {key} in {target}", _mask(unknown), ref),
            _finding(
                schema.name,
                col.name,
                f"refers to a bad row of {target} (set aside)",
                _mask(follows),
                ref,
            ),
        ]
    return [f for f in out if f.count]


def _bad_positions(findings: list[Finding], table: str, n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for f in findings:
        if f.table == table:
            mask[slice(None) if f.rows is None else f.rows] = True
    return np.flatnonzero(mask)


# --- the report ------------------------------------------------------------------------------


def _report(
    raw: Mapping[str, pd.DataFrame],
    coerced: Mapping[str, pd.DataFrame],
    findings: list[Finding],
    files: dict[str, str],
    notes: list[str],
    source: str | None,
) -> ValidationReport:
    good: dict[str, pd.DataFrame] = {}
    bad: dict[str, pd.DataFrame] = {}
    for name, frame in coerced.items():
        rows = _bad_positions(findings, name, len(frame))
        keep = np.ones(len(frame), dtype=bool)
        keep[rows] = False
        good[name] = _canonical(SCHEMAS[name], frame.loc[keep].reset_index(drop=True))
        if len(rows):
            bad[name] = _bad_frame(raw[name], name, findings, rows, files.get(name))
    required = [s.name for s in SCHEMAS.values() if s.required]
    tables = Tables(**good) if all(name in good for name in required) else None
    for note in notes:
        log.info("%s", note)
    return ValidationReport(
        source=source or ", ".join(files.values()) or "tables",
        findings=findings,
        tables=tables,
        bad=bad,
        files=files,
        rows={name: len(raw[name]) for name in coerced},
        notes=notes,
    )


def _canonical(schema: TableSchema, frame: pd.DataFrame) -> pd.DataFrame:
    """Integers become int64 once the rows that were not integers are gone."""
    out = frame.copy()
    for col in schema.columns:
        if col.kind == "integer":
            out[col.name] = out[col.name].astype("Int64" if out[col.name].isna().any() else "int64")
    return out


def _bad_frame(
    raw: pd.DataFrame, table: str, findings: list[Finding], rows: np.ndarray, file: str | None
) -> pd.DataFrame:
    """The raw bad rows, with their 1-based `row` (CSV: `line`) and what is wrong (`problem`)."""
    text = np.full(len(rows), "", dtype=object)
    for f in findings:
        if f.table != table:
            continue
        what = f"{f.column}: {f.message}" if f.column else f.message
        at = np.arange(len(rows)) if f.rows is None else np.searchsorted(rows, f.rows)
        if f.values is None:
            new: Any = what
        else:
            new = np.array([f"{what}: {plain(v)!r}" for v in f.values], dtype=object)
        text[at] = np.where(text[at] == "", new, text[at] + "; " + new)
    out = raw.iloc[rows].reset_index(drop=True)
    out.insert(0, "row", rows + 1)
    if file and file.lower().endswith(".csv"):
        out.insert(1, "line", rows + 2)
    out["problem"] = text
    return out
