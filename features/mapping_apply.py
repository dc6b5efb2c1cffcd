"""Apply an import mapping to source frames: pure pandas, no I/O.

    tables = apply_mapping(spec, {"Opportunity": frame, ...})   # contract table -> raw frame

The output is what an export of the contract would hold (validation coerces and checks it).
A cell the mapping cannot convert (a date not in the given format, text in an amount) is
passed through unchanged, so that validation names it with its row. Each table also carries
`source` and `source_row` (1-based row in that source; a CSV line is one more), which the
quarantine keeps beside every bad row.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingType

import numpy as np
import pandas as pd

from features.coerce import TZ_SUFFIX
from features.mapping_spec import ColumnSpec, Condition, Mapping, TablePart
from features.schema import SCHEMAS, Column


def apply_mapping(spec: Mapping, frames: MappingType[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Every contract table the mapping fills from the sources present in `frames`."""
    out: dict[str, pd.DataFrame] = {}
    for table, parts in spec.tables.items():
        pieces = [
            apply_part(table, part, frames[part.from_], zone=spec.timezone)
            for part in parts
            if part.from_ in frames
        ]
        if pieces:
            out[table] = pd.concat(pieces, ignore_index=True) if len(pieces) > 1 else pieces[0]
    return out


def filtered(spec: Mapping, frames: MappingType[str, pd.DataFrame]) -> list[str]:
    """What each part's filter left out, for the import report (no row is dropped unsaid)."""
    notes = []
    for table, parts in spec.tables.items():
        for part in parts:
            if part.filter and part.from_ in frames:
                source = frames[part.from_]
                kept = int(_all(part.filter, source).sum())
                if kept < len(source):
                    notes.append(
                        f"{table}: {len(source) - kept:,} of {len(source):,} rows of "
                        f"{part.from_} left out by its filter"
                    )
    return notes


def apply_part(
    table: str, part: TablePart, source: pd.DataFrame, *, zone: str | None
) -> pd.DataFrame:
    """One part: filter the source rows, build each contract column, group if asked."""
    schema = SCHEMAS[table]
    keep = _all(part.filter, source)
    rows = source.loc[keep].reset_index(drop=True)
    columns = {
        name: column_values(schema.column(name), spec, rows, zone=zone)
        for name, spec in part.columns.items()
    }
    frame = pd.DataFrame(columns, index=rows.index)
    frame["source"] = part.from_
    frame["source_row"] = np.flatnonzero(keep) + 1
    if part.group_by is not None:
        frame = _grouped(frame, part)
    for name, spec in part.columns.items():
        if spec.not_before is not None:
            frame[name] = _not_before(frame[name], frame[spec.not_before])
    return frame


def _text(values: pd.Series) -> pd.Series:
    """Values as stripped, lower-case text for comparisons (True -> 'true', 1.0 -> '1')."""
    if pd.api.types.is_string_dtype(values.dtype) and not pd.api.types.is_object_dtype(
        values.dtype
    ):
        return values.str.strip().str.lower()  # CSV cells: vectorized
    return values.map(_key, na_action="ignore").astype("str")


def _key(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip().lower()


def _holds(cond: Condition, frame: pd.DataFrame) -> np.ndarray:
    values = frame[cond.column]
    mask = np.ones(len(frame), dtype=bool)
    compared = cond.in_ is not None or cond.not_in is not None or cond.not_null
    text = _text(values) if compared else values
    if cond.in_ is not None:
        allowed = [_key(v) for v in cond.in_ if v is not None]
        ok = text.isin(allowed) | (values.isna() if None in cond.in_ else False)
        mask &= ok.to_numpy(dtype=bool)
    if cond.not_in is not None:
        refused = [_key(v) for v in cond.not_in if v is not None]
        bad = text.isin(refused) | (values.isna() if None in cond.not_in else False)
        mask &= ~bad.to_numpy(dtype=bool)
    if cond.not_null:
        mask &= values.notna().to_numpy(dtype=bool) & (text.str.strip() != "").to_numpy(bool)
    if cond.min is not None or cond.max is not None:
        # text that is not a number passes: validation names it, a filter must not hide it
        number = pd.to_numeric(values, errors="coerce")
        if cond.min is not None:
            mask &= ~(number < cond.min).fillna(False).to_numpy(dtype=bool)
        if cond.max is not None:
            mask &= ~(number > cond.max).fillna(False).to_numpy(dtype=bool)
    return mask


def _all(conditions: list[Condition], frame: pd.DataFrame) -> np.ndarray:
    mask = np.ones(len(frame), dtype=bool)
    for cond in conditions:
        mask &= _holds(cond, frame)
    return mask


def column_values(
    col: Column, spec: ColumnSpec, rows: pd.DataFrame, *, zone: str | None
) -> pd.Series:
    """One contract column from the filtered source rows."""
    n = len(rows)
    if spec.sequence:
        width = len(str(max(n, 1)))
        numbers = pd.Series(np.arange(1, n + 1), index=rows.index).astype("str").str.zfill(width)
        return (spec.prefix or "") + numbers
    if spec.const is not None:
        values = pd.Series([spec.const] * n, index=rows.index, dtype=object)
    else:
        values = _source(spec, rows)
    if spec.when:
        values = values.where(_all(spec.when, rows))
    if spec.values is not None:
        values = _mapped(values, spec.values, spec.default, "default" in spec.model_fields_set)
    elif spec.default is not None:
        values = values.fillna(spec.default)
    if col.kind == "timestamp":
        return timestamps(values, fmt=spec.format, zone=spec.timezone or zone)
    if col.kind in ("number", "integer") and spec.rates is not None and spec.currency:
        values = _converted(values, rows[spec.currency], spec.rates)
    if col.kind in ("number", "integer") and spec.scale is not None:
        return _scaled(values, spec.scale)
    if col.kind == "id" and spec.prefix:
        return values.where(values.isna(), spec.prefix + values.astype("str"))
    return values


def _source(spec: ColumnSpec, rows: pd.DataFrame) -> pd.Series:
    empty = pd.Series([None] * len(rows), index=rows.index, dtype=object)
    values = rows[spec.column] if spec.column in rows.columns else empty
    if spec.fallback is not None:
        values = values.where(values.notna(), rows[spec.fallback])
    return values


def _mapped(
    values: pd.Series, table: MappingType[str, object], default: object, has_default: bool
) -> pd.Series:
    """Source values through a value map; values it does not name keep theirs (validation
    names them) unless a default is given (`default: null` makes them null)."""
    lookup = {_key(k): v for k, v in table.items()}
    text = _text(values)
    named = text.isin(list(lookup)).to_numpy(dtype=bool)
    out = values.astype(object).copy()
    out[named] = text[named].map(lookup)
    if has_default:
        out[~named] = default
    return out


def _converted(values: pd.Series, currency: pd.Series, rates: MappingType[str, float]) -> pd.Series:
    """Amounts times the rate of their currency; an unknown currency leaves text validation
    names ('120 (no rate for JPY)')."""
    code = currency.astype("str").str.strip().str.upper()
    rate = code.map({k.upper(): v for k, v in rates.items()})
    number = pd.to_numeric(values, errors="coerce")
    unknown = values.notna() & number.notna() & rate.isna()
    if not unknown.any():
        return (number * rate).where(number.notna(), values)
    text = values.astype("str") + " (no rate for " + code.fillna("no currency") + ")"
    return (
        (number * rate).astype(object).where(~unknown, text).where(number.notna() | unknown, values)
    )


def _scaled(values: pd.Series, scale: float) -> pd.Series:
    number = pd.to_numeric(values, errors="coerce")
    bad = values.notna() & number.isna()
    if not bad.any():
        return number.astype("float64") * scale
    return (number * scale).astype(object).where(~bad, values)


def timestamps(values: pd.Series, *, fmt: str | None, zone: str | None) -> pd.Series:
    """Text → tz-aware UTC timestamps: `fmt` (strptime) or ISO 8601; values without an offset
    are in `zone` (None: left as text, validation asks for a time zone). Unparsable cells stay."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values if zone is None else values.dt.tz_localize(zone).dt.tz_convert("UTC")
    text = values.astype("str").str.strip()
    aware = text.str.contains(TZ_SUFFIX, regex=True).fillna(False).to_numpy(dtype=bool)
    if fmt is not None and "%z" in fmt:
        aware = text.notna().to_numpy(dtype=bool)
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    if aware.any():
        out[aware] = pd.to_datetime(
            text[aware], format=fmt or "ISO8601", utc=True, errors="coerce"
        ).dt.as_unit("ns")
    naive = ~aware & text.notna().to_numpy(dtype=bool)
    if zone is not None and naive.any():
        local = pd.to_datetime(text[naive], format=fmt or "ISO8601", errors="coerce")
        local = local.dt.tz_localize(zone, ambiguous="NaT", nonexistent="shift_forward")
        out[naive] = local.dt.tz_convert("UTC").dt.as_unit("ns")
    unparsed = text.notna() & out.isna()
    if not unparsed.any():
        return out
    return out.astype(object).where(~unparsed, values)


def _grouped(frame: pd.DataFrame, part: TablePart) -> pd.DataFrame:
    """One row per value of `group_by`; each column by its `agg` (default: first non-null)."""
    key = part.group_by
    assert key is not None
    aggs = {name: spec.agg or "first" for name, spec in part.columns.items() if name != key}
    aggs.update(source="first", source_row="min")
    ordered = frame.sort_values("source_row", kind="stable")
    for name, how in aggs.items():  # unparsed cells (text among timestamps): compare as text
        if how in ("min", "max") and ordered[name].dtype == object:
            ordered[name] = ordered[name].astype("str")
    grouped = ordered.groupby(key, sort=False, dropna=True).agg(aggs)
    return grouped.reset_index()


def _not_before(values: pd.Series, floor: pd.Series) -> pd.Series:
    """A date-only value (CloseDate) raised to its row's `floor` (created the same day)."""
    if not (
        isinstance(values.dtype, pd.DatetimeTZDtype) and isinstance(floor.dtype, pd.DatetimeTZDtype)
    ):
        return values
    early = values.notna() & floor.notna() & (values < floor)
    return values.mask(early, floor)
