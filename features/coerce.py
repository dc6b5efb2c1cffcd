"""Coerce raw columns to the contract's canonical dtypes, noting every cell that is not valid.

Ids, strings and categories become `str`; numbers float64 (integers stay float64 here and
become int64 once the bad rows are gone); timestamps `datetime64[ns, UTC]`; list columns
'|'-joined `str`. A cell that cannot be converted becomes null and is reported by the caller.
Everything is vectorized except the rare inputs that need Python objects (lists, datetimes in
object columns).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from features.schema import LIST_SEPARATOR, Column

TZ_SUFFIX = r"(?:[Zz]|[+-]\d\d:?\d\d)$"  # kept simple: pyarrow runs it natively
FIRST_NS, LAST_NS = pd.Timestamp("1677-09-22", tz="UTC"), pd.Timestamp("2262-04-11", tz="UTC")
Issues = list[tuple[str, np.ndarray]]  # (message, bad-row mask) from coercing one column


def coerce_column(col: Column, raw: pd.Series) -> tuple[pd.Series, Issues]:
    """`raw` as its canonical dtype (bad cells become null) and the cells that were bad."""
    if col.kind in ("number", "integer"):
        return _to_number(raw, integer=col.kind == "integer")
    if col.kind == "timestamp":
        return _to_timestamp(raw)
    if col.kind == "list":
        return _to_list_text(raw), []
    return _to_text(raw), []


def _is_number(dtype: Any) -> bool:
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _to_text(raw: pd.Series) -> pd.Series:
    if pd.api.types.is_string_dtype(raw.dtype) and not pd.api.types.is_object_dtype(raw.dtype):
        return raw
    if pd.api.types.is_float_dtype(raw.dtype):  # ids stored as floats: 12.0 -> "12"
        return raw.map(lambda v: v if pd.isna(v) else f"{v:.0f}" if v.is_integer() else repr(v))
    return raw.astype("str")


def _to_list_text(raw: pd.Series) -> pd.Series:
    """A list column (Parquet list, or text joined by '|') as '|'-joined text; empty list ''."""
    if pd.api.types.is_string_dtype(raw.dtype) and not pd.api.types.is_object_dtype(raw.dtype):
        return raw.fillna("")
    return pd.Series([_joined(v) for v in raw], index=raw.index, dtype="str")


def _joined(value: Any) -> str:
    if isinstance(value, (list, tuple, np.ndarray)):
        return LIST_SEPARATOR.join(str(v) for v in value)
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _to_number(raw: pd.Series, *, integer: bool) -> tuple[pd.Series, Issues]:
    if _is_number(raw.dtype):
        num = raw.astype("float64")
    else:
        num = pd.to_numeric(raw.astype("str"), errors="coerce").astype("float64")
    values = num.to_numpy()
    not_number = raw.notna().to_numpy() & np.isnan(values)
    infinite = np.isinf(values)
    issues = [("not a number", not_number), ("not a finite number", infinite)]
    if integer:
        fractional = np.isfinite(values) & (np.mod(values, 1) != 0)
        issues.append(("not a whole number", fractional))
    bad = np.logical_or.reduce([mask for _, mask in issues])
    return num.mask(bad), issues


def _to_timestamp(raw: pd.Series) -> tuple[pd.Series, Issues]:
    """Tz-aware timestamps as UTC; naive ones (no offset) are a problem, not a guess."""
    nothing = np.zeros(len(raw), dtype=bool)
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        ts, unparsable, naive = raw.dt.tz_convert("UTC"), nothing, nothing
    elif pd.api.types.is_datetime64_dtype(raw.dtype):
        ts, unparsable, naive = (
            pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns, UTC]"),
            nothing,
            raw.notna().to_numpy(),
        )
    else:
        text = raw if raw.dtype == "str" else raw.map(_iso_text).astype("str")
        ts = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
        unparsable = (text.notna() & ts.isna()).to_numpy()
        aware = text.str.contains(TZ_SUFFIX, regex=True).fillna(False).to_numpy(dtype=bool)
        naive = ts.notna().to_numpy() & ~aware
    out_of_range = (ts.notna() & ((ts < FIRST_NS) | (ts > LAST_NS))).to_numpy()
    ts = ts.mask(naive | out_of_range).dt.as_unit("ns")
    issues = [
        ("not an ISO 8601 timestamp", unparsable),
        ("timestamp has no time zone (add an offset such as +00:00 or Z)", naive),
        ("timestamp out of range (years 1678-2261)", out_of_range),
    ]
    return ts, issues


def _iso_text(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def plain(value: Any) -> Any:
    """A raw cell as a plain Python value for messages and JSON."""
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if isinstance(value, (pd.Timestamp, datetime, date)):
        return value.isoformat()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
