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
from features.history import DealStreams, codes_of, index_deals, index_history
from features.registry import Feature
from features.snapshot import features_at
from features.tables import Tables
from features.windows import NAT, EventIndex, IntArray, Probe, query_order, ratio, to_ns

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
    customers = index_customers(tables.deals, history.deals.entity)
    if deals is tables.deals:  # scoring the history itself: reuse its codes
        partner, customer = history.deals.entity, customers.deal_customer
    else:
        partner, customer = history.codes(deals["partner_id"]), customers.codes(deals)
    times = to_ns(deals["registered_at"])
    own = deal_columns(deals, partner, customer, customers, history.deals, times)
    del customers  # its indexes are done with: free them before the big frame is built
    frame = features_at(history, np.where(times == NAT, -1, partner), times, tables.present())
    average = frame["avg_deal_value_365d"].to_numpy()
    amount = deals["amount"].to_numpy(dtype=np.float64, na_value=np.nan)
    own["amount_vs_partner_avg"] = np.where(partner >= 0, ratio(amount, average), np.nan)
    frame.insert(0, "deal_id", deals["deal_id"].astype("str").reset_index(drop=True))
    for i, name in enumerate(deal_feature_names(), start=len(DEAL_KEY_COLUMNS)):
        frame.insert(i, name, own[name])
    frame.index = deals.index
    return frame


@dataclass(frozen=True)
class CustomerHistory:
    """The deal history indexed by customer, and by (partner, customer) pair."""

    customers: pd.Index  # customer ids in the history; code = position
    pairs: pd.Index  # partner code * len(customers) + customer code, for partner deals
    deal_customer: IntArray  # customer code of each history deal
    direct: DealStreams  # direct deals (no partner), by customer
    channel: DealStreams  # partner deals, by customer
    pair: DealStreams  # partner deals, by pair

    def codes(self, deals: pd.DataFrame) -> IntArray:
        """Customer code of each deal; -1 for customers without history."""
        return codes_of(deals["customer_id"], self.customers)

    def pair_codes(self, partner: IntArray, customer: IntArray) -> IntArray:
        known = (partner >= 0) & (customer >= 0)
        keys = np.where(known, partner * len(self.customers) + customer, -1)
        found = self.pairs.get_indexer(pd.Index(keys))
        return np.where(known, np.asarray(found, dtype=np.int64), -1)


def index_customers(deals: pd.DataFrame, partner: IntArray) -> CustomerHistory:
    """Index the deal history by customer and by (partner, customer)."""
    codes, uniques = pd.factorize(deals["customer_id"].astype("str"))
    customer = np.asarray(codes, dtype=np.int64)
    customers = pd.Index(uniques)
    known = (partner >= 0) & (customer >= 0)
    pair = np.full(len(deals), -1, dtype=np.int64)
    pair_codes, pair_keys = pd.factorize(partner[known] * len(customers) + customer[known])
    pair[known] = pair_codes
    n = len(customers)
    return CustomerHistory(
        customers=customers,
        pairs=pd.Index(pair_keys),
        deal_customer=customer,
        direct=index_deals(deals, np.where(deals["partner_id"].isna(), customer, -1), n),
        channel=index_deals(deals, np.where(deals["partner_id"].notna(), customer, -1), n),
        pair=index_deals(deals, pair, len(pair_keys)),
    )


class _Keyed:
    """Queries keyed by one code array (-1 = unknown), sorted once for every stream asked."""

    def __init__(self, code: IntArray, t: IntArray) -> None:
        self.known = code >= 0
        self.safe = np.where(self.known, code, 0)
        self.t = t
        self.order = query_order(self.safe, t)

    def probe(self, index: EventIndex) -> Probe:
        return index.probe(self.safe, self.t, self.order)

    def in_flight(self, streams: DealStreams) -> np.ndarray:
        """Registrations before t not yet closed or rejected before t; 0 when unknown."""
        open_ = self.probe(streams.registered).count() - self.probe(streams.ended).count()
        return np.where(self.known, open_, 0.0)

    def or_missing(self, values: np.ndarray) -> np.ndarray:
        return np.where(self.known, values, np.nan)


def deal_columns(
    deals: pd.DataFrame,
    partner: IntArray,
    customer: IntArray,
    customers: CustomerHistory,
    partner_history: DealStreams,
    t: IntArray,
) -> dict[str, np.ndarray | pd.Series]:
    """The deal's own attributes (DEAL_FEATURES but amount_vs_partner_avg, which needs the
    partner's features), from facts known before registered_at."""
    amount = deals["amount"].to_numpy(dtype=np.float64, na_value=np.nan)
    by_customer = _Keyed(customer, t)
    by_pair = _Keyed(customers.pair_codes(partner, customer), t)
    by_partner = _Keyed(partner, t)
    won = by_customer.probe(customers.direct.closed).total("won")
    won += by_customer.probe(customers.channel.closed).total("won")
    in_flight_here = by_pair.in_flight(customers.pair)
    earlier_here = np.where(by_pair.known, by_pair.probe(customers.pair.registered).count(), 0.0)
    return {
        "amount": amount,
        "log_amount": np.log1p(amount),
        "product": deals["product"].astype("str").reset_index(drop=True),
        "deal_kind": deals["deal_kind"].astype("str").reset_index(drop=True),
        "customer_has_open_direct_deal": by_customer.in_flight(customers.direct) > 0,
        "customer_is_existing": by_customer.known & (won > 0),
        "customer_open_partner_deals": by_customer.in_flight(customers.channel) - in_flight_here,
        "partner_customer_deals": by_partner.or_missing(earlier_here),
        "partner_deals_in_flight": by_partner.or_missing(by_partner.in_flight(partner_history)),
    }
