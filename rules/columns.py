"""Frame columns as the vectorized evaluator needs them: floats, or category codes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from rules.conditions import DECIDED
from tierwise.errors import InvalidInput, Problem


class Columns:
    """Column cache over one frame: ``num`` gives float64 (NaN = missing), ``cat`` gives
    (codes, uniques) with code -1 for missing. Extra computed columns can be injected."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.n = len(frame)
        self._num: dict[str, np.ndarray] = {}
        self._cat: dict[str, tuple[np.ndarray, list[Any]]] = {}

    def num(self, name: str) -> np.ndarray:
        got = self._num.get(name)
        if got is None:
            got = self._num[name] = as_float(self.frame[name], name)
        return got

    def cat(self, name: str) -> tuple[np.ndarray, list[Any]]:
        got = self._cat.get(name)
        if got is None:
            codes, uniques = pd.factorize(self.frame[name], use_na_sentinel=True)
            got = self._cat[name] = (np.asarray(codes), list(uniques))
        return got

    def put_cat(self, name: str, codes: np.ndarray, uniques: list[Any]) -> None:
        self._cat[name] = (codes, uniques)


def inject_decided(cols: Columns, tiers: pd.DataFrame) -> None:
    """Make the decided tier, tier change and track (categoricals of ``tiers``, row-aligned)
    readable by the conditions evaluated after them (incentives, actions)."""
    for name in DECIDED:
        column = tiers[name].array
        cols.put_cat(name, np.asarray(column.codes), list(column.categories))


def as_float(series: pd.Series, name: str) -> np.ndarray:
    """A numeric or boolean column as float64 with NaN for missing; anything else is an error."""
    dtype = series.dtype
    if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        return series.to_numpy(dtype="float64", na_value=np.nan)
    converted = pd.to_numeric(series.astype(object).where(series.notna(), np.nan), errors="coerce")
    bad = converted.isna() & series.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        value = series.iloc[row]
        raise InvalidInput(
            f"column {name} is not numeric",
            [Problem(f"'{value}' is not a number", column=name, row=row, value=value)],
        )
    return converted.to_numpy(dtype="float64", na_value=np.nan)
