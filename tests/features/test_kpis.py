"""Program KPIs on a tiny hand-built program whose answers are worked out by hand below.

as_of = 2024-07-01, so the default period is [2024-04-02, 2024-07-01) (90 days: Jun 30 + May 31
+ Apr 29) and the window before it is [2024-01-03, 2024-04-02).

Partners (joined, onboarded, exited, channel, recruit cost):
  P1 VAR/EMEA      2023-01-10 2023-02-09 -          event     1000
  P2 MSP/EMEA      2024-04-10 2024-05-10 -          webinar   2000   new in the period
  P3 referral/NA   2024-05-01 2024-05-21 -          event      500   new in the period
  P4 VAR/NA        2023-06-01 2023-07-01 2024-05-15 referral   800   exits in the period
  P5 SI/NA         2023-03-01 2023-04-01 -          outbound  1200   goes quiet
  P6 reseller/APAC 2024-08-01 -          -          event     9999   joins after as_of
  P7 VAR/EMEA      2022-01-01 2022-02-01 2023-12-01 inbound    700   exited before the period
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from features.kpi_metrics import KPIS
from features.kpis import KpiReport, format_value, program_kpis, render_html
from features.tables import Tables
from tierwise.cli import app
from tierwise.errors import DataValidationError, InvalidInput

AS_OF = datetime(2024, 7, 1, tzinfo=UTC)

PARTNER_COLS = [
    "partner_id",
    "partner_type",
    "region",
    "joined_at",
    "onboarded_at",
    "exited_at",
    "recruited_via",
    "recruit_cost",
]
PARTNERS = [
    ("P1", "VAR", "EMEA", "2023-01-10", "2023-02-09", None, "event", 1000.0),
    ("P2", "MSP", "EMEA", "2024-04-10", "2024-05-10", None, "webinar", 2000.0),
    ("P3", "referral", "NA", "2024-05-01", "2024-05-21", None, "event", 500.0),
    ("P4", "VAR", "NA", "2023-06-01", "2023-07-01", "2024-05-15", "referral", 800.0),
    ("P5", "SI", "NA", "2023-03-01", "2023-04-01", None, "outbound", 1200.0),
    ("P6", "reseller", "APAC", "2024-08-01", None, None, "event", 9999.0),
    ("P7", "VAR", "EMEA", "2022-01-01", "2022-02-01", "2023-12-01", "inbound", 700.0),
]
DEAL_COLS = [
    "deal_id",
    "partner_id",
    "customer_id",
    "deal_kind",
    "amount",
    "registered_at",
    "status",
    "decided_at",
    "outcome",
    "closed_at",
]
DEALS = [
    ("D0", "P1", "C3", "new", 3000.0, "2023-03-01", "accepted", "2023-03-05", "won", "2023-04-01"),
    ("D1", "P1", "C1", "new", 10000.0, "2024-04-05", "accepted", "2024-04-10", "won", "2024-05-05"),
    (
        "D2",
        "P1",
        "C3",
        "cross_sell",
        20000.0,
        "2024-05-01",
        "accepted",
        "2024-05-03",
        "won",
        "2024-06-01",
    ),
    (
        "D3",
        "P2",
        "C2",
        "upsell",
        6000.0,
        "2024-04-25",
        "rejected",
        "2024-04-28",
        "lost",
        "2024-04-28",
    ),
    ("D4", "P3", "C20", "new", 4000.0, "2024-06-10", "submitted", None, "open", None),
    # won on 07-10, after as_of: at as_of it is accepted and still open
    ("D5", "P1", "C21", "new", 8000.0, "2024-06-20", "accepted", "2024-06-25", "won", "2024-07-10"),
    ("D6", "P4", "C4", "new", 5000.0, "2024-01-15", "accepted", "2024-01-20", "won", "2024-03-01"),
    ("D7", "P1", "C22", "new", 99999.0, "2024-07-05", "submitted", None, "open", None),
    # decided on 07-02, after as_of: undecided at as_of
    ("D8", "P1", "C23", "new", 2000.0, "2024-06-28", "accepted", "2024-07-02", "open", None),
    (
        "X1",
        None,
        "C6",
        "upsell",
        15000.0,
        "2024-04-15",
        "accepted",
        "2024-04-15",
        "won",
        "2024-05-15",
    ),
    ("X2", None, "C7", "new", 9000.0, "2024-05-01", "accepted", "2024-05-01", "won", "2024-06-01"),
    (
        "X3",
        None,
        "C9",
        "cross_sell",
        7000.0,
        "2024-03-01",
        "accepted",
        "2024-03-01",
        "lost",
        "2024-04-10",
    ),
    (
        "X4",
        None,
        "C9",
        "upsell",
        3000.0,
        "2024-06-01",
        "accepted",
        "2024-06-01",
        "won",
        "2024-06-20",
    ),
]
ACTIVITIES = [
    ("P1", "2024-04-20", "material_download"),
    ("P1", "2024-05-10", "training"),
    ("P1", "2024-05-11", "cert_attempt"),
    ("P1", "2024-05-12", "cert_pass"),
    ("P2", "2024-05-20", "lead_registered"),
    ("P2", "2024-06-05", "event"),
    ("P2", "2024-06-06", "cert_attempt"),
    ("P2", "2024-07-03", "material_download"),  # after as_of
    ("P3", "2024-05-05", "manager_contact"),
    ("P4", "2024-04-10", "material_download"),  # P4 has left by as_of
    ("P5", "2024-02-15", "training"),  # the window before the period
    ("P5", "2024-05-01", "manager_contact"),  # the manager's doing, not the partner's
]
SURVEYS = [
    ("P1", "2024-01-01", 2.0),  # before the period
    ("P1", "2024-05-01", 8.0),
    ("P2", "2024-06-01", 6.0),
    ("P4", "2024-04-05", 1.0),
    ("P3", "2024-07-02", 10.0),  # after as_of
]
CUSTOMER_COLS = [
    "customer_id",
    "source",
    "partner_id",
    "acquired_at",
    "acquisition_cost",
    "churned_at",
]
CUSTOMERS = [
    ("C1", "partner", "P1", "2024-04-20", 300.0, None),
    ("C2", "partner", "P2", "2024-05-15", 500.0, None),
    ("C3", "partner", "P1", "2023-06-01", 200.0, None),
    ("C4", "partner", "P4", "2023-09-01", 250.0, "2024-05-20"),
    ("C5", "partner", "P1", "2023-10-01", 150.0, "2024-01-01"),
    ("C6", "direct", None, "2024-04-15", 900.0, None),
    ("C7", "direct", None, "2024-06-01", 1500.0, None),
    ("C8", "direct", None, "2024-08-01", 5000.0, None),  # after as_of
    ("C9", "direct", None, "2023-01-01", 1000.0, None),
    ("C10", "direct", None, "2023-02-01", 1100.0, "2024-08-01"),  # churns after as_of
    ("C11", "direct", None, "2023-03-01", 1200.0, "2024-06-15"),
]


def _frame(rows: Sequence[tuple[object, ...]], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns)
    for col in columns:
        if col.endswith("_at"):
            frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


def program() -> Tables:
    """The hand-built program with every column of the data contract."""
    partners = _frame(PARTNERS, PARTNER_COLS)
    n = len(partners)
    partners = partners.assign(
        name=[f"Partner {i}" for i in range(n)],
        manager_id="M1",
        company_size=50,
        market_share=0.1,
        verticals="retail|health",
        customer_count=10,
        portfolio_fit=0.5,
    )
    deals = _frame(DEALS, DEAL_COLS).assign(product="core")
    activities = _frame(ACTIVITIES, ["partner_id", "occurred_at", "kind"])
    surveys = _frame(SURVEYS, ["partner_id", "answered_at", "score"])
    customers = _frame(CUSTOMERS, CUSTOMER_COLS)
    return Tables(partners, deals, activities, surveys, customers)


@pytest.fixture(scope="module")
def report() -> KpiReport:
    return program_kpis(program(), as_of=AS_OF, quota=4)


# --- recruitment ---------------------------------------------------------------------------


def test_total_partners_counts_those_in_the_program_at_as_of(report: KpiReport) -> None:
    # P1, P2, P3, P5: P4 and P7 exited, P6 joins later
    assert report.value("total_partners") == 4


def test_new_partners_and_quota_attainment(report: KpiReport) -> None:
    # P2 (04-10) and P3 (05-01) joined in the period; 2 / quota 4
    assert report.value("new_partners") == 2
    assert report.value("quota_attainment") == pytest.approx(0.5)


def test_quota_attainment_is_none_without_a_quota() -> None:
    assert program_kpis(program(), as_of=AS_OF).value("quota_attainment") is None
    assert program_kpis(program(), as_of=AS_OF, quota=0).value("quota_attainment") is None


def test_churn_counts_exits_and_partners_going_quiet(report: KpiReport) -> None:
    # in the program at 04-02: P1, P4, P5. P4 exits 05-15. P5 trained 02-15 (window before)
    # and only got a manager contact since: quiet. P1 registers deals: not quiet. 2 / 3
    assert report.value("partners_exited") == 1
    assert report.value("partners_went_quiet") == 1
    assert report.value("partner_churn_rate") == pytest.approx(2 / 3)


def test_avg_recruit_cost_of_new_partners(report: KpiReport) -> None:
    # (2000 + 500) / 2; P6's 9999 is after as_of
    assert report.value("avg_recruit_cost") == pytest.approx(1250.0)


def test_avg_days_to_recruit_is_joining_to_first_registration(report: KpiReport) -> None:
    # first registrations in the period: P2 04-10 → 04-25 = 15, P3 05-01 → 06-10 = 31 + 9 = 40
    # (P1's first was D0 in 2023); (15 + 40) / 2
    assert report.value("avg_days_to_recruit") == pytest.approx(27.5)


def test_avg_days_to_onboard(report: KpiReport) -> None:
    # onboarded in the period: P2 04-10 → 05-10 = 30, P3 05-01 → 05-21 = 20
    assert report.value("avg_days_to_onboard") == pytest.approx(25.0)


def test_recruitment_channels_share_of_partners(report: KpiReport) -> None:
    # in the program: event P1+P3, webinar P2, outbound P5; new: P3 (event, 500), P2 (webinar)
    ch = report.channels
    assert list(ch.index) == ["event", "webinar", "outbound"]
    assert ch["partners"].tolist() == [2, 1, 1]
    assert ch["share"].tolist() == pytest.approx([0.5, 0.25, 0.25])
    assert ch["new_partners"].tolist() == [1, 1, 0]
    assert ch.loc["event", "avg_recruit_cost"] == pytest.approx(500.0)
    assert ch["avg_recruit_cost"].isna().tolist() == [False, False, True]  # no new outbound


# --- success -------------------------------------------------------------------------------


def test_registered_deals_and_average_value(report: KpiReport) -> None:
    # partner registrations in the period: D1 D2 D3 D4 D5 D8 (D7 after as_of, X* direct)
    # (10000 + 20000 + 6000 + 4000 + 8000 + 2000) / 6
    assert report.value("registered_deals") == 6
    assert report.value("avg_deal_value") == pytest.approx(50000 / 6)


def test_acceptance_rate_only_counts_decisions_known_at_as_of(report: KpiReport) -> None:
    # decided in the period: D1, D2, D5 accepted, D3 rejected; D8's decision is after as_of
    assert report.value("acceptance_rate") == pytest.approx(3 / 4)


def test_win_rate_and_sales_cycle(report: KpiReport) -> None:
    # closed in the period: D1 won, D2 won, D3 lost (D5 wins after as_of) → 2/3
    # cycles: D1 04-05 → 05-05 = 30, D2 05-01 → 06-01 = 31 → 30.5; revenue 10000 + 20000
    assert report.value("win_rate") == pytest.approx(2 / 3)
    assert report.value("avg_sales_cycle_days") == pytest.approx(30.5)
    assert report.value("partner_revenue_won") == pytest.approx(30000.0)


def test_partners_registering_leads_last_month_and_quarter(report: KpiReport) -> None:
    # 30 days (from 06-01): P1 (D5, D8), P3 (D4) of P1 P2 P3 P5 → 2/4
    # 90 days (from 04-02): also P2 (D3 and a lead on 05-20) → 3/4
    assert report.value("partners_registering_leads_30d") == pytest.approx(0.5)
    assert report.value("partners_registering_leads_90d") == pytest.approx(0.75)


def test_a_registered_lead_counts_without_a_deal() -> None:
    tables = program()
    lead = _frame([("P5", "2024-06-15", "lead_registered")], ["partner_id", "occurred_at", "kind"])
    assert tables.activities is not None
    tables = replace(tables, activities=pd.concat([tables.activities, lead], ignore_index=True))
    report = program_kpis(tables, as_of=AS_OF)
    # P5 now has a lead in the last 30 days: P1, P3, P5 of 4; and it is no longer quiet: 1/3
    assert report.value("partners_registering_leads_30d") == pytest.approx(0.75)
    assert report.value("partner_churn_rate") == pytest.approx(1 / 3)


# --- enablement ----------------------------------------------------------------------------


def test_enablement_shares_of_partners_in_the_program(report: KpiReport) -> None:
    # of P1 P2 P3 P5: materials P1 (P2's is after as_of, P4 has left) → 1/4;
    # training/event P1, P2 → 2/4; cert attempts P1, P2 → 2/4; passes P1 → 1/4
    assert report.value("partners_using_materials") == pytest.approx(0.25)
    assert report.value("partners_attending_training") == pytest.approx(0.5)
    assert report.value("partners_attempting_certification") == pytest.approx(0.5)
    assert report.value("partners_completing_certification") == pytest.approx(0.25)


def test_avg_satisfaction_of_surveys_in_the_period(report: KpiReport) -> None:
    # 8 (P1), 6 (P2), 1 (P4): (8 + 6 + 1) / 3; January's 2 and July's 10 are outside
    assert report.value("avg_satisfaction") == pytest.approx(5.0)


# --- profitability -------------------------------------------------------------------------


def test_cac_partner_vs_direct(report: KpiReport) -> None:
    # acquired in the period: partner C1 300, C2 500 → 400; direct C6 900, C7 1500 → 1200
    assert report.value("cac_partner") == pytest.approx(400.0)
    assert report.value("cac_direct") == pytest.approx(1200.0)


def test_retention_partner_vs_direct(report: KpiReport) -> None:
    # customers at 04-02: partner C3, C4 (C5 churned in January); C4 churns 05-20 → 1/2
    # direct C9, C10, C11; C11 churns 06-15, C10 only after as_of → 2/3
    assert report.value("retention_partner") == pytest.approx(0.5)
    assert report.value("retention_direct") == pytest.approx(2 / 3)


def test_expansion_rate_partner_vs_direct(report: KpiReport) -> None:
    # won in the period: partner D1 new, D2 cross-sell → 1/2; direct X1 upsell, X2 new,
    # X4 upsell → 2/3 (X3 lost)
    assert report.value("expansion_rate_partner") == pytest.approx(0.5)
    assert report.value("expansion_rate_direct") == pytest.approx(2 / 3)


# --- break-downs and trend -----------------------------------------------------------------


def test_breakdown_by_partner_type(report: KpiReport) -> None:
    var = report.breakdowns["partner_type"]
    # groups of partners joined before as_of: no 'reseller' (P6 joins later)
    assert sorted(var.index) == ["MSP", "SI", "VAR", "referral"]
    row = var.loc["VAR"]  # P1, P4, P7
    assert row["total_partners"] == 1  # P1
    assert row["registered_deals"] == 4  # D1 D2 D5 D8
    assert row["partner_churn_rate"] == pytest.approx(0.5)  # P4 exits, of P1 P4
    assert row["cac_partner"] == pytest.approx(300.0)  # C1
    assert pd.isna(row["cac_direct"])  # direct customers belong to no partner type


def test_breakdown_by_region(report: KpiReport) -> None:
    regions = report.breakdowns["region"]
    assert sorted(regions.index) == ["EMEA", "NA"]
    # NA: P3, P4, P5. In the program: P3, P5. Registered: D4. Churn: P4 exits, P5 quiet of 2
    assert regions.loc["NA", "total_partners"] == 2
    assert regions.loc["NA", "registered_deals"] == 1
    assert regions.loc["NA", "partner_churn_rate"] == pytest.approx(1.0)


def test_monthly_trend_over_twelve_months(report: KpiReport) -> None:
    trend = report.trend
    assert len(trend) == 12
    assert trend.index[-1] == pd.Timestamp("2024-07-01", tz="UTC")
    assert trend.index[0] == pd.Timestamp("2023-08-01", tz="UTC")
    # partner registrations: June D4 D5 D8, May D2, April D1 D3, March none, January D6
    deals = trend["registered_deals"]
    assert deals.iloc[-1] == 3
    assert deals.iloc[-2] == 1
    assert deals.iloc[-3] == 2
    assert deals.iloc[-4] == 0
    assert deals.iloc[-6] == 1
    assert "quota_attainment" not in trend.columns


# --- point in time, missing tables, bad input ----------------------------------------------


def test_events_at_or_after_as_of_change_nothing() -> None:
    base = program()
    future = "2024-07-01"
    deal = _frame(
        [("D9", "P1", "C1", "new", 1e6, future, "accepted", future, "won", future)], DEAL_COLS
    ).assign(product="core")
    activity = _frame([("P5", future, "training")], ["partner_id", "occurred_at", "kind"])
    survey = _frame([("P1", future, 0.0)], ["partner_id", "answered_at", "score"])
    customer = _frame([("C99", "direct", None, future, 1e6, None)], CUSTOMER_COLS)
    partner = base.partners.iloc[[0]].assign(
        partner_id="P9", joined_at=pd.Timestamp(future, tz="UTC")
    )
    assert base.activities is not None and base.surveys is not None
    assert base.customers is not None
    planted = Tables(
        pd.concat([base.partners, partner], ignore_index=True),
        pd.concat([base.deals, deal], ignore_index=True),
        pd.concat([base.activities, activity], ignore_index=True),
        pd.concat([base.surveys, survey], ignore_index=True),
        pd.concat([base.customers, customer], ignore_index=True),
    )
    before = program_kpis(base, as_of=AS_OF, quota=4).to_dict()
    after = program_kpis(planted, as_of=AS_OF, quota=4).to_dict()
    assert after == before


def test_absent_optional_tables_give_none_not_zero() -> None:
    full = program()
    report = program_kpis(Tables(full.partners, full.deals), as_of=AS_OF)
    for name in (
        "partners_using_materials",
        "partners_attending_training",
        "avg_satisfaction",
        "partners_attempting_certification",
        "partners_completing_certification",
        "cac_partner",
        "cac_direct",
        "retention_partner",
        "retention_direct",
    ):
        assert report.value(name) is None, name
        assert report.trend[name].isna().all(), name
    assert report.missing_tables == ("activities", "surveys", "customers")
    # deal-only metrics are still there; churn now sees deals only: P5 is not quiet → 1/3
    assert report.value("registered_deals") == 6
    assert report.value("expansion_rate_direct") == pytest.approx(2 / 3)
    assert report.value("partner_churn_rate") == pytest.approx(1 / 3)


def test_as_of_must_be_timezone_aware() -> None:
    with pytest.raises(InvalidInput, match="timezone-aware"):
        program_kpis(program(), as_of=datetime(2024, 7, 1))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"quota": -1}, "quota has value -1"),
        ({"period_days": 0}, "Period has value 0"),
        ({"trend_months": 0}, "Trend has value 0"),
    ],
)
def test_bad_parameters_are_named(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        program_kpis(program(), as_of=AS_OF, **kwargs)


def test_missing_column_names_table_and_column() -> None:
    tables = program()
    broken = replace(tables, deals=tables.deals.drop(columns=["decided_at"]))
    with pytest.raises(DataValidationError) as err:
        program_kpis(broken, as_of=AS_OF)
    assert [(p.table, p.column) for p in err.value.problems] == [("deals", "decided_at")]


def test_duplicate_partner_id_is_reported_with_its_row() -> None:
    tables = program()
    partners = tables.partners.copy()
    partners.loc[4, "partner_id"] = "P2"
    with pytest.raises(DataValidationError) as err:
        program_kpis(replace(tables, partners=partners), as_of=AS_OF)
    problem = err.value.problems[0]
    assert (problem.table, problem.row, problem.column, problem.value) == (
        "partners", 4, "partner_id", "P2")


def test_naive_timestamps_are_reported_with_their_dtype() -> None:
    tables = program()
    assert tables.surveys is not None
    naive = tables.surveys.assign(answered_at=tables.surveys["answered_at"].dt.tz_localize(None))
    with pytest.raises(DataValidationError) as err:
        program_kpis(replace(tables, surveys=naive), as_of=AS_OF)
    problem = err.value.problems[0]
    assert (problem.table, problem.column) == ("surveys", "answered_at")
    assert "datetime64" in str(problem.value)


def test_custom_period_length() -> None:
    # the last 30 days [06-01, 07-01): partner registrations D4, D5, D8
    report = program_kpis(program(), as_of=AS_OF, period_days=30)
    assert report.period_start == pd.Timestamp("2024-06-01", tz="UTC")
    assert report.value("registered_deals") == 3


# --- outputs -------------------------------------------------------------------------------


def test_json_shape(report: KpiReport) -> None:
    data = json.loads(report.to_json())
    assert data["period"] == {
        "start": "2024-04-02T00:00:00+00:00",
        "end": "2024-07-01T00:00:00+00:00",
        "days": 90,
    }
    assert data["quota"] == 4
    assert list(data["families"]) == ["recruitment", "success", "enablement", "profitability"]
    flat = {name: m for fam in data["families"].values() for name, m in fam.items()}
    assert set(flat) == set(KPIS)
    assert flat["registered_deals"] == {
        "value": 6,
        "unit": "count",
        "description": KPIS["registered_deals"].description,
    }
    assert data["recruitment_channels"][0] == {
        "channel": "event",
        "partners": 2,
        "share": 0.5,
        "new_partners": 1,
        "avg_recruit_cost": 500.0,
    }
    assert data["recruitment_channels"][2]["avg_recruit_cost"] is None
    assert data["breakdowns"]["partner_type"]["VAR"]["cac_direct"] is None
    assert len(data["trend"]["period_ends"]) == 12
    assert all(len(v) == 12 for v in data["trend"]["metrics"].values())


def test_json_is_null_for_absent_tables() -> None:
    full = program()
    data = json.loads(program_kpis(Tables(full.partners, full.deals), as_of=AS_OF).to_json())
    assert data["families"]["enablement"]["avg_satisfaction"]["value"] is None
    assert data["missing_tables"] == ["activities", "surveys", "customers"]


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (0.25, "ratio", "25.0%"),
        (1234.5, "USD", "$1,234.50"),
        (30.5, "days", "30.5 d"),
        (6, "count", "6"),
        (None, "ratio", "n/a"),
        (float("nan"), "USD", "n/a"),
    ],
)
def test_format_value(value: float | None, unit: str, text: str) -> None:
    assert format_value(value, unit) == text


def test_print_shows_every_metric_and_na(report: KpiReport) -> None:
    full = program()
    console = Console(record=True, width=240)
    program_kpis(Tables(full.partners, full.deals), as_of=AS_OF).print(console)
    text = console.export_text()
    assert all(name in text for name in KPIS)
    assert "n/a" in text
    assert "Recruitment channels" in text
    assert "By partner type" in text


# --- HTML ----------------------------------------------------------------------------------


def _svgs(html: str, cls: str) -> list[str]:
    return re.findall(rf'<svg class="{cls}".*?</svg>', html, flags=re.S)


TREND_METRICS = len(KPIS) - 1  # every metric but quota_attainment


def test_html_is_self_contained_with_charts(report: KpiReport) -> None:
    html = render_html(report, program())
    # a trend chart per metric; partner vs direct and recruitment channels as bar charts
    assert len(_svgs(html, "trend")) == TREND_METRICS
    assert len(_svgs(html, "bars")) == 2
    assert "<script" not in html
    assert "<img" not in html and "<link" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    for section in (
        "recruitment",
        "success",
        "enablement",
        "profitability",
        "partner-vs-direct",
        "channels",
        "breakdowns",
    ):
        assert f'id="{section}"' in html
    assert "$8,333.33" in html  # avg_deal_value
    assert "partners (7 rows)" in html


def test_trend_chart_plots_each_month(report: KpiReport) -> None:
    html = render_html(report)
    chart = next(c for c in _svgs(html, "trend") if "registered_deals: monthly" in c)
    # 12 points with their month and value; June's window (ending 07-01) had 3 registrations
    assert chart.count("<circle") == 12
    assert "<title>Jun 24: 3</title>" in chart
    assert "<title>Mar 24: 0</title>" in chart


def test_partner_vs_direct_bars_show_both_values(report: KpiReport) -> None:
    bars = _svgs(render_html(report), "bars")[0]
    assert "$400.00" in bars and "$1,200.00" in bars  # CAC partner / direct
    assert "50.0%" in bars and "66.7%" in bars  # retention partner / direct


def test_trend_line_breaks_where_a_month_has_no_value(report: KpiReport) -> None:
    chart = next(c for c in _svgs(render_html(report), "trend") if "acceptance_rate: monthly" in c)
    # decisions: Jan D6 (accepted), Apr D1 accepted + D3 rejected, May D2, Jun D5; none in
    # Feb/Mar → two lines (Jan; Apr-Jun) and four points; April is 1/2
    assert chart.count("<polyline") == 2
    assert chart.count("<circle") == 4
    assert "<title>Apr 24: 50.0%</title>" in chart


def test_every_chart_is_well_formed_svg(report: KpiReport) -> None:
    html = render_html(report)
    charts = _svgs(html, "trend") + _svgs(html, "bars")
    for chart in charts:
        ElementTree.fromstring(chart)  # raises on malformed XML
    assert len(charts) == TREND_METRICS + 2


def test_html_escapes_data() -> None:
    tables = program()
    partners = tables.partners.assign(
        region=tables.partners["region"].replace("EMEA", "<b>R&D</b>"),
        recruited_via=tables.partners["recruited_via"].replace("webinar", "<script>x</script>"),
    )
    html = render_html(program_kpis(replace(tables, partners=partners), as_of=AS_OF))
    assert "&lt;b&gt;R&amp;D&lt;/b&gt;" in html
    assert "<b>R&D</b>" not in html
    assert "<script" not in html


def test_html_renders_with_only_required_tables() -> None:
    full = program()
    tables = Tables(full.partners, full.deals)
    html = render_html(program_kpis(tables, as_of=AS_OF), tables)
    assert len(_svgs(html, "trend")) == TREND_METRICS
    cac = next(c for c in _svgs(html, "trend") if "cac_partner: monthly" in c)
    assert ">n/a</text>" in cac and "<circle" not in cac
    assert "Absent (their metrics are n/a): activities, surveys, customers" in html


def test_html_renders_an_empty_program() -> None:
    full = program()
    tables = Tables(full.partners.iloc[:0], full.deals.iloc[:0])
    report = program_kpis(tables, as_of=AS_OF)
    assert report.value("total_partners") == 0
    assert report.value("partner_churn_rate") is None
    html = render_html(report, tables)
    assert "No partners in the program." in html
    assert len(_svgs(html, "bars")) == 1  # no channel chart


# --- CLI -----------------------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    for name, frame in program().items():
        frame.to_parquet(tmp_path / f"{name}.parquet", index=False)
    return tmp_path


def test_cli_prints_the_report(data_dir: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["kpis", "--data", str(data_dir), "--as-of", "2024-07-01", "--quota", "4"],
        env={"COLUMNS": "240"},
    )
    assert result.exit_code == 0, result.output
    assert "quota_attainment" in result.output
    assert "50.0%" in result.output  # quota attainment 2/4


def test_cli_json_and_html(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = CliRunner().invoke(
        app,
        ["kpis", "--data", str(data_dir), "--as-of", "2024-07-01", "--json", "--html", str(out)],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # logs go to stderr: stdout is pure JSON
    assert data["families"]["success"]["registered_deals"]["value"] == 6
    assert data["quota"] is None
    assert len(_svgs(out.read_text(encoding="utf-8"), "trend")) == TREND_METRICS


def test_cli_without_optional_tables(data_dir: Path) -> None:
    for name in ("activities", "surveys", "customers"):
        (data_dir / f"{name}.parquet").unlink()
    result = CliRunner().invoke(
        app,
        ["kpis", "--data", str(data_dir), "--as-of", "2024-07-01", "--json"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["families"]["profitability"]["cac_partner"]["value"] is None
    assert data["families"]["success"]["registered_deals"]["value"] == 6


def test_cli_rejects_a_negative_quota(data_dir: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["kpis", "--data", str(data_dir), "--as-of", "2024-07-01", "--quota", "-1"],
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, InvalidInput)


def test_cli_period_days(data_dir: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["kpis", "--data", str(data_dir), "--as-of", "2024-07-01", "--period-days", "30", "--json"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # [06-01, 07-01): D4, D5, D8
    assert data["period"]["days"] == 30
    assert data["families"]["success"]["registered_deals"]["value"] == 3


# --- simulated program (smoke; `tables` and `sim_dir` come from tests/conftest.py) --------

def test_simulated_program_is_consistent(tables: Tables) -> None:
    as_of = (tables.deals["registered_at"].max() - pd.Timedelta(days=30)).floor("D")
    report = program_kpis(tables, as_of=as_of, quota=50)
    p = tables.partners
    in_program = (p["joined_at"] < as_of) & ~(p["exited_at"] < as_of)
    assert report.value("total_partners") == int(in_program.sum())
    for name, kpi in KPIS.items():
        value = report.value(name)
        if kpi.unit == "ratio" and name != "quota_attainment" and value is not None:
            assert 0.0 <= value <= 1.0, name
        if kpi.unit == "count":
            assert isinstance(value, int) and value >= 0, name
    assert report.channels["partners"].sum() == report.value("total_partners")
    assert report.channels["share"].sum() == pytest.approx(1.0)
    for dim in ("partner_type", "region"):
        groups = report.breakdowns[dim]
        for name in ("total_partners", "new_partners", "registered_deals", "partners_exited"):
            assert groups[name].sum() == report.value(name), (dim, name)
    assert len(_svgs(render_html(report, tables), "trend")) == TREND_METRICS


def test_cli_on_a_simulated_program(sim_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "kpis.html"
    result = CliRunner().invoke(
        app, ["kpis", "--data", str(sim_dir), "--as-of", "2026-11-01", "--json", "--html",
              str(out)],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["families"]["recruitment"]["total_partners"]["value"] > 0
    assert data["missing_tables"] == []
    assert out.read_text(encoding="utf-8").startswith("<!doctype html>")
