"""Time-based train / validation / test splits that fit the history there is.

Never a random split across time. Between two periods a *purge gap* drops the examples whose
label window reaches into the next period: a churn example at as_of looks h days ahead, so a
training example must satisfy as_of + h <= the first validation as_of, and likewise for
validation against test. Without the gap, the model would be tuned on outcomes that overlap
the ones it is evaluated on.

`plan_split` adapts to short histories and says what it chose (`Boundaries.describe()`):

1. `time`: test = the last T cut-offs, validation = the last V cut-offs whose labels end
   before the test period, train = those whose labels end before validation (T, V = 3, 3;
   fewer, down to 1, when the history is short and they were not given). Chosen
   automatically, a split must leave training at least as many cut-offs as validation and
   test together: a model fitted on the first month or two of a young program has seen no
   partner go quiet and ranks worse than recency alone.
2. `time test, partner validation`: no room for a separate validation period — validation is
   a held-out group of partners (VALIDATION_SHARE) at the training cut-offs.
3. `partner holdout`: not even a horizon between the first and the last cut-off (e.g. six
   months of history for a 90-day horizon) — the test period is the last T cut-offs of a
   held-out group of partners (TEST_SHARE) who never appear in training; the others train
   (and validate, by partner) on the earlier cut-offs. No partner is in two periods, so no
   label leaks across them; what the periods still share is calendar time.

Partners are assigned to groups by a stable hash of their id, the same in every run.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from tierwise.errors import InvalidInput

log = logging.getLogger(__name__)

PERIODS = ("train", "validation", "test")
DEFAULT_SNAPSHOTS = 3
VALIDATION_SHARE = 0.2
TEST_SHARE = 0.3
Held = Literal["time", "partners"]


@dataclass(frozen=True)
class Boundaries:
    """Examples at time t: train if t + gap <= validation_start; validation if
    validation_start <= t and t + gap <= test_start; test if t >= test_start.

    With `validation="partners"` validation is a partner group at the training times; with
    `test="partners"` the test period holds only the test partner group (whose earlier
    examples are left out), and training needs no gap before it.
    """

    validation_start: pd.Timestamp
    test_start: pd.Timestamp
    gap: pd.Timedelta
    validation: Held = "time"
    test: Held = "time"
    test_snapshots: int = 0
    validation_snapshots: int = 0
    cadence: str = ""

    def assign(self, times: pd.Series, partners: pd.Series | None = None) -> pd.Series:
        """'train', 'validation', 'test' or '' (purged) for each time (and partner)."""
        t = pd.to_datetime(times, utc=True)
        if (self.validation == "partners" or self.test == "partners") and partners is None:
            raise InvalidInput("a partner-holdout split needs the partner of every example")
        bucket = partner_buckets(partners) if partners is not None else np.ones(len(t))
        test_group = bucket < TEST_SHARE if self.test == "partners" else np.zeros(len(t), bool)
        out = np.full(len(t), "", dtype=object)
        is_test = (t >= self.test_start).to_numpy() & (test_group | (self.test == "time"))
        before_test = t + (self.gap if self.test == "time" else pd.Timedelta(0)) <= self.test_start
        pool = before_test.to_numpy() & ~test_group & (t < self.test_start).to_numpy()
        if self.validation == "partners":
            lo = TEST_SHARE if self.test == "partners" else 0.0
            val_group = (bucket >= lo) & (bucket < lo + VALIDATION_SHARE)
            out[pool & ~val_group] = "train"
            out[pool & val_group] = "validation"
        else:
            out[pool & (t + self.gap <= self.validation_start).to_numpy()] = "train"
            out[pool & (t >= self.validation_start).to_numpy()] = "validation"
        out[is_test] = "test"
        return pd.Series(out, index=times.index, name="period", dtype="str")

    def describe(self) -> str:
        """What the split chose, in words (logged and recorded with each run)."""
        start = self.test_start.date()
        test = f"test = last {self.test_snapshots} {self.cadence} cut-off(s) from {start}"
        if self.test == "partners":
            test += f" of a held-out {TEST_SHARE:.0%} of partners"
        if self.validation == "partners":
            val = f"validation = a held-out {VALIDATION_SHARE:.0%} of partners"
        else:
            val = (
                f"validation = {self.validation_snapshots} cut-off(s) from "
                f"{self.validation_start.date()}"
            )
        gap = f"purge gap {self.gap.days} days" if self.test == "time" else "no purge gap"
        return f"{self.mode} split: {test}; {val}; {gap}"

    @property
    def mode(self) -> str:
        if self.test == "partners":
            return "partner holdout"
        return "time" if self.validation == "time" else "time test, partner validation"


def partner_buckets(partners: pd.Series) -> np.ndarray:
    """A stable number in [0, 1) per partner id (the same in every run and process)."""
    ids = partners.astype("str")
    unique = pd.unique(ids.to_numpy())
    value = {
        p: int.from_bytes(hashlib.blake2b(p.encode(), digest_size=8).digest(), "big") / 2**64
        for p in unique
    }
    return ids.map(value).to_numpy(dtype=np.float64)


def plan_split(
    as_ofs: Sequence[pd.Timestamp],
    *,
    horizon_days: int,
    test_snapshots: int | None = None,
    validation_snapshots: int | None = None,
    cadence: str = "monthly",
) -> Boundaries:
    """The split that fits these cut-offs (see the module docstring); logs what it chose.

    Snapshot counts given explicitly are kept (an error when they do not fit); left as None
    they start at 3 and shrink to 1, then validation and test move to held-out partners.
    """
    stamps = sorted(pd.Timestamp(a) for a in as_ofs)
    for name, value in (("test", test_snapshots), ("validation", validation_snapshots)):
        if value is not None and value < 1:
            raise InvalidInput(f"{name}_snapshots must be at least 1, got {value}")
    tests = [test_snapshots] if test_snapshots else list(range(DEFAULT_SNAPSHOTS, 0, -1))
    vals = [validation_snapshots] if validation_snapshots else list(range(DEFAULT_SNAPSHOTS, 0, -1))
    h, c = horizon_days, cadence
    found = None
    auto = test_snapshots is None and validation_snapshots is None
    for t in tests:
        for v in vals:
            least = t + v if auto else 1
            found = found or _time_split(stamps, t, v, horizon_days=h, cadence=c, least=least)
    if found is None and validation_snapshots is None:
        for t in tests:
            found = found or _time_test_split(stamps, t, horizon_days=h, cadence=c)
        for t in tests:
            found = found or _holdout_split(stamps, t, horizon_days=h, cadence=c)
    if found is None:
        raise InvalidInput(_too_short(stamps, horizon_days, test_snapshots, validation_snapshots))
    log.info("%s", found.describe())
    return found


def _time_split(
    stamps: list[pd.Timestamp], t: int, v: int, *, horizon_days: int, cadence: str, least: int = 1
) -> Boundaries | None:
    gap = pd.Timedelta(days=horizon_days)
    if len(stamps) < t + v + 1:
        return None
    test_start = stamps[-t]
    val_pool = [a for a in stamps if a + gap <= test_start]
    if len(val_pool) < v + 1:
        return None
    validation_start = val_pool[-v]
    if sum(a + gap <= validation_start for a in stamps) < least:  # training cut-offs
        return None
    return Boundaries(validation_start, test_start, gap, "time", "time", t, v, cadence)


def _time_test_split(
    stamps: list[pd.Timestamp], t: int, *, horizon_days: int, cadence: str
) -> Boundaries | None:
    gap = pd.Timedelta(days=horizon_days)
    if len(stamps) < t + 1:
        return None
    test_start = stamps[-t]
    if not any(a + gap <= test_start for a in stamps):
        return None
    return Boundaries(stamps[0], test_start, gap, "partners", "time", t, 0, cadence)


def _holdout_split(
    stamps: list[pd.Timestamp], t: int, *, horizon_days: int, cadence: str
) -> Boundaries | None:
    if len(stamps) < t + 1 or len(stamps) - t < t:  # at least as many training cut-offs
        return None
    gap = pd.Timedelta(days=horizon_days)
    return Boundaries(stamps[0], stamps[-t], gap, "partners", "partners", t, 0, cadence)


def _too_short(
    stamps: list[pd.Timestamp], horizon_days: int, test: int | None, validation: int | None
) -> str:
    span = f"{stamps[0].date()}..{stamps[-1].date()}" if stamps else "none"
    asked = ""
    if test or validation:
        asked = (
            f" with --test-snapshots {test or 'auto'} --validation-snapshots {validation or 'auto'}"
        )
    return (
        f"{len(stamps)} cut-off(s) ({span}) leave no train/validation/test split{asked} for a "
        f"{horizon_days}-day horizon"
    )


def month_boundaries(
    end: pd.Timestamp, *, test_months: int = 3, validation_months: int = 3
) -> Boundaries:
    """Boundaries by calendar: the last `test_months` before `end` are test, the
    `validation_months` before them validation, the rest train (no gap)."""
    test_start = pd.Timestamp(end) - pd.DateOffset(months=test_months)
    validation_start = test_start - pd.DateOffset(months=validation_months)
    return Boundaries(
        validation_start,
        test_start,
        pd.Timedelta(0),
        test_snapshots=test_months,
        validation_snapshots=validation_months,
        cadence="month",
    )


def snapshot_boundaries(
    as_ofs: Sequence[pd.Timestamp],
    *,
    horizon_days: int,
    test_snapshots: int = DEFAULT_SNAPSHOTS,
    validation_snapshots: int = DEFAULT_SNAPSHOTS,
) -> Boundaries:
    """A strict time split with exactly these snapshot counts (InvalidInput if none fits)."""
    return plan_split(
        as_ofs,
        horizon_days=horizon_days,
        test_snapshots=test_snapshots,
        validation_snapshots=validation_snapshots,
    )
