from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.lifecycle import status_of
from features.snapshot import build_features
from features.tables import Tables
from tests.features.tiny_program import (
    AS_OF,
    activities_frame,
    deal,
    deals_frame,
    partner,
    partners_frame,
)

# As of 2024-07-01: "busy" registered in June; "quiet" last showed life in January (and was
# contacted by its manager since, which does not count); "fresh" joined two weeks ago;
# "gone" exited in March.
PARTNERS = partners_frame(
    [
        partner("busy", "VAR", "2023-01-01"),
        partner("quiet", "VAR", "2023-01-01"),
        partner("fresh", "MSP", "2024-06-17"),
        partner("gone", "SI", "2023-01-01", exited_at="2024-03-01"),
    ]
)
DEALS = deals_frame(
    [
        deal("D1", "busy", "2024-01-01", 1000.0),
        deal("D2", "busy", "2024-06-01", 3000.0),
        deal("D3", "quiet", "2024-01-10", 500.0),
        deal("D4", "busy", "2024-08-01", 9.0),  # future: ignored
    ]
)
ACTS = activities_frame(
    [
        ("quiet", "2023-12-01", "training"),
        ("quiet", "2024-06-20", "manager_contact"),
        ("busy", "2024-03-01", "event"),
    ]
)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    tables = Tables(partners=PARTNERS, deals=DEALS, activities=ACTS)
    return build_features(tables, as_of=AS_OF).set_index("partner_id")


def test_status_per_partner(frame: pd.DataFrame) -> None:
    assert frame["lifecycle_status"].to_dict() == {
        "busy": "active",
        "quiet": "lapsed",
        "fresh": "new",
        "gone": "exited",
    }


def test_recency_frequency_age_and_monetary(frame: pd.DataFrame) -> None:
    busy = frame.loc["busy"]
    # signs of life: D1 2024-01-01, event 03-01, D2 06-01 (D4 is after as_of)
    assert busy["rf_frequency"] == 2
    assert busy["rf_recency_days"] == (pd.Timestamp("2024-06-01") - pd.Timestamp("2024-01-01")).days
    assert busy["rf_age_days"] == (pd.Timestamp("2024-07-01") - pd.Timestamp("2024-01-01")).days
    assert busy["days_since_last_sign_of_life"] == 30
    assert busy["signs_of_life_90d"] == 1
    assert busy["rf_monetary"] == 2000.0


def test_manager_contact_is_no_sign_of_life(frame: pd.DataFrame) -> None:
    quiet = frame.loc["quiet"]
    assert (
        quiet["days_since_last_sign_of_life"] == (AS_OF - pd.Timestamp("2024-01-10", tz="UTC")).days
    )
    assert quiet["rf_frequency"] == 1


def test_partner_without_events_has_its_tenure_as_age(frame: pd.DataFrame) -> None:
    fresh = frame.loc["fresh"]
    assert fresh["rf_frequency"] == 0 and fresh["rf_age_days"] == fresh["tenure_days"]
    assert np.isnan(fresh["days_since_last_sign_of_life"]) and np.isnan(fresh["rf_monetary"])


def test_status_of_one_partner_is_given_or_derived() -> None:
    assert status_of({"lifecycle_status": "lapsed"}) == "lapsed"
    assert status_of({"tenure_days": 400.0, "days_since_last_sign_of_life": 200.0}) == "lapsed"
    assert status_of({"tenure_days": 400.0, "days_since_last_sign_of_life": 3.0}) == "active"
    assert status_of({"tenure_days": 10.0}) == "new"
    assert status_of({"tenure_days": 400.0, "exited": True}) == "exited"
    assert status_of({}) is None
