"""Period-to-date features, worked out by hand on tests/features/tiny_program.py.

P1 wins D7 (4,000) on 2024-01-10, D1 (1,000) on 2024-06-30 and D5 (500) on 2024-07-10.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.periods import period_start_ns
from features.snapshot import build_features
from tests.features.tiny_program import tiny_tables


def p1(as_of: str, year_start: int = 1) -> pd.Series:
    frame = build_features(
        tiny_tables(), as_of=pd.Timestamp(as_of, tz="UTC"), year_start=year_start
    )
    return frame.set_index("partner_id").loc["P1"]


@pytest.mark.parametrize(
    ("as_of", "year_start", "expected"),
    [
        ("2024-07-01", 1, {"mtd": 0, "qtd": 0, "ytd": 5000}),  # a new quarter starts at as_of
        ("2024-06-30", 1, {"mtd": 0, "qtd": 0, "ytd": 4000}),  # D1 closes at as_of: not yet
        ("2024-07-15", 1, {"mtd": 500, "qtd": 500, "ytd": 5500}),
        ("2024-07-15", 7, {"mtd": 500, "qtd": 500, "ytd": 500}),  # program year from July
        ("2024-07-15", 2, {"mtd": 500, "qtd": 1500, "ytd": 1500}),  # year from Feb: no D7
    ],
)
def test_revenue_won_to_date(as_of: str, year_start: int, expected: dict[str, float]) -> None:
    row = p1(as_of, year_start)
    assert {k: row[f"revenue_won_{k}"] for k in expected} == expected
    won = {5000: 2, 5500: 3, 500: 1, 4000: 1, 1500: 2}[expected["ytd"]]
    assert row["deals_won_ytd"] == won


def test_period_start_follows_the_program_year() -> None:
    t = pd.DatetimeIndex(["2026-11-30", "2026-01-01", "2027-01-31 23:59"], tz="UTC")
    ns = t.as_unit("ns").asi8
    quarters = pd.DatetimeIndex(period_start_ns(ns, 3, 2).view("datetime64[ns]"), tz="UTC")
    assert list(quarters.strftime("%Y-%m-%d")) == ["2026-11-01", "2025-11-01", "2026-11-01"]
    assert np.array_equal(
        period_start_ns(ns, 1),
        pd.DatetimeIndex(["2026-11-01", "2026-01-01", "2027-01-01"], tz="UTC").as_unit("ns").asi8,
    )
