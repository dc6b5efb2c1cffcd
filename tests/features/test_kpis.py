"""Program KPIs on the hand-built program of tests/features/kpi_program.py.

as_of = 2024-07-01, so the default period is [2024-04-02, 2024-07-01) (90 days: Jun 30 + May 31
+ Apr 29) and the window before it is [2024-01-03, 2024-04-02). The arithmetic is in each test.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

import pandas as pd
import pytest

from features.kpi_metrics import KPIS
from features.kpis import KpiReport, program_kpis
from features.tables import Tables
from tests.features.kpi_program import (
    AS_OF,
    CUSTOMER_COLS,
    DEAL_COLS,
    frame,
    program,
)
from tierwise.errors import DataValidationError, InvalidInput


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
    # split: exits 1 / 3 + dormancy 1 / 3
    assert report.value("partner_exit_rate") == pytest.approx(1 / 3)
    assert report.value("partner_dormancy_rate") == pytest.approx(1 / 3)


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
    # closed in the period: D1 won, D2 won; D3 was rejected (closed lost the same day): not
    # a loss, the partner never had it to win (D5 wins after as_of) → 2/2
    # cycles: D1 04-05 → 05-05 = 30, D2 05-01 → 06-01 = 31 → 30.5; revenue 10000 + 20000
    assert report.value("win_rate") == pytest.approx(1.0)
    assert report.value("avg_sales_cycle_days") == pytest.approx(30.5)
    assert report.value("partner_revenue_won") == pytest.approx(30000.0)


def test_partners_registering_leads_last_month_and_quarter(report: KpiReport) -> None:
    # 30 days (from 06-01): P1 (D5, D8), P3 (D4) of P1 P2 P3 P5 → 2/4
    # 90 days (from 04-02): also P2 (D3 and a lead on 05-20) → 3/4
    assert report.value("partners_registering_leads_30d") == pytest.approx(0.5)
    assert report.value("partners_registering_leads_90d") == pytest.approx(0.75)


def test_a_registered_lead_counts_without_a_deal() -> None:
    tables = program()
    lead = frame([("P5", "2024-06-15", "lead_registered")], ["partner_id", "occurred_at", "kind"])
    assert tables.activities is not None
    tables = replace(tables, activities=pd.concat([tables.activities, lead], ignore_index=True))
    report = program_kpis(tables, as_of=AS_OF)
    # P5 now has a lead in the last 30 days: P1, P3, P5 of 4; and it is no longer quiet: 1/3
    assert report.value("partners_registering_leads_30d") == pytest.approx(0.75)
    assert report.value("partner_churn_rate") == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("expiry_days", "unworked", "due"),
    [
        # 60 days: D1 expires 06-04 (won 05-05), D2 06-30 (won 06-01): both worked in time
        (60, 0, 2),
        # 90 days (the default): D1 and D2 expire in July, after the period; P4's D6
        # (registered 01-15, won 03-01) expires 04-14, in it, worked in time
        (90, 0, 1),
        # 29 days: D1 expires 05-04, D2 05-30, before their outcomes: both expired unworked
        (29, 2, 2),
        # 10 days: D1 04-15, D2 05-11, and D5 06-30 (accepted 06-25, won 07-10 — too late)
        (10, 3, 3),
    ],
)
def test_registrations_expiring_unworked(expiry_days: int, unworked: int, due: int) -> None:
    report = program_kpis(program(), as_of=AS_OF, expiry_days=expiry_days)
    assert report.value("registrations_expired_unworked") == unworked
    assert report.value("expired_unworked_rate") == pytest.approx(unworked / due)


def test_the_expiry_defaults_to_ninety_days(report: KpiReport) -> None:
    assert report.value("registrations_expired_unworked") == 0
    assert report.value("expired_unworked_rate") == pytest.approx(0.0)  # D6 only, worked


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
    deal = frame(
        [("D9", "P1", "C1", "new", 1e6, future, "accepted", future, "won", future)], DEAL_COLS
    ).assign(product="core")
    activity = frame([("P5", future, "training")], ["partner_id", "occurred_at", "kind"])
    survey = frame([("P1", future, 0.0)], ["partner_id", "answered_at", "score"])
    customer = frame([("C99", "direct", None, future, 1e6, None)], CUSTOMER_COLS)
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
        ({"expiry_days": 0}, "Expiry has value 0"),
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
        "partners",
        4,
        "partner_id",
        "P2",
    )


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
