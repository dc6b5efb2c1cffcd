"""Round trip: the simulated program as Salesforce exports, imported back with salesforce-prm."""

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from features.importer import import_source
from features.tables import Tables
from simulation.program import Simulation, simulate
from simulation.salesforce import salesforce_objects, write_salesforce


@pytest.fixture(scope="module")
def sim() -> Simulation:
    return simulate(partners=120, years=1, seed=11, end=datetime(2026, 11, 23, tzinfo=UTC))


@pytest.fixture(scope="module")
def imported(sim: Simulation, tmp_path_factory: pytest.TempPathFactory) -> Tables:
    export = tmp_path_factory.mktemp("salesforce")
    write_salesforce(sim.tables, export)
    result = import_source("salesforce-prm", export)
    assert result.report.ok, result.report.problems[:5]
    assert result.report.tables is not None
    return result.report.tables


def ms(values: pd.Series) -> pd.Series:
    return values.dt.floor("ms").reset_index(drop=True)


def test_partners_come_back(sim: Simulation, imported: Tables) -> None:
    want, got = sim.tables.partners, imported.partners
    same = ["partner_id", "name", "partner_type", "region", "manager_id", "recruited_via"]
    pd.testing.assert_frame_equal(got[same], want[same])
    assert got["company_size"].astype("int64").tolist() == want["company_size"].tolist()
    pd.testing.assert_series_equal(got["joined_at"], ms(want["joined_at"]))
    assert got["verticals"].tolist() == want["verticals"].str.split("|").str[0].tolist()
    pd.testing.assert_series_equal(got["parent_partner_id"], want["parent_partner_id"])


def test_deals_come_back(sim: Simulation, imported: Tables) -> None:
    want, got = sim.tables.deals, imported.deals
    same = ["deal_id", "partner_id", "customer_id", "amount", "status", "outcome", "deal_kind",
            "revenue_type", "arr", "attribution"]  # fmt: skip
    pd.testing.assert_frame_equal(got[same], want[same])
    pd.testing.assert_series_equal(got["registered_at"], ms(want["registered_at"]))
    closed = want["closed_at"].dt.floor("D")
    expected = closed.where(
        closed.isna() | (closed >= want["registered_at"]), want["registered_at"]
    )
    pd.testing.assert_series_equal(got["closed_at"], ms(expected), check_names=False)
    decided = want["decided_at"].notna()
    assert got["decided_at"].notna().tolist() == decided.tolist()


def test_activities_come_back_by_day(sim: Simulation, imported: Tables) -> None:
    assert sim.tables.activities is not None and imported.activities is not None
    key = ["partner_id", "kind", "day"]

    def days(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.assign(day=frame["occurred_at"].dt.strftime("%Y-%m-%d"))[key]
        return out.sort_values(key).reset_index(drop=True)

    pd.testing.assert_frame_equal(days(imported.activities), days(sim.tables.activities))


def test_certifications_come_back(sim: Simulation, imported: Tables) -> None:
    want, got = sim.tables.certifications, imported.certifications
    assert want is not None and got is not None
    same = ["person_id", "partner_id", "certification", "specialisation"]
    pd.testing.assert_frame_equal(got[same], want[same])
    for column in ("passed_at", "expires_at"):
        pd.testing.assert_series_equal(got[column], ms(want[column]))


def test_what_salesforce_cannot_hold_is_empty(imported: Tables) -> None:
    assert imported.surveys is None and imported.customers is None
    for column in ("market_share", "portfolio_fit", "recruit_cost", "onboarded_at"):
        assert imported.partners[column].isna().all()


def test_customer_accounts_are_not_partners(sim: Simulation) -> None:
    accounts = salesforce_objects(sim.tables)["Account"]
    assert (accounts["IsPartner"] == "true").sum() == len(sim.tables.partners)
    assert set(accounts.loc[accounts["IsPartner"] == "false", "Id"]) == set(
        sim.tables.deals["customer_id"]
    )


def test_missing_optional_objects_are_skipped(sim: Simulation, tmp_path: Path) -> None:
    write_salesforce(sim.tables, tmp_path)
    for name in ("Lead", "Task", "Event", "Certification__c"):
        (tmp_path / f"{name}.csv").unlink()
    result = import_source("salesforce-prm", tmp_path)
    assert result.report.ok
    assert result.report.tables is not None and result.report.tables.activities is None
    assert result.report.tables.certifications is None
