"""The feature spec of a model: which columns it reads, in what order, and how categories map.

The same encoding runs at training time (pandas frames) and in serving (one mapping per
partner), so a model sees identical numbers on both paths. Categories become the integer code
of their level (LightGBM's native categorical input); a level unseen in training, a missing
value or a missing key becomes NaN, which LightGBM treats as missing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.btyd import BgNbd, scalar_scores
from tierwise.errors import InvalidInput, Problem


@dataclass(frozen=True)
class FeatureSpec:
    """Ordered feature names plus the levels of each categorical feature (code = index)."""

    features: tuple[str, ...]
    categories: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # BG/NBD parameters fitted on the training period (+ horizon_days): the model's features
    # BGNBD_FEATURES are computed from the input's rf_* columns with them
    bgnbd: Mapping[str, float] | None = None

    def derive_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """`frame` plus the derived (BG/NBD) columns, when this spec has any."""
        if self.bgnbd is None or not any(n in self.features for n in BGNBD_FEATURES):
            return frame
        inputs = [
            pd.to_numeric(frame[n], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            if n in frame.columns
            else np.full(len(frame), np.nan)
            for n in BGNBD_INPUTS
        ]
        return frame.assign(**bgnbd_columns(self.bgnbd, *inputs))

    def derive_row(self, row: Mapping[str, Any]) -> Mapping[str, Any]:
        """`row` plus the derived (BG/NBD) values: the scalar view of `derive_frame`."""
        fit = self._bgnbd_fit
        if fit is None:
            return row
        x, t_x, age = (_as_float(row.get(n)) for n in BGNBD_INPUTS)
        nan = math.nan
        scores = scalar_scores(
            fit,
            nan if x is None else x,
            nan if t_x is None else t_x,
            nan if age is None else age,
            horizon_days=self._bgnbd_horizon,
        )
        return {**row, **dict(zip(BGNBD_FEATURES, scores, strict=True))}

    @cached_property
    def _bgnbd_fit(self) -> BgNbd | None:
        return None if self.bgnbd is None else BgNbd.from_dict(dict(self.bgnbd))

    @cached_property
    def _bgnbd_horizon(self) -> float:
        return float(self.bgnbd["horizon_days"]) if self.bgnbd is not None else math.nan

    @property
    def inputs(self) -> list[str]:
        """The features a caller supplies (the derived BG/NBD ones are computed from them)."""
        return [n for n in self.features if n not in BGNBD_FEATURES or self.bgnbd is None]

    @property
    def categorical_indices(self) -> list[int]:
        return [i for i, name in enumerate(self.features) if name in self.categories]

    # --- (de)serialisation -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "features": list(self.features),
            "categories": {k: list(v) for k, v in self.categories.items()},
        }
        if self.bgnbd is not None:
            out["bgnbd"] = dict(self.bgnbd)
        return out

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")
        return path

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpec:
        return cls(
            features=tuple(data["features"]),
            categories={k: tuple(v) for k, v in data.get("categories", {}).items()},
            bgnbd=data.get("bgnbd"),
        )

    @classmethod
    def load(cls, path: Path) -> FeatureSpec:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        features: Iterable[str],
        categorical: Iterable[str] = (),
        bgnbd: Mapping[str, float] | None = None,
    ) -> FeatureSpec:
        """Learn the levels of the categorical features from a (training) frame.

        A feature is categorical when listed in `categorical` or when its column holds text.
        """
        names = tuple(features)
        if bgnbd is not None:
            names = (*names, *(n for n in BGNBD_FEATURES if n not in names))
            frame = cls(names, bgnbd=bgnbd).derive_frame(frame)
        missing = [n for n in names if n not in frame.columns]
        if missing:
            raise InvalidInput(
                "training frame lacks model features",
                [Problem("column missing", column=n) for n in missing],
            )
        wanted = set(categorical)
        cats: dict[str, tuple[str, ...]] = {}
        for name in names:
            col = frame[name]
            if name in wanted or _is_text(col):
                levels = sorted({str(v) for v in col.dropna().unique()})
                cats[name] = tuple(levels)
        return cls(features=names, categories=cats, bgnbd=bgnbd)

    # --- encoding ----------------------------------------------------------------------
    def encode_frame(self, frame: pd.DataFrame) -> np.ndarray:
        """Encode a frame that holds every model feature as a float64 matrix."""
        frame = self.derive_frame(frame)
        missing = [n for n in self.features if n not in frame.columns]
        if missing:
            raise InvalidInput(
                f"input lacks {len(missing)} model feature(s)",
                [Problem("column missing", column=n) for n in missing],
            )
        # column-major: each feature is written contiguously (LightGBM reads either order)
        out = np.empty((len(frame), len(self.features)), dtype=np.float64, order="F")
        for j, name in enumerate(self.features):
            out[:, j] = self._encode_column(name, frame[name])
        return out

    def _encode_column(self, name: str, col: pd.Series) -> np.ndarray:
        levels = self.categories.get(name)
        if levels is not None:
            index = pd.Index(levels, dtype="object")
            if col.dtype != object:  # typed: str() of each distinct value only
                inverse, uniques = pd.factorize(col, use_na_sentinel=True)
                text = pd.Index([str(v) for v in uniques], dtype="object")
                lookup = np.append(index.get_indexer(text), -1)
                codes = lookup[inverse]  # missing (-1) takes the appended -1
            else:  # mixed Python objects: 1 and True are different levels
                strs = col.where(col.notna(), None).map(lambda v: None if v is None else str(v))
                codes = index.get_indexer(pd.Index(strs))
            return np.where(codes < 0, np.nan, codes).astype(np.float64)
        if isinstance(col.dtype, np.dtype) and col.dtype.kind in "biuf":  # numbers already
            return col.to_numpy(dtype=np.float64)
        try:
            return pd.to_numeric(col, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
        except (ValueError, TypeError) as exc:
            bad = next((v for v in col if _as_float(v) is None), None)
            raise InvalidInput(
                f"feature {name} must be numeric",
                [Problem("not a number", column=name, value=bad)],
            ) from exc

    @cached_property
    def _lookups(self) -> dict[str, dict[str, float]]:
        """Per categorical feature: level → code."""
        return {
            name: {lv: float(i) for i, lv in enumerate(levels)}
            for name, levels in self.categories.items()
        }

    @cached_property
    def _columns(self) -> tuple[tuple[str, dict[str, float] | None], ...]:
        """(feature, level → code or None for a number), in model order."""
        return tuple((name, self._lookups.get(name)) for name in self.features)

    def encode(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Encode mappings (one per row) without pandas; an absent key is a missing value."""
        # the serving fast path (one row per request): plain lists, floats checked first
        columns = self._columns
        nan = math.nan
        problems: list[Problem] = []
        derive = self.bgnbd is not None
        encoded: list[list[float]] = []
        for i, row in enumerate(rows):
            if derive:
                row = self.derive_row(row)
            get = row.get
            values: list[float] = []
            append = values.append
            for name, lookup in columns:
                value = get(name)
                if value is None:
                    append(nan)
                elif lookup is not None:
                    append(lookup.get(str(value), nan))
                elif value.__class__ is float:
                    append(value)
                else:
                    number = _as_float(value)
                    if number is None:
                        problems.append(Problem("not a number", row=i, column=name, value=value))
                    append(nan if number is None else number)
            encoded.append(values)
        if problems:
            raise InvalidInput("features must be numeric", problems)
        if not encoded:
            return np.empty((0, len(self.features)), dtype=np.float64)
        return np.array(encoded, dtype=np.float64)


BGNBD_INPUTS = ("rf_frequency", "rf_recency_days", "rf_age_days")
BGNBD_FEATURES = ("bgnbd_p_alive", "bgnbd_p_quiet", "bgnbd_expected_events")


def bgnbd_columns(params: Mapping[str, float], x: Any, t_x: Any, age: Any) -> dict[str, Any]:
    """BG/NBD P(alive), P(no sign of life within the horizon) and expected events in it;
    NaN where an input is missing."""
    fit = BgNbd.from_dict(dict(params))
    horizon = float(params["horizon_days"])
    known = ~(np.isnan(x) | np.isnan(t_x) | np.isnan(age))
    with np.errstate(all="ignore"):
        cols = {
            "bgnbd_p_alive": fit.p_alive(x, t_x, age),
            "bgnbd_p_quiet": fit.p_quiet(x, t_x, age, horizon_days=horizon),
            "bgnbd_expected_events": fit.expected(x, t_x, age, horizon_days=horizon),
        }
    return {k: np.where(known, v, np.nan) for k, v in cols.items()}


def _is_text(col: pd.Series) -> bool:
    return bool(
        pd.api.types.is_string_dtype(col.dtype)
        or isinstance(col.dtype, pd.CategoricalDtype)
        or col.dtype == object
    )


def _as_float(value: Any) -> float | None:
    """A number as float (booleans are 0/1); None when the value is not a number."""
    if isinstance(value, bool | np.bool_ | int | float | np.integer | np.floating):
        return float(value)
    if value is pd.NA or value is pd.NaT:
        return math.nan
    return None
