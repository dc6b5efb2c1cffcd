from __future__ import annotations

import pandas as pd
import pytest

from features.registry import FEATURES
from features.tables import Tables
from tests.training.program import FakeTruth, make_program
from tierwise.errors import InvalidInput
from training.examples import churn_examples, deal_examples

AS_OF = pd.Timestamp("2024-06-01", tz="UTC")


def plant_future_registrations(tables: Tables, partner_ids: list[str]) -> Tables:
    """One deal registration per partner, 10 days after AS_OF (inside the label window)."""
    template = tables.deals.iloc[[0] * len(partner_ids)].copy()
    template["deal_id"] = [f"FUTURE{i}" for i in range(len(partner_ids))]
    template["partner_id"] = partner_ids
    template["registered_at"] = AS_OF + pd.Timedelta(days=10)
    template["decided_at"] = AS_OF + pd.Timedelta(days=12)
    template["closed_at"] = pd.NaT
    template["status"], template["outcome"] = "accepted", "open"
    deals = pd.concat([tables.deals, template], ignore_index=True)
    return Tables(partners=tables.partners, deals=deals, activities=tables.activities)


def test_future_events_change_labels_but_not_features(
    program: tuple[Tables, FakeTruth],
) -> None:
    tables, _ = program
    before = churn_examples(tables, horizon_days=90, as_ofs=[AS_OF])
    churners = before.frame.loc[before.frame["churned"] == 1, "partner_id"].tolist()
    after = churn_examples(
        plant_future_registrations(tables, churners), horizon_days=90, as_ofs=[AS_OF]
    )
    assert after.frame["churned"].sum() < before.frame["churned"].sum()
    pd.testing.assert_frame_equal(
        after.frame[list(after.features)], before.frame[list(before.features)]
    )


def test_churn_examples_carry_every_registry_feature_and_one_row_per_partner(
    program: tuple[Tables, FakeTruth],
) -> None:
    tables, _ = program
    ex = churn_examples(tables, horizon_days=90, as_ofs=[AS_OF])
    assert not ex.frame.duplicated(["partner_id", "as_of"]).any()
    assert {"partner_type", "region", "recruited_via", "lifecycle_status"} == set(ex.categorical)
    assert "deals_registered_90d" in ex.features and "churned" not in ex.features
    assert set(FEATURES) == set(ex.features)


def test_deal_examples_never_use_the_outcome(program: tuple[Tables, FakeTruth]) -> None:
    tables, _ = program
    ex = deal_examples(tables)
    assert not {"status", "decided_at", "outcome", "closed_at", "accepted"} & set(ex.features)
    assert {"product", "deal_kind"} <= set(ex.categorical)
    assert set(ex.frame["accepted"].unique()) == {0, 1}


def test_a_deal_decision_changes_its_label_not_its_features(
    program: tuple[Tables, FakeTruth],
) -> None:
    tables, _ = program
    decided = tables.deals.loc[tables.deals["status"].isin(["accepted", "rejected"])]
    last = decided["registered_at"].idxmax()  # no other deal can have seen its decision
    flip = {"accepted": "rejected", "rejected": "accepted"}
    deals = tables.deals.copy()
    deals.loc[last, "status"] = flip[deals.loc[last, "status"]]
    a = deal_examples(tables)
    b = deal_examples(Tables(partners=tables.partners, deals=deals, activities=tables.activities))
    assert (a.frame["accepted"] != b.frame["accepted"]).sum() == 1
    pd.testing.assert_frame_equal(a.frame[list(a.features)], b.frame[list(b.features)])


def test_examples_from_partners_and_deals_only() -> None:
    tables, _ = make_program(partners=200, seed=5, activities=False)
    ex = churn_examples(tables, horizon_days=90, as_ofs=[AS_OF])
    assert ex.frame["trainings_attended_90d"].isna().all()
    assert ex.frame["deals_registered_90d"].notna().all()


def test_no_as_of_with_a_full_horizon_is_an_error() -> None:
    tables, _ = make_program(partners=50, years=0.3, seed=1)
    with pytest.raises(InvalidInput, match="no monthly as_of"):
        churn_examples(tables, horizon_days=120)
