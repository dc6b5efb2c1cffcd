"""KPI definitions that no longer mislead (issue 18), on the hand-built program of
tests/features/kpi_program.py (as_of 2024-07-01, period [2024-04-02, 2024-07-01)) and on a
seeded simulated program. The arithmetic is in each test."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.kpi_metrics import KPIS
from features.kpis import program_kpis
from tests.features.kpi_program import AS_OF, DEAL_COLS, DEALS, frame, program
from tierwise.errors import InvalidInput
from tierwise.shell.cli import app

COSTS = pd.DataFrame(
    {
        "at": ["2024-03-25", "2024-05-06", "2024-06-03", "2024-07-08"],
        "amount": [50.0, 1200.0, 400.0, 999.0],  # before the period, 2 in it, after as_of
        "kind": ["commission", "commission", "mdf", "bonus"],
    }
)


def with_deal(*rows: tuple[object, ...]) -> pd.DataFrame:
    return frame([*DEALS, *rows], DEAL_COLS).assign(product="core")


def test_a_lost_accepted_registration_is_a_loss_and_a_rejected_one_is_not() -> None:
    # D9: P1's accepted registration closed lost 06-15. Closed in the period: D1, D2 won,
    # D9 lost; D3 was rejected and closed lost: not counted → 2 / 3
    lost = ("D9", "P1", "C30", "new", 1000.0, "2024-05-20", "accepted", "2024-05-22", "lost",
            "2024-06-15")  # fmt: skip
    tables = replace(program(), deals=with_deal(lost))
    assert program_kpis(tables, as_of=AS_OF).value("win_rate") == pytest.approx(2 / 3)


def test_a_rejection_alone_leaves_no_win_rate() -> None:
    # only D3 (rejected, closed lost 04-28) in a window [04-20, 05-01): nothing to win or lose
    report = program_kpis(program(), as_of=datetime(2024, 5, 1, tzinfo=UTC), period_days=11)
    assert report.value("win_rate") is None
    assert report.value("acceptance_rate") == 0.0  # D3's decision is still counted there


def test_churn_is_exits_plus_dormancy_on_a_simulated_program() -> None:
    from simulation.program import simulate

    sim = simulate(partners=150, years=1.5, seed=4, end=datetime(2026, 6, 1, tzinfo=UTC))
    trend = program_kpis(sim.tables, as_of=datetime(2026, 6, 1, tzinfo=UTC)).trend
    split = trend["partner_exit_rate"] + trend["partner_dormancy_rate"]
    pd.testing.assert_series_equal(split, trend["partner_churn_rate"], check_names=False)
    assert (trend["partner_exit_rate"] > 0).any() and (trend["partner_dormancy_rate"] > 0).any()


def test_went_quiet_says_manager_contacts_do_not_count() -> None:
    assert "manager contacts do not count" in KPIS["partners_went_quiet"].description
    # P5: a training in the window before, then only a manager contact (05-01): quiet
    assert program_kpis(program(), as_of=AS_OF).value("partners_went_quiet") == 1


def test_cac_with_program_costs_adds_what_the_program_paid() -> None:
    # partner customers acquired in the period: C1 (300) and C2 (500); program costs in it:
    # 1200 (05-06) + 400 (06-03) → (300 + 500 + 1200 + 400) / 2 = 1200; the recorded CAC
    # alone stays (300 + 500) / 2 = 400
    report = program_kpis(program(), as_of=AS_OF, program_costs=COSTS)
    assert report.value("cac_partner") == pytest.approx(400.0)
    assert report.value("cac_partner_with_program") == pytest.approx(1200.0)
    # the trend's month [05-01, 06-01): C2 (500) and the 05-06 commission → 1700
    may = report.trend.loc[pd.Timestamp("2024-06-01", tz="UTC"), "cac_partner_with_program"]
    assert may == pytest.approx(1700.0)


def test_cac_with_a_period_total_and_without_costs() -> None:
    # (300 + 500 + 1000) / 2 = 900; the trend knows no dates for a total
    report = program_kpis(program(), as_of=AS_OF, program_costs=1000.0)
    assert report.value("cac_partner_with_program") == pytest.approx(900.0)
    assert report.trend["cac_partner_with_program"].isna().all()
    assert program_kpis(program(), as_of=AS_OF).value("cac_partner_with_program") is None


@pytest.mark.parametrize(
    ("costs", "fragment"),
    [
        (-5.0, "Program cost has value -5.0"),
        (float("nan"), "Program cost has value nan"),
        (COSTS.drop(columns=["at"]), "no column at"),
        (COSTS.assign(amount=[1.0, -2.0, 3.0, 4.0]), "row 1: amount has value -2.0"),
        (
            COSTS.assign(at=["2024-05-01", "soon", "2024-05-03", "2024-05-02"]),
            "row 1: at has value 'soon'",
        ),
    ],
)
def test_bad_program_costs_are_named(costs: pd.DataFrame | float, fragment: str) -> None:
    with pytest.raises(InvalidInput, match=fragment):
        program_kpis(program(), as_of=AS_OF, program_costs=costs)


def test_the_cli_takes_program_costs(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    for name, table in program().items():
        table.to_parquet(tmp_path / "data" / f"{name}.parquet", index=False)
    COSTS.to_csv(tmp_path / "costs.csv", index=False)
    base = ["kpis", "--data", str(tmp_path / "data"), "--as-of", "2024-07-01", "--json"]
    runner = CliRunner()
    dated = runner.invoke(app, [*base, "--program-costs", str(tmp_path / "costs.csv")])
    total = runner.invoke(app, [*base, "--program-cost", "1000"])
    both = runner.invoke(app, [*base, "--program-cost", "1", "--program-costs", "x.csv"])
    cac = [
        json.loads(r.stdout)["families"]["profitability"]["cac_partner_with_program"]["value"]
        for r in (dated, total)
    ]
    assert cac == [pytest.approx(1200.0), pytest.approx(900.0)]
    assert both.exit_code != 0 and "not both" in both.output
