"""Program cost KPIs from the incentive ledger (pure): what the program paid per period, and
per dollar of partner-sourced revenue won in that period."""

from __future__ import annotations

from datetime import UTC

import pandas as pd

from rules.calendar import ProgramCalendar
from rules.ledger import OPENING_WEEK


def week_monday(week: pd.Series) -> pd.Series:
    """`2026-W48` → that ISO week's Monday, 00:00 UTC."""
    return pd.to_datetime(week.astype(str) + "-1", format="%G-W%V-%u").dt.tz_localize(UTC)


def cost_per_period(
    accruals: pd.DataFrame, deals: pd.DataFrame, calendar: ProgramCalendar, kind: str = "quarter"
) -> pd.DataFrame:
    """One row per program period (month | quarter | year) with accruals: cost (what accrued
    in weeks starting in it), partner-sourced revenue won in it, and their ratio. The opening
    balance (what was reached before the ledger's first week) has no date: it is no period's
    cost and is left out."""
    accruals = accruals.loc[accruals["week"].astype(str) != OPENING_WEEK]
    if accruals.empty:
        return pd.DataFrame(columns=["period", "cost", "partner_revenue", "cost_per_revenue"])
    mondays = week_monday(accruals["week"])
    labels = [calendar.period(kind, m.to_pydatetime()).label for m in mondays]
    cost = accruals.assign(period=labels).groupby("period")["amount"].sum()
    won = deals.loc[
        deals["partner_id"].notna() & (deals["outcome"].astype(str) == "won")
        & deals["closed_at"].notna()
    ]  # fmt: skip
    closed = pd.to_datetime(won["closed_at"], utc=True)
    spans = {
        p: calendar.period(kind, m.to_pydatetime()) for p, m in zip(labels, mondays, strict=True)
    }
    revenue = {
        p: float(won.loc[(closed >= s.start) & (closed < s.end), "amount"].sum())
        for p, s in spans.items()
        if s.start is not None and s.end is not None
    }
    out = cost.rename("cost").reset_index()
    out["partner_revenue"] = out["period"].map(revenue).fillna(0.0)
    out["cost_per_revenue"] = out["cost"] / out["partner_revenue"].where(out["partner_revenue"] > 0)
    out["period_start"] = out["period"].map({p: s.start for p, s in spans.items()})
    return out.sort_values("period_start").drop(columns="period_start").reset_index(drop=True)
