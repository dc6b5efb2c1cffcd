"""CSV exports meant for spreadsheets: cells that would run as formulas are neutralised.

A text cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to
Excel, LibreOffice and Google Sheets (`=HYPERLINK(...)`); it gets a leading `'`, which they
show as text (OWASP "CSV injection"). Numbers are left alone: `-3.5` stays a number.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The value, or the text with a leading `'` when a spreadsheet would run it."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells are spreadsheet-safe (numeric columns untouched)."""
    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
            continue
        if pd.api.types.is_datetime64_any_dtype(column.dtype):
            continue
        out[name] = column.map(safe_cell).astype(object) if len(column) else column
    return out
