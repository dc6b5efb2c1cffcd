from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features import registry
from features.lifecycle import SIGN_OF_LIFE_FEATURES
from features.snapshot import build_features, build_snapshots
from features.tables import Tables
from tests.features.tiny_program import (
    AS_OF,
    activities_frame,
    deal,
    deals_frame,
    partner,
    partners_frame,
    plant_future,
    random_tables,
    tiny_tables,
)
from tierwise.errors import DataValidationError, InvalidInput

# P1 as of 2024-07-01, worked out by hand from tests/features/tiny_program.py.
# 30 d = [06-01, 07-01), 90 d = [04-02, 07-01), 365 d = [2023-07-02, 07-01).
P1_EXPECTED = {
    "tenure_days": 547.0,  # 2023-01-01 -> 2024-07-01
    "days_to_onboard": 31.0,
    "verticals_count": 2.0,
    "deals_registered_30d": 4.0,  # D1 D3 D4 D5 (D6 is registered after AS_OF)
    "deals_registered_90d": 5.0,  # + D2
    "deals_registered_365d": 6.0,  # + D7
    "deals_accepted_30d": 2.0,  # D1 D4 decided in June; D5's decision is in the future
    "deals_accepted_365d": 4.0,  # D1 D2 D4 D7
    "acceptance_rate_30d": 2 / 3,  # D3 was rejected in June
    "acceptance_rate_365d": 4 / 5,
    "deals_won_30d": 1.0,  # D1; D5 wins in the future
    "win_rate_30d": 0.5,  # D1 won, D2 lost on 06-01 (window edge counts)
    "win_rate_365d": 2 / 3,  # D1 D7 won, D2 lost
    "revenue_won_365d": 5000.0,
    "avg_deal_value_30d": (1000 + 2000 + 5000 + 500) / 4,
    "avg_sales_cycle_days_365d": (9 + 40) / 2,  # D1 9 days, D7 40 days
    "expansion_share_90d": 2 / 5,  # D2 cross-sell, D3 upsell
    "open_pipeline": 5000.0,  # D4 accepted, still open
    "deals_won_total": 2.0,
    "days_since_last_deal": 2.0,  # D5 on 06-29
    "revenue_won_trend": 1000 / 4000,  # D1 in the last 90 days, D7 (01-10) in the 90 before
    "leads_registered_365d": 2.0,
    "manager_contacts_365d": 2.0,  # the contact at AS_OF itself does not count
    "certified_staff": 2.0,
    "cert_passes_365d": 1.0,
    "days_since_last_manager_contact": 1.0,
    "activity_trend": 5 / 2,
    "leads_trend": 1.0,
    "satisfaction_latest": 8.0,  # the 2.0 answer comes after AS_OF
    "satisfaction_avg_365d": 7.0,  # (6 + 8) / 2; the 2023-05 answer is older than 365 days
    "surveys_answered_365d": 2.0,
    "customers_sourced": 3.0,  # C1 C2 C3; C4 is acquired after AS_OF
    "customers_sourced_365d": 2.0,
    "customer_retention": 2 / 3,  # C2 churned; C3 churns after AS_OF
}


@pytest.fixture(scope="module")
def tiny_frame() -> pd.DataFrame:
    return build_features(tiny_tables(), as_of=AS_OF).set_index("partner_id")


@pytest.mark.parametrize(("name", "expected"), P1_EXPECTED.items())
def test_hand_checked_value(tiny_frame: pd.DataFrame, name: str, expected: float) -> None:
    assert tiny_frame.loc["P1", name] == pytest.approx(expected)


def test_rows_are_partners_who_joined_strictly_before_as_of(tiny_frame: pd.DataFrame) -> None:
    assert list(tiny_frame.index) == ["P1", "P2", "P4"]  # P3 joins exactly at AS_OF


def test_key_columns(tiny_frame: pd.DataFrame) -> None:
    assert (tiny_frame["as_of"] == AS_OF).all()
    assert tiny_frame.loc["P4", "manager_id"] == "M2"


def test_lifecycle_flags_use_only_past_dates(tiny_frame: pd.DataFrame) -> None:
    assert not tiny_frame.loc["P2", "onboarded"]  # onboards in August
    assert np.isnan(tiny_frame.loc["P2", "days_to_onboard"])
    assert tiny_frame.loc["P4", "exited"]
    assert not tiny_frame.loc["P1", "exited"]


def test_every_registry_feature_is_a_column_of_its_declared_kind(
    tiny_frame: pd.DataFrame,
) -> None:
    frame = tiny_frame.reset_index()
    assert list(frame.columns) == [*registry.KEY_COLUMNS, *registry.FEATURES]
    for feature in registry.FEATURES.values():
        dtype = frame[feature.name].dtype
        if feature.kind == "number":
            assert dtype == np.float64, feature.name
        elif feature.kind == "boolean":
            assert dtype == np.dtype(bool), feature.name
        else:
            assert pd.api.types.is_string_dtype(dtype), feature.name


def test_empty_denominator_ratios_are_missing_not_zero(tiny_frame: pd.DataFrame) -> None:
    p2 = tiny_frame.loc["P2"]  # no deals, no activities
    assert p2["deals_registered_365d"] == 0
    for name in ("acceptance_rate_365d", "win_rate_30d", "avg_deal_value_90d",
                 "avg_sales_cycle_days_365d", "expansion_share_30d", "customer_retention",
                 "satisfaction_avg_365d", "days_since_last_deal", "activity_trend"):  # fmt: skip
        assert np.isnan(p2[name]), name


def test_trend_is_missing_when_the_90_days_before_were_empty(tiny_frame: pd.DataFrame) -> None:
    # P1 registered 5 deals in the last 90 days and none in the 90 before
    assert np.isnan(tiny_frame.loc["P1", "deals_registered_trend"])


def test_missing_optional_tables_give_missing_features() -> None:
    full = tiny_tables()
    frame = build_features(Tables(full.partners, full.deals), as_of=AS_OF)
    absent = [f.name for f in registry.FEATURES.values()
              if f.table in ("activities", "surveys", "customers")]  # fmt: skip
    assert absent and frame[absent].isna().all().all()
    expected = build_features(full, as_of=AS_OF)
    present = [
        f.name
        for f in registry.FEATURES.values()
        if f.table in ("partners", "deals") and f.name not in SIGN_OF_LIFE_FEATURES
    ]  # signs of life count activities too, when there are any
    pd.testing.assert_frame_equal(frame[present], expected[present])


def test_an_event_one_nanosecond_before_as_of_counts() -> None:
    tables = tiny_tables()
    just_before = activities_frame([("P2", "2024-06-30 23:59:59.999999999", "training")])
    at = activities_frame([("P2", "2024-07-01", "training")])
    activities = pd.concat([tables.activities, just_before, at], ignore_index=True)
    frame = build_features(Tables(tables.partners, tables.deals, activities), as_of=AS_OF)
    assert frame.set_index("partner_id").loc["P2", "trainings_attended_30d"] == 1


def test_window_includes_its_first_instant() -> None:
    tables = tiny_tables()
    edge = activities_frame([("P2", "2024-06-01", "event"), ("P2", "2024-05-31 23:59", "event")])
    frame = build_features(Tables(tables.partners, tables.deals, edge), as_of=AS_OF)
    row = frame.set_index("partner_id").loc["P2"]
    assert (row["events_attended_30d"], row["events_attended_90d"]) == (1, 2)


def test_build_snapshots_equals_build_features_per_as_of() -> None:
    tables = random_tables(seed=3)
    dates = [pd.Timestamp(d, tz="UTC") for d in ("2023-06-01", "2023-11-15", "2024-05-01")]
    stacked = build_snapshots(tables, dates)
    for as_of in dates:
        one = build_features(tables, as_of=as_of)
        part = stacked[stacked["as_of"] == as_of].reset_index(drop=True)
        assert len(one) > 0
        pd.testing.assert_frame_equal(part, one, check_exact=True)


def test_snapshots_are_ordered_by_as_of_once_each() -> None:
    dates = [pd.Timestamp(d, tz="UTC") for d in ("2024-07-01", "2024-01-01", "2024-07-01")]
    stacked = build_snapshots(tiny_tables(), dates)
    assert stacked["as_of"].is_monotonic_increasing
    assert list(stacked.groupby("as_of").size()) == [2, 3]  # P4 and P1 in January; + P2


def test_no_partner_yet_gives_an_empty_frame_with_every_column() -> None:
    frame = build_features(tiny_tables(), as_of=pd.Timestamp("2020-01-01", tz="UTC"))
    assert frame.empty
    assert list(frame.columns) == [*registry.KEY_COLUMNS, *registry.FEATURES]


def test_naive_as_of_is_refused() -> None:
    with pytest.raises(InvalidInput, match="timezone-aware"):
        build_features(tiny_tables(), as_of=datetime(2024, 7, 1))


def test_missing_column_is_named() -> None:
    tables = tiny_tables()
    deals = tables.deals.drop(columns=["closed_at"])
    with pytest.raises(DataValidationError) as info:
        build_features(Tables(tables.partners, deals), as_of=AS_OF)
    assert (info.value.problems[0].table, info.value.problems[0].column) == ("deals", "closed_at")


def test_duplicate_partner_id_is_refused() -> None:
    partners = partners_frame([partner("P1", "VAR", "2023-01-01")] * 2)
    deals = deals_frame([deal("D1", "P1", "2023-02-01", 10.0)])
    with pytest.raises(DataValidationError) as info:
        build_features(Tables(partners, deals), as_of=AS_OF)
    assert info.value.problems[0].value == "P1"


# --- point-in-time: anything at or after as_of may be added, changed or deleted -------------


@pytest.mark.parametrize(("seed", "as_of"), [(1, "2023-08-01"), (2, "2024-02-10 13:45:07")])
def test_future_events_change_nothing_on_fixed_programs(seed: int, as_of: str) -> None:
    when = pd.Timestamp(as_of, tz="UTC")
    before = build_features(random_tables(seed), as_of=when)
    after = build_features(plant_future(random_tables(seed), when, seed), as_of=when)
    pd.testing.assert_frame_equal(before, after, check_exact=True)


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    day=st.integers(0, 720),
    second=st.integers(0, 86_399),
    plant_seed=st.integers(0, 10_000),
)
def test_future_events_change_not_a_single_value(
    seed: int, day: int, second: int, plant_seed: int
) -> None:
    tables = random_tables(seed)
    as_of = pd.Timestamp("2023-01-01", tz="UTC") + pd.Timedelta(days=day, seconds=second)
    before = build_features(tables, as_of=as_of)
    after = build_features(plant_future(tables, as_of, plant_seed), as_of=as_of)
    pd.testing.assert_frame_equal(before, after, check_exact=True)


def test_future_events_change_nothing_on_the_simulated_program(tables: Tables) -> None:
    as_of = pd.Timestamp("2026-03-01 12:00", tz="UTC")
    before = build_features(tables, as_of=as_of)
    assert len(before) > 100
    after = build_features(plant_future(tables, as_of, seed=4), as_of=as_of)
    pd.testing.assert_frame_equal(before, after, check_exact=True)


def test_simulated_snapshots_share_one_frame_per_as_of(tables: Tables) -> None:
    dates = list(pd.date_range("2025-06-01", periods=3, freq="MS", tz="UTC"))
    stacked = build_snapshots(tables, dates)
    last = build_features(tables, as_of=dates[-1])
    pd.testing.assert_frame_equal(
        stacked[stacked["as_of"] == dates[-1]].reset_index(drop=True), last, check_exact=True
    )
    assert stacked.groupby("as_of").size().is_monotonic_increasing  # partners keep joining


def test_planting_really_changes_the_future() -> None:
    """Guard for the property above: the planted tables do differ later on."""
    tables = random_tables(5)
    as_of = pd.Timestamp("2023-09-01", tz="UTC")
    later = as_of + pd.Timedelta(days=200)
    planted = plant_future(tables, as_of, 1)
    a, b = build_features(tables, as_of=later), build_features(planted, as_of=later)
    assert not a.equals(b)
