"""Guards on data that is well-typed but still wrong: empty tables, oversized text, dates
beyond the data's end; and what an export without the optional columns will lack.

Each guard returns `Finding`s (row-level, like every other validation problem) or warnings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.schema import Column, TableSchema, is_scheduled

SHOWN_CHARS = 40  # of an oversized value, in messages
FUTURE_TOLERANCE = pd.Timedelta(days=366)
BULK_QUANTILE = 0.99


@dataclass(frozen=True)
class DataEnd:
    """The latest instant the data may speak of, and how it was decided (for messages)."""

    at: pd.Timestamp
    why: str


def truncated(value: object) -> str:
    text = str(value)
    if len(text) <= SHOWN_CHARS:
        return text
    return f"{text[:SHOWN_CHARS]}… ({len(text):,} characters)"


def too_long(col: Column, raw: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """Rows whose text is longer than the column allows, and their values shortened for show."""
    limit = col.max_length
    if limit is None or not len(raw):
        return None
    lengths = raw.astype("str").str.len() if raw.dtype != "str" else raw.str.len()
    mask = (lengths > limit).fillna(False).to_numpy(dtype=bool)
    if not mask.any():
        return None
    rows = np.flatnonzero(mask)
    shown = np.array([truncated(v) for v in raw.iloc[rows]], dtype=object)
    return rows, shown


def length_message(col: Column) -> str:
    return f"longer than {col.max_length} characters"


def fill_default(col: Column, values: pd.Series, raw: pd.DataFrame) -> pd.Series:
    """Null cells of a column with a default take it (a constant, or '=other' copies a column)."""
    if col.default is None:
        return values
    if col.default.startswith("="):
        source = col.default[1:]
        if source not in raw.columns:
            return values
        fallback = raw[source].reset_index(drop=True)
        return values.where(values.notna(), fallback)
    return values.fillna(col.default)


def missing_columns_warnings(schema: TableSchema, raw: pd.DataFrame) -> list[str]:
    """One warning per optional column that is absent or all empty, with what stays empty."""
    out = []
    for col in schema.columns:
        if not col.optional:
            continue
        absent = col.name not in raw.columns
        if not absent and not (len(raw) and _blank(raw[col.name]).all()):
            continue
        how = "absent" if absent else "empty in every row"
        if col.default is not None:
            filled = f"column {col.default[1:]}" if col.default.startswith("=") else col.default
            out.append(f"{schema.name}.{col.name} is {how}: filled with {filled}")
        elif col.feeds:
            out.append(f"{schema.name}.{col.name} is {how}: empty {'; empty '.join(col.feeds)}")
    return out


def _blank(values: pd.Series) -> pd.Series:
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        return values.isna() | (values.astype("str").str.strip() == "")
    return values.isna()


def data_end(frames: Mapping[str, pd.DataFrame], as_of: pd.Timestamp | None) -> DataEnd | None:
    """`as_of` when given; else the latest timestamp of the bulk of the data (its 99th
    percentile over every timestamp column) plus a year."""
    if as_of is not None:
        return DataEnd(as_of, f"--as-of {as_of.isoformat()}")
    stamps = [
        frame[c].dropna().to_numpy(dtype="datetime64[ns]")
        for name, frame in frames.items()
        for c in frame.columns
        if isinstance(frame[c].dtype, pd.DatetimeTZDtype) and not is_scheduled(name, c)
    ]
    every = np.concatenate(stamps) if stamps else np.empty(0, dtype="datetime64[ns]")
    if not every.size:
        return None
    bulk = pd.Timestamp(np.quantile(every.view(np.int64), BULK_QUANTILE, method="lower"), tz="UTC")
    return DataEnd(
        bulk + FUTURE_TOLERANCE,
        f"the data's end: 99% of its timestamps are before {bulk:%Y-%m-%d}, "
        f"+{FUTURE_TOLERANCE.days} days; set it with --as-of",
    )


def after_end(frame: pd.DataFrame, column: str, end: DataEnd) -> np.ndarray:
    """Rows of `frame` whose `column` is later than the data's end."""
    return (frame[column] > end.at).fillna(False).to_numpy(dtype=bool)
