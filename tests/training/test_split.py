from __future__ import annotations

import pandas as pd
import pytest

from tierwise.errors import InvalidInput
from training.split import month_boundaries, snapshot_boundaries

MONTHS = list(pd.date_range("2023-01-01", "2024-12-01", freq="MS", tz="UTC"))


def periods(horizon: int = 90) -> pd.Series:
    bounds = snapshot_boundaries(MONTHS, horizon_days=horizon)
    return bounds.assign(pd.Series(MONTHS))


def test_test_period_is_the_most_recent_snapshots() -> None:
    p = periods()
    assert list(p.iloc[-3:]) == ["test"] * 3
    assert "test" not in set(p.iloc[:-3])


def test_periods_are_ordered_in_time() -> None:
    p = periods()
    order = {"train": 0, "validation": 1, "test": 2}
    ranks = [order[x] for x in p if x]
    assert ranks == sorted(ranks)


def test_labels_of_one_period_end_before_the_next_begins() -> None:
    bounds = snapshot_boundaries(MONTHS, horizon_days=90)
    p = periods()
    horizon = pd.Timedelta(days=90)
    train = [m for m, x in zip(MONTHS, p, strict=True) if x == "train"]
    val = [m for m, x in zip(MONTHS, p, strict=True) if x == "validation"]
    assert max(train) + horizon <= bounds.validation_start
    assert max(val) + horizon <= bounds.test_start


def test_purged_snapshots_belong_to_no_period() -> None:
    assert (periods() == "").sum() > 0


def test_short_history_is_an_error_that_says_why() -> None:
    with pytest.raises(InvalidInput, match="horizon"):
        snapshot_boundaries(MONTHS[:9], horizon_days=90)


def test_too_few_snapshots_is_an_error() -> None:
    with pytest.raises(InvalidInput, match="5 cut-off.*no train/validation/test split"):
        snapshot_boundaries(MONTHS[:5], horizon_days=30)


def test_month_boundaries_put_recent_deals_in_test() -> None:
    end = pd.Timestamp("2025-01-01", tz="UTC")
    times = pd.Series(pd.to_datetime(["2024-01-15", "2024-08-15", "2024-11-15"], utc=True))
    assert list(month_boundaries(end).assign(times)) == ["train", "validation", "test"]
