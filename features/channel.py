"""How a partner's revenue is made and whom it brings: recurring vs one-time revenue (ARR),
sourced vs influenced revenue, and for a distributor the resellers under it (two-tier
distribution, `partners.parent_partner_id`) and their sell-through.

All point in time, on the same won-deal clock as `revenue_won_*` (a deal counts at its
`closed_at`). A feature whose column the data leaves empty is missing (NaN), not 0.

    arr_won_365d             ARR of recurring deals won in the last 365 days
    arr_trend                its growth: that ARR / the ARR won in the 365 days before (1 = flat)
    recurring_share_365d     recurring revenue / revenue won, last 365 days
    sourced_revenue_365d     revenue won on deals the partner sourced …
    influenced_revenue_365d  … and on deals it influenced
    sub_resellers            partners naming it as their parent, in the program at as_of
    sell_through_365d        revenue the sub-resellers won in the last 365 days
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.windows import EventIndex, IntArray, ratio, to_ns

Columns = dict[str, np.ndarray]
YEAR = 365


@dataclass(frozen=True)
class ChannelStreams:
    won: EventIndex  # won deals at closed_at: revenue, recurring, arr, sourced, influenced
    has_revenue_type: bool
    has_arr: bool
    has_attribution: bool
    members: EventIndex | None  # sub-resellers joining, keyed by the parent's code
    leavers: EventIndex | None  # … and exiting
    sell_through: EventIndex | None  # sub-resellers' won deals keyed by the parent's code


def column(frame: pd.DataFrame, name: str) -> pd.Series:
    """The column, or all nulls when a hand-built frame lacks it (validated ones never do)."""
    if name in frame.columns:
        return frame[name]
    return pd.Series([None] * len(frame), index=frame.index, dtype=object)


def index_channel(
    partners: pd.DataFrame,
    deals: pd.DataFrame,
    deal_codes: IntArray,
    parent_codes: IntArray,
    won_at: IntArray,
) -> ChannelStreams:
    """`deal_codes`: each deal's partner code; `parent_codes`: each partner's parent code
    (-1 none); `won_at`: each deal's win time (NAT unless won)."""
    n = len(partners)
    amount = deals["amount"].to_numpy(dtype=np.float64, na_value=np.nan)
    kind, arr, source = (column(deals, c) for c in ("revenue_type", "arr", "attribution"))
    values = {
        "revenue": amount,
        "recurring": np.where(_is(kind, "recurring"), amount, 0.0),
        "arr": pd.to_numeric(arr).to_numpy(dtype=np.float64, na_value=0.0),
        "sourced": np.where(_is(source, "sourced"), amount, 0.0),
        "influenced": np.where(_is(source, "influenced"), amount, 0.0),
    }
    members = leavers = sell_through = None
    if (parent_codes >= 0).any():
        members = EventIndex.build(parent_codes, to_ns(partners["joined_at"]), n)
        leavers = EventIndex.build(parent_codes, to_ns(partners["exited_at"]), n)
        deal_parent = np.where(deal_codes >= 0, parent_codes[np.maximum(deal_codes, 0)], -1)
        sell_through = EventIndex.build(deal_parent, won_at, n, {"revenue": amount})
    return ChannelStreams(
        won=EventIndex.build(deal_codes, won_at, n, values),
        has_revenue_type=bool(kind.notna().any()),
        has_arr=bool(arr.notna().any()),
        has_attribution=bool(source.notna().any()),
        members=members,
        leavers=leavers,
        sell_through=sell_through,
    )


def _is(values: pd.Series, label: str) -> np.ndarray:
    return values.astype("str").eq(label).to_numpy(dtype=bool, na_value=False)


def channel_columns(streams: ChannelStreams, p: IntArray, t: IntArray) -> Columns:
    missing = np.full(len(p), np.nan)
    won = streams.won.probe(p, t)
    arr = won.total("arr", YEAR)
    cols: Columns = {
        "arr_won_365d": arr if streams.has_arr else missing,
        "arr_trend": ratio(arr, won.total("arr", YEAR, shift=YEAR)) if streams.has_arr else missing,
        "recurring_share_365d": ratio(won.total("recurring", YEAR), won.total("revenue", YEAR))
        if streams.has_revenue_type
        else missing,
    }
    for name in ("sourced", "influenced"):
        cols[f"{name}_revenue_365d"] = won.total(name, YEAR) if streams.has_attribution else missing
    if streams.members is None or streams.leavers is None or streams.sell_through is None:
        cols.update(sub_resellers=missing, sell_through_365d=missing)
        return cols
    joined = streams.members.probe(p, t).count()
    cols["sub_resellers"] = joined - streams.leavers.probe(p, t).count()
    cols["sell_through_365d"] = streams.sell_through.probe(p, t).total("revenue", YEAR)
    return cols
