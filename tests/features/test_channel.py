"""Revenue mix (ARR, recurring share, sourced vs influenced) and two-tier distribution
(sub-resellers, sell-through), point in time, against direct counts of the simulated tables."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from features.snapshot import build_features
from features.tables import Tables

AS_OF = pd.Timestamp("2026-03-02", tz="UTC")
YEAR = pd.Timedelta(days=365)


def won_between(deals: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    won = deals["outcome"].eq("won") & (deals["closed_at"] >= start) & (deals["closed_at"] < end)
    return deals[won]


def frame(tables: Tables, as_of: pd.Timestamp = AS_OF) -> pd.DataFrame:
    return build_features(tables, as_of=as_of).set_index("partner_id")


def per_partner(values: pd.Series, index: pd.Index) -> pd.Series:
    return values.reindex(index, fill_value=0.0).astype(float)


def test_arr_recurring_share_and_attribution_match_the_deals(tables: Tables) -> None:
    f = frame(tables)
    year = won_between(tables.deals, AS_OF - YEAR, AS_OF)
    before = won_between(tables.deals, AS_OF - 2 * YEAR, AS_OF - YEAR)
    arr = per_partner(year.groupby("partner_id")["arr"].sum(), f.index)
    arr_before = per_partner(before.groupby("partner_id")["arr"].sum(), f.index)
    np.testing.assert_allclose(f["arr_won_365d"], arr)
    growth = arr / arr_before.where(arr_before > 0)
    np.testing.assert_allclose(f["arr_trend"], growth)
    recurring = year[year["revenue_type"] == "recurring"].groupby("partner_id")["amount"].sum()
    total = year.groupby("partner_id")["amount"].sum()
    share = per_partner(recurring, f.index) / per_partner(total, f.index).replace(0, np.nan)
    np.testing.assert_allclose(f["recurring_share_365d"], share)
    for kind in ("sourced", "influenced"):
        amount = year[year["attribution"] == kind].groupby("partner_id")["amount"].sum()
        np.testing.assert_allclose(f[f"{kind}_revenue_365d"], per_partner(amount, f.index))


def test_sub_resellers_and_sell_through_match_the_partners(tables: Tables) -> None:
    f = frame(tables)
    p = tables.partners
    in_program = (p["joined_at"] < AS_OF) & ~(p["exited_at"] < AS_OF)
    subs = p[in_program].groupby("parent_partner_id").size()
    np.testing.assert_allclose(f["sub_resellers"], per_partner(subs, f.index))
    parent = p.set_index("partner_id")["parent_partner_id"]
    year = won_between(tables.deals, AS_OF - YEAR, AS_OF)
    through = year.assign(parent=year["partner_id"].map(parent)).groupby("parent")["amount"].sum()
    np.testing.assert_allclose(f["sell_through_365d"], per_partner(through, f.index))
    distributors = f[f["partner_type"] == "distributor"]
    assert distributors["sub_resellers"].max() >= 3 and distributors["sell_through_365d"].max() > 0
    assert (f.loc[f["partner_type"] != "distributor", "sub_resellers"] == 0).all()


def test_a_reseller_joining_or_winning_after_as_of_does_not_count(tables: Tables) -> None:
    f = frame(tables)
    top = f["sub_resellers"].idxmax()
    child = tables.partners.iloc[[0]].assign(
        partner_id="LATE1", parent_partner_id=top, joined_at=AS_OF, exited_at=pd.NaT
    )
    deal = tables.deals.iloc[[0]].assign(
        deal_id="LATE-D", partner_id="LATE1", outcome="won", status="accepted",
        registered_at=AS_OF, decided_at=AS_OF, closed_at=AS_OF, amount=1e6,
    )  # fmt: skip
    later = replace(
        tables,
        partners=pd.concat([tables.partners, child], ignore_index=True),
        deals=pd.concat([tables.deals, deal], ignore_index=True),
    )
    g = frame(later)
    assert g.loc[top, "sub_resellers"] == f.loc[top, "sub_resellers"]
    assert g.loc[top, "sell_through_365d"] == f.loc[top, "sell_through_365d"]
    after = frame(later, AS_OF + pd.Timedelta(days=1))
    assert after.loc[top, "sell_through_365d"] >= 1e6


def test_an_exited_reseller_no_longer_counts(tables: Tables) -> None:
    f = frame(tables)
    top = f["sub_resellers"].idxmax()
    p = tables.partners.copy()
    children = (p["parent_partner_id"] == top) & (p["joined_at"] < AS_OF - YEAR)
    p.loc[children, "exited_at"] = AS_OF - pd.Timedelta(days=1)
    g = frame(replace(tables, partners=p))
    assert g.loc[top, "sub_resellers"] == f.loc[top, "sub_resellers"] - children.sum() > -1
    assert children.sum() > 0


def test_older_data_without_the_columns_has_missing_features(tables: Tables) -> None:
    older = replace(
        tables,
        partners=tables.partners.drop(columns=["parent_partner_id"]),
        deals=tables.deals.drop(columns=["revenue_type", "arr", "attribution"]),
    )
    f = frame(older)
    new = ["arr_won_365d", "arr_trend", "recurring_share_365d", "sourced_revenue_365d",
           "influenced_revenue_365d", "sub_resellers", "sell_through_365d"]  # fmt: skip
    assert f[new].isna().all().all()
    assert f["revenue_won_365d"].notna().all()
