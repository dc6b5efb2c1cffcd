"""Deal-registration features: what the acceptance model sees when a registration arrives.

One row per registration (index aligned with the `deals` given): the deal's own attributes
(`DEAL_FEATURES`) and the registering partner's registry features, all as of the deal's
`registered_at` — strictly before it, so the deal itself, its decision and its outcome never
leak in. Direct deals and unknown partners get missing partner features (False booleans).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features import registry
from features.history import DealStreams, PartnerHistory, codes_of, index_deals, index_history
from features.registry import Feature
from features.snapshot import features_at
from features.tables import Tables
from features.windows import NAT, EventIndex, IntArray, Probe, ratio, to_ns

DEAL_FEATURES: list[Feature] = [
    Feature("amount", "number", "USD", "deals", "Registered deal amount"),
    Feature("log_amount", "number", "log USD", "deals", "log(1 + amount)"),
    Feature("product", "category", "", "deals", "Product registered"),
    Feature("deal_kind", "category", "", "deals", "new, cross_sell, upsell or renewal"),
    Feature(
        "customer_has_open_direct_deal",
        "boolean",
        "",
        "deals",
        "A direct deal on the same customer was registered before and is not yet closed",
    ),
    Feature(
        "customer_is_existing",
        "boolean",
        "",
        "deals",
        "The customer had already bought: a deal (any channel) won before registration",
    ),
    Feature(
        "customer_open_partner_deals",
        "number",
        "count",
        "deals",
        "Open registrations by other partners on the same customer (channel conflict)",
    ),
    Feature(
        "partner_customer_deals",
        "number",
        "count",
        "deals",
        "Earlier registrations by this partner on the same customer",
    ),
    Feature(
        "partner_deals_in_flight",
        "number",
        "count",
        "deals",
        "This partner's registrations not yet closed or rejected",
    ),
    Feature(
        "amount_vs_partner_avg",
        "number",
        "ratio",
        "deals",
        "Amount / the partner's average registered amount over 365 days (missing if none)",
    ),
]
DEAL_KEY_COLUMNS = ("deal_id", *registry.KEY_COLUMNS)


def deal_feature_names() -> list[str]:
    return [f.name for f in DEAL_FEATURES]


def build_deal_features(tables: Tables, deals: pd.DataFrame) -> pd.DataFrame:
    """Deal attributes + partner features as of each deal's registered_at (same index as deals)."""
    history = index_history(tables)
    codes = history.codes(deals["partner_id"])
    times = to_ns(deals["registered_at"])
    partner = _partner_frame(history, codes, times, tables.present())
    customers = index_customers(tables.deals, history.codes(tables.deals["partner_id"]))
    average = partner["avg_deal_value_365d"].to_numpy()
    own = deal_columns(deals, codes, customers, history.deals, average, times)
    partner.insert(0, "deal_id", deals["deal_id"].astype("str").to_numpy())
    columns = [*DEAL_KEY_COLUMNS, *deal_feature_names(), *registry.FEATURES]
    frame = pd.concat([partner, own], axis=1)[columns]
    frame.index = deals.index
    return frame


def _partner_frame(
    history: PartnerHistory, codes: IntArray, times: IntArray, present: set[str]
) -> pd.DataFrame:
    """Registry features per deal; rows without a known partner get NaN / False."""
    valid = (codes >= 0) & (times != NAT)
    frame = features_at(history, codes[valid], times[valid], present)
    if valid.all():
        return frame
    frame.index = np.flatnonzero(valid)
    frame = frame.reindex(pd.RangeIndex(len(codes)))
    frame["as_of"] = pd.DatetimeIndex(times.view("datetime64[ns]"), tz="UTC")
    for name in registry.names("boolean"):
        frame[name] = frame[name].fillna(False).astype(bool)
    for name in ("partner_id", "manager_id", *registry.names("category")):
        frame[name] = frame[name].astype("str")
    return frame


@dataclass(frozen=True)
class CustomerHistory:
    """The deal history indexed by customer, and by (partner, customer) pair."""

    customers: pd.Index  # customer ids in the history; code = position
    pairs: pd.Index  # partner code * len(customers) + customer code, for partner deals
    direct: DealStreams  # direct deals (no partner), by customer
    channel: DealStreams  # partner deals, by customer
    pair: DealStreams  # partner deals, by pair

    def customer_codes(self, customer_ids: pd.Series) -> IntArray:
        return codes_of(customer_ids, self.customers)

    def pair_codes(self, partner: IntArray, customer: IntArray) -> IntArray:
        keys = partner * len(self.customers) + customer
        found = np.asarray(self.pairs.get_indexer(keys), dtype=np.int64)
        return np.where((partner >= 0) & (customer >= 0), found, -1)


def index_customers(deals: pd.DataFrame, partner: IntArray) -> CustomerHistory:
    """Index the deal history by customer and by (partner, customer)."""
    customers = pd.Index(deals["customer_id"].astype("str").dropna().unique())
    customer = codes_of(deals["customer_id"], customers)
    is_direct = deals["partner_id"].isna().to_numpy()
    keys = np.where((partner >= 0) & (customer >= 0), partner * len(customers) + customer, -1)
    pairs = pd.Index(np.unique(keys[keys >= 0]))
    n = len(customers)
    return CustomerHistory(
        customers=customers,
        pairs=pairs,
        direct=index_deals(deals, np.where(is_direct, customer, -1), n),
        channel=index_deals(deals, np.where(partner >= 0, customer, -1), n),
        pair=index_deals(deals, np.asarray(pairs.get_indexer(keys), np.int64), len(pairs)),
    )


def _probe(index: EventIndex, code: IntArray, t: IntArray) -> Probe:
    """A probe for codes that may be -1 (answers for those are discarded by the caller)."""
    return index.probe(np.where(code >= 0, code, 0), t)


def _in_flight(streams: DealStreams, code: IntArray, t: IntArray) -> np.ndarray:
    """Registrations before t not yet closed or rejected before t; 0 where code < 0."""
    open_ = _probe(streams.registered, code, t).count() - _probe(streams.ended, code, t).count()
    return np.where(code >= 0, open_, 0.0)


def _where_known(code: IntArray, values: np.ndarray) -> np.ndarray:
    return np.where(code >= 0, values, np.nan)


def deal_columns(
    deals: pd.DataFrame,
    partner: IntArray,
    customers: CustomerHistory,
    partner_history: DealStreams,
    partner_avg_amount: np.ndarray,
    t: IntArray,
) -> pd.DataFrame:
    """The deal's own attributes (DEAL_FEATURES), from facts known before registered_at."""
    amount = deals["amount"].to_numpy(dtype=np.float64, na_value=np.nan)
    customer = customers.customer_codes(deals["customer_id"])
    pair = customers.pair_codes(partner, customer)
    won = sum(
        _probe(s.closed, customer, t).total("won") for s in (customers.direct, customers.channel)
    )
    conflict = _in_flight(customers.channel, customer, t) - _in_flight(customers.pair, pair, t)
    earlier_here = np.where(pair >= 0, _probe(customers.pair.registered, pair, t).count(), 0.0)
    return pd.DataFrame(
        {
            "amount": amount,
            "log_amount": np.log1p(amount),
            "product": deals["product"].astype("str").to_numpy(),
            "deal_kind": deals["deal_kind"].astype("str").to_numpy(),
            "customer_has_open_direct_deal": _in_flight(customers.direct, customer, t) > 0,
            "customer_is_existing": (customer >= 0) & (np.asarray(won) > 0),
            "customer_open_partner_deals": conflict,
            "partner_customer_deals": _where_known(partner, earlier_here),
            "partner_deals_in_flight": _where_known(
                partner, _in_flight(partner_history, partner, t)
            ),
            "amount_vs_partner_avg": _where_known(partner, ratio(amount, partner_avg_amount)),
        }
    )
