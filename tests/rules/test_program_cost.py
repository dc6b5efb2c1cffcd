from __future__ import annotations

import pandas as pd
import pytest

from rules.calendar import ProgramCalendar
from rules.program_cost import cost_per_period


def test_cost_per_quarter_against_partner_revenue_won_in_it() -> None:
    accruals = pd.DataFrame(
        {"week": ["2026-W39", "2026-W40", "2026-W41"], "amount": [100.0, 50.0, 30.0]}
    )  # Mondays 09-21, 09-28 (Q3) and 10-05 (Q4)
    deals = pd.DataFrame(
        {
            "partner_id": ["P1", "P1", None, "P2"],
            "outcome": ["won", "won", "won", "lost"],
            "closed_at": pd.to_datetime(
                ["2026-08-01", "2026-10-02", "2026-08-02", "2026-08-03"], utc=True
            ),
            "amount": [1000.0, 600.0, 9999.0, 5000.0],  # a direct deal and a lost one: no
        }
    )
    out = cost_per_period(accruals, deals, ProgramCalendar()).set_index("period")
    assert out["cost"].to_dict() == {"2026-Q3": 150.0, "2026-Q4": 30.0}
    assert out["partner_revenue"].to_dict() == {"2026-Q3": 1000.0, "2026-Q4": 600.0}
    assert out.loc["2026-Q3", "cost_per_revenue"] == pytest.approx(0.15)


def test_no_revenue_gives_no_ratio() -> None:
    accruals = pd.DataFrame({"week": ["2026-W41"], "amount": [30.0]})
    deals = pd.DataFrame(columns=["partner_id", "outcome", "closed_at", "amount"])
    out = cost_per_period(accruals, deals, ProgramCalendar(), "year")
    assert out["period"].tolist() == ["2026"] and pd.isna(out["cost_per_revenue"].iloc[0])
