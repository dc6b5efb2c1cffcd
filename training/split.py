"""Time-based train / validation / test splits (test = the most recent period).

Never a random split across time. Between two periods a *purge gap* drops the examples whose
label window reaches into the next period: a churn example at as_of looks h days ahead, so a
training example must satisfy as_of + h <= the first validation as_of, and likewise for
validation against test. Without the gap, the model would be tuned on outcomes that overlap
the ones it is evaluated on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tierwise.errors import InvalidInput

PERIODS = ("train", "validation", "test")


@dataclass(frozen=True)
class Boundaries:
    """Examples at time t: train if t + gap <= validation_start; validation if
    validation_start <= t and t + gap <= test_start; test if t >= test_start."""

    validation_start: pd.Timestamp
    test_start: pd.Timestamp
    gap: pd.Timedelta

    def assign(self, times: pd.Series) -> pd.Series:
        """'train', 'validation', 'test' or '' (purged) for each time."""
        t = pd.to_datetime(times, utc=True)
        out = np.full(len(t), "", dtype=object)
        out[(t + self.gap <= self.validation_start).to_numpy()] = "train"
        val = (t >= self.validation_start) & (t + self.gap <= self.test_start)
        out[val.to_numpy()] = "validation"
        out[(t >= self.test_start).to_numpy()] = "test"
        return pd.Series(out, index=times.index, name="period", dtype="str")


def snapshot_boundaries(
    as_ofs: Sequence[pd.Timestamp],
    *,
    horizon_days: int,
    test_snapshots: int = 3,
    validation_snapshots: int = 3,
) -> Boundaries:
    """Boundaries for monthly snapshots: the last `test_snapshots` as_ofs are the test period,
    the last `validation_snapshots` whose labels end before it the validation period."""
    stamps = sorted(pd.Timestamp(a) for a in as_ofs)
    gap = pd.Timedelta(days=horizon_days)
    if len(stamps) < test_snapshots + validation_snapshots + 1:
        raise InvalidInput(_too_short(stamps, test_snapshots + validation_snapshots + 1))
    test_start = stamps[-test_snapshots]
    val_pool = [a for a in stamps if a + gap <= test_start]
    if len(val_pool) < validation_snapshots + 1:
        raise InvalidInput(
            f"with a {horizon_days}-day horizon only {len(val_pool)} snapshot(s) end before the "
            f"test period ({test_start.date()}): need {validation_snapshots} for validation "
            "and at least 1 for training; give more history or a shorter horizon"
        )
    validation_start = val_pool[-validation_snapshots]
    if not any(a + gap <= validation_start for a in stamps):
        raise InvalidInput(
            f"no snapshot's {horizon_days}-day label ends before the validation period "
            f"({validation_start.date()}): give more history or a shorter horizon"
        )
    return Boundaries(validation_start, test_start, gap)


def month_boundaries(
    end: pd.Timestamp, *, test_months: int = 3, validation_months: int = 3
) -> Boundaries:
    """Boundaries by calendar: the last `test_months` before `end` are test, the
    `validation_months` before them validation, the rest train (no gap)."""
    test_start = pd.Timestamp(end) - pd.DateOffset(months=test_months)
    validation_start = test_start - pd.DateOffset(months=validation_months)
    return Boundaries(validation_start, test_start, pd.Timedelta(0))


def _too_short(stamps: list[pd.Timestamp], need: int) -> str:
    span = f"{stamps[0].date()}..{stamps[-1].date()}" if stamps else "none"
    return f"{len(stamps)} monthly snapshot(s) ({span}); the time split needs at least {need}"
