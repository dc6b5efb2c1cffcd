from __future__ import annotations

import pandas as pd
import pytest

from tierwise.errors import InvalidInput
from training.split import month_boundaries, partner_buckets, plan_split, snapshot_boundaries

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
    with pytest.raises(InvalidInput, match=r"5 cut-off.*no train/validation/test split"):
        snapshot_boundaries(MONTHS[:5], horizon_days=30)


def test_month_boundaries_put_recent_deals_in_test() -> None:
    end = pd.Timestamp("2025-01-01", tz="UTC")
    times = pd.Series(pd.to_datetime(["2024-01-15", "2024-08-15", "2024-11-15"], utc=True))
    assert list(month_boundaries(end).assign(times)) == ["train", "validation", "test"]


WEEKS = list(pd.date_range("2024-03-04", periods=10, freq="7D", tz="UTC"))


def test_long_history_gets_the_full_time_split() -> None:
    bounds = plan_split(MONTHS, horizon_days=90)
    assert (bounds.mode, bounds.test_snapshots, bounds.validation_snapshots) == ("time", 3, 3)


def test_shorter_history_shrinks_the_periods_before_giving_up_time() -> None:
    bounds = plan_split(MONTHS[:10], horizon_days=90)
    assert bounds.mode == "time" and bounds.test_snapshots + bounds.validation_snapshots < 6
    train = bounds.assign(pd.Series(MONTHS[:10])) == "train"
    assert train.sum() >= bounds.test_snapshots + bounds.validation_snapshots


def test_auto_never_trains_on_fewer_cut_offs_than_it_validates_and_tests_on() -> None:
    # 8 months, 90 days: a time split would train on one month alone (a young program's
    # first month has seen nobody go quiet); validation moves to a partner group instead
    bounds = plan_split(MONTHS[:8], horizon_days=90)
    assert bounds.mode == "time test, partner validation"
    explicit = plan_split(MONTHS[:8], horizon_days=90, test_snapshots=1, validation_snapshots=1)
    assert explicit.mode == "time"  # asked for explicitly: kept
    assert (explicit.assign(pd.Series(MONTHS[:8])) == "train").sum() == 1


def test_no_room_for_validation_holds_out_partners_for_it() -> None:
    bounds = plan_split(MONTHS[:5], horizon_days=90)
    assert bounds.mode == "time test, partner validation"
    p = bounds.assign(pd.Series(MONTHS[:5] * 50), pd.Series([f"P{i}" for i in range(250)]))
    assert {"train", "validation", "test"} <= set(p)


def test_six_months_of_weekly_cut_offs_hold_out_test_partners() -> None:
    bounds = plan_split(WEEKS, horizon_days=90, cadence="weekly")
    assert bounds.mode == "partner holdout" and "held-out 30% of partners" in bounds.describe()
    times = pd.Series(WEEKS * 100)
    partners = pd.Series([f"P{i % 100}" for i in range(len(times))])
    p = bounds.assign(times, partners)
    by_partner = pd.DataFrame({"p": partners, "period": p}).query("period != ''")
    assert by_partner.groupby("p")["period"].nunique().max() == 1  # no partner in two periods
    assert (times[p == "test"] >= bounds.test_start).all()
    assert (times[p.isin(["train", "validation"])] < bounds.test_start).all()


def test_explicit_snapshot_counts_are_kept_or_refused() -> None:
    bounds = plan_split(MONTHS, horizon_days=90, test_snapshots=1, validation_snapshots=2)
    assert (bounds.test_snapshots, bounds.validation_snapshots) == (1, 2)
    with pytest.raises(InvalidInput, match="--validation-snapshots 3"):
        plan_split(MONTHS[:8], horizon_days=90, validation_snapshots=3)


def test_zero_snapshots_is_refused() -> None:
    with pytest.raises(InvalidInput, match="test_snapshots must be at least 1"):
        plan_split(MONTHS, horizon_days=90, test_snapshots=0)


def test_partner_groups_are_stable() -> None:
    ids = pd.Series(["P1", "P2", "P3"])
    assert list(partner_buckets(ids)) == list(partner_buckets(ids.iloc[::-1]))[::-1]
    assert all(0 <= b < 1 for b in partner_buckets(ids))
