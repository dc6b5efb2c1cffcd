from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from features import registry
from features.deal_features import (
    DEAL_FEATURES,
    DEAL_INPUTS,
    build_deal_features,
    deal_example,
    deal_feature_names,
    derived_deal_columns,
    derived_deal_features,
)
from features.snapshot import build_features
from features.tables import Tables
from tests.features.tiny_program import (
    activities_frame,
    deal,
    deals_frame,
    partner,
    partners_frame,
    plant_future,
    random_tables,
    tiny_tables,
)


@pytest.fixture(scope="module")
def tiny_deals() -> pd.DataFrame:
    tables = tiny_tables()
    return build_deal_features(tables, tables.deals).set_index("deal_id")


def test_one_row_per_deal_on_the_deals_index() -> None:
    tables = tiny_tables()
    deals = tables.deals.set_axis(range(100, 100 + len(tables.deals)))
    frame = build_deal_features(tables, deals)
    assert list(frame.index) == list(deals.index)
    assert list(frame["deal_id"]) == list(deals["deal_id"])


def test_columns_and_kinds(tiny_deals: pd.DataFrame) -> None:
    frame = tiny_deals.reset_index()
    expected = ["deal_id", *registry.KEY_COLUMNS, *deal_feature_names(), *registry.FEATURES]
    assert list(frame.columns) == expected
    for feature in [*DEAL_FEATURES, *registry.FEATURES.values()]:
        dtype = frame[feature.name].dtype
        kind = {"number": dtype == np.float64, "boolean": dtype == np.dtype(bool),
                "category": pd.api.types.is_string_dtype(dtype)}[feature.kind]  # fmt: skip
        assert kind, feature.name


def test_deal_feature_names_do_not_clash_with_partner_features() -> None:
    names = deal_feature_names()
    assert len(set(names)) == len(names)
    assert not set(names) & {*registry.FEATURES, *registry.KEY_COLUMNS, "deal_id"}


def test_own_attributes(tiny_deals: pd.DataFrame) -> None:
    d2 = tiny_deals.loc["D2"]
    assert (d2["amount"], d2["deal_kind"], d2["product"]) == (3000.0, "cross_sell", "core")
    assert d2["log_amount"] == pytest.approx(np.log1p(3000.0))


def test_as_of_is_registered_at(tiny_deals: pd.DataFrame) -> None:
    assert tiny_deals.loc["D1", "as_of"] == pd.Timestamp("2024-06-21", tz="UTC")


@pytest.mark.parametrize(("deal_id", "expected"), [("D7", 0), ("D2", 0), ("D1", 1), ("D3", 2),
                                                   ("D5", 2)])  # fmt: skip
def test_partner_deals_in_flight(tiny_deals: pd.DataFrame, deal_id: str, expected: int) -> None:
    # D1 (06-21) sees D4 open; D3 (06-26) sees D1 + D4; D5 (06-29) too: D3 was rejected 06-28
    assert tiny_deals.loc[deal_id, "partner_deals_in_flight"] == expected


def test_amount_against_the_partners_average(tiny_deals: pd.DataFrame) -> None:
    # before D4 (06-11): D7 4000 and D2 3000 registered in the last 365 days
    assert tiny_deals.loc["D4", "amount_vs_partner_avg"] == pytest.approx(5000 / 3500)
    assert np.isnan(tiny_deals.loc["D7", "amount_vs_partner_avg"])  # nothing before


def test_partner_features_are_those_as_of_registered_at() -> None:
    tables = random_tables(seed=11)
    frame = build_deal_features(tables, tables.deals)
    partner_deals = frame[frame["partner_id"].notna()].head(20)
    assert len(partner_deals) == 20
    for _, row in partner_deals.iterrows():
        snapshot = build_features(tables, as_of=row["as_of"]).set_index("partner_id")
        if row["partner_id"] not in snapshot.index:  # the partner joined after registering
            continue
        expected = snapshot.loc[row["partner_id"], list(registry.FEATURES)]
        got = row[list(registry.FEATURES)]
        pd.testing.assert_series_equal(got, expected, check_names=False, check_dtype=False)


def test_later_events_do_not_change_a_deals_features() -> None:
    tables = tiny_tables()
    before = build_deal_features(tables, tables.deals).set_index("deal_id").loc["D1"]
    registered = pd.Timestamp("2024-06-21", tz="UTC")
    deals = tables.deals.copy()
    d1 = deals["deal_id"] == "D1"
    deals.loc[d1, "status"] = "rejected"  # its own decision comes later: must not leak
    deals.loc[d1, "outcome"] = "lost"
    later = deals_frame([
        deal("L1", "P1", "2024-06-21", 99.0, customer="C9", status="accepted",
             decided="2024-06-22", outcome="won", closed="2024-06-23"),
        deal("L2", None, "2024-06-22", 99.0, customer="C9"),
    ])  # fmt: skip
    activities = pd.concat([tables.activities, activities_frame([
        ("P1", "2024-06-21", "training"), ("P1", "2024-06-25", "cert_pass"),
    ])], ignore_index=True)  # fmt: skip
    changed = Tables(tables.partners, pd.concat([deals, later], ignore_index=True), activities,
                     tables.surveys, tables.customers)  # fmt: skip
    after = build_deal_features(changed, changed.deals).set_index("deal_id").loc["D1"]
    assert after["as_of"] == registered
    pd.testing.assert_series_equal(after, before)


# --- the customer's situation when the registration arrives -----------------------------


def _program(*deals: dict[str, object]) -> Tables:
    partners = partners_frame([partner("P1", "VAR", "2023-01-01"),
                               partner("P2", "MSP", "2023-01-01")])  # fmt: skip
    return Tables(partners, deals_frame(list(deals)))


def _flags(tables: Tables, deal_id: str = "X") -> pd.Series:
    return build_deal_features(tables, tables.deals).set_index("deal_id").loc[deal_id]


def test_open_direct_deal_on_the_same_customer_is_flagged() -> None:
    tables = _program(deal("DIR", None, "2024-01-01", 10.0, customer="C1"),
                      deal("X", "P1", "2024-02-01", 10.0, customer="C1"))  # fmt: skip
    assert _flags(tables)["customer_has_open_direct_deal"]


def test_direct_deal_closed_before_is_not_open() -> None:
    tables = _program(deal("DIR", None, "2024-01-01", 10.0, customer="C1", status="accepted",
                           decided="2024-01-02", outcome="lost", closed="2024-01-20"),
                      deal("X", "P1", "2024-02-01", 10.0, customer="C1"))  # fmt: skip
    assert not _flags(tables)["customer_has_open_direct_deal"]


def test_direct_deal_closed_later_was_still_open() -> None:
    tables = _program(deal("DIR", None, "2024-01-01", 10.0, customer="C1", status="accepted",
                           decided="2024-01-02", outcome="won", closed="2024-03-01"),
                      deal("X", "P1", "2024-02-01", 10.0, customer="C1"))  # fmt: skip
    flags = _flags(tables)
    assert flags["customer_has_open_direct_deal"]
    assert not flags["customer_is_existing"]  # the win comes after the registration


@pytest.mark.parametrize(
    ("registered", "customer"),
    [
        ("2024-02-01", "C1"),  # registered at the same instant
        ("2024-03-01", "C1"),  # later
        ("2024-01-01", "C2"),  # another customer
    ],
)
def test_direct_deals_that_do_not_count(registered: str, customer: str) -> None:
    tables = _program(deal("DIR", None, registered, 10.0, customer=customer),
                      deal("X", "P1", "2024-02-01", 10.0, customer="C1"))  # fmt: skip
    assert not _flags(tables)["customer_has_open_direct_deal"]


def test_partner_deals_are_not_direct_deals() -> None:
    tables = _program(deal("P", "P2", "2024-01-01", 10.0, customer="C1"),
                      deal("X", "P1", "2024-02-01", 10.0, customer="C1"))  # fmt: skip
    flags = _flags(tables)
    assert not flags["customer_has_open_direct_deal"]
    assert flags["customer_open_partner_deals"] == 1  # P2's open registration: a conflict


def test_own_earlier_registrations_are_not_a_conflict() -> None:
    tables = _program(deal("A", "P1", "2024-01-01", 10.0, customer="C1"),
                      deal("B", "P2", "2024-01-05", 10.0, customer="C1", status="rejected",
                           decided="2024-01-06"),
                      deal("X", "P1", "2024-02-01", 10.0, customer="C1"))  # fmt: skip
    flags = _flags(tables)
    assert flags["customer_open_partner_deals"] == 0  # P2's was rejected, P1's is its own
    assert flags["partner_customer_deals"] == 1


def test_customer_with_an_earlier_win_is_existing() -> None:
    tables = _program(deal("W", "P2", "2023-06-01", 10.0, customer="C1", status="accepted",
                           decided="2023-06-02", outcome="won", closed="2023-07-01"),
                      deal("X", "P1", "2024-02-01", 10.0, customer="C1"))  # fmt: skip
    flags = _flags(tables)
    assert flags["customer_is_existing"]
    assert flags["customer_open_partner_deals"] == 0  # closed: no longer in flight


def test_direct_deal_rows_have_no_partner_features() -> None:
    tables = tiny_tables()
    row = build_deal_features(tables, tables.deals).set_index("deal_id").loc["D8"]
    assert pd.isna(row["partner_id"]) and pd.isna(row["deals_registered_30d"])
    assert row["onboarded"] is np.False_ or row["onboarded"] is False
    assert np.isnan(row["partner_deals_in_flight"])


@pytest.mark.parametrize(("seed", "cutoff"), [(4, "2023-09-01"), (8, "2024-03-15 08:30")])
def test_facts_after_registration_never_change_a_deals_row(seed: int, cutoff: str) -> None:
    """Plant, change and delete facts dated at or after a cut-off: deals registered before it
    (so every planted fact comes after their registered_at) keep exactly the same row."""
    when = pd.Timestamp(cutoff, tz="UTC")
    tables = random_tables(seed)
    planted = plant_future(tables, when, seed)
    joined = tables.partners.set_index("partner_id")["joined_at"]
    deals = tables.deals
    consistent = deals["partner_id"].isna() | (
        deals["partner_id"].map(joined) < deals["registered_at"]
    )  # random programs also register deals before the partner joined: leave those out
    ids = deals.loc[consistent & (deals["registered_at"] < when), "deal_id"]
    assert len(ids) > 10

    def rows(program: Tables) -> pd.DataFrame:
        deals = program.deals.set_index("deal_id").loc[ids].reset_index()
        return build_deal_features(program, deals)

    pd.testing.assert_frame_equal(rows(tables), rows(planted), check_exact=True)


_amounts = st.one_of(
    st.none(),
    st.just(math.nan),
    st.floats(min_value=-2.0, max_value=1e12, allow_nan=False),
)


@given(amount=_amounts, average=_amounts)
def test_derived_features_scalar_and_vector_views_agree(
    amount: float | None, average: float | None
) -> None:
    one = derived_deal_features(amount, average)
    many = derived_deal_columns(
        np.array([np.nan if amount is None else amount]),
        np.array([np.nan if average is None else average]),
    )
    for name, value in one.items():
        got = many[name][0]
        assert (value is None and np.isnan(got)) or value == got, (name, value, got)


def test_a_registration_scored_alone_gets_its_training_row() -> None:
    tables = tiny_tables()
    frame = build_deal_features(tables, tables.deals)
    for _, row in frame.iterrows():
        deal = {f.name: row[f.name] for f in DEAL_INPUTS}
        partner = {n: row[n] for n in registry.FEATURES}
        served = deal_example(deal, partner)
        for name in deal_feature_names():
            a, b = served[name], row[name]
            assert (pd.isna(a) and pd.isna(b)) or a == b, (row["deal_id"], name, a, b)
