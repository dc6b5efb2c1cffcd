"""Deal-registration features: what the acceptance model sees when a registration arrives.

The one deal-feature builder, for training and serving alike:

- `build_deal_features(tables, deals)` (training): one row per registration (index aligned
  with `deals`): the deal's own attributes (`DEAL_FEATURES`) and the registering partner's
  registry features, all as of the deal's `registered_at` — strictly before it, so the deal
  itself, its decision and its outcome never leak in. Direct deals and unknown partners get
  missing partner features (False booleans).
- `deal_example(deal, partner)` (serving, `POST /v1/deal-registrations/score`): the same row
  for one registration whose attributes (`DEAL_INPUTS`) and partner features are given.
- `typical_deal(partner)` / `typical_deal_frame(frame)` (the `deal_acceptance` model output):
  the partner's typical next registration, a new deal at its 365-day average amount.

All of them derive `log_amount` and `amount_vs_partner_avg` with `derived_deal_features`
(scalar and vector views of one definition; a property test binds them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features import registry
from features.history import DealStreams, codes_of, index_deals, index_history
from features.registry import Feature
from features.snapshot import features_at
from features.tables import Tables
from features.windows import NAT, EventIndex, IntArray, Probe, query_order, to_ns

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
AVG = "avg_deal_value_365d"  # the partner feature amount_vs_partner_avg compares with
DERIVED_DEAL_FEATURES = ("log_amount", "amount_vs_partner_avg")
DEAL_INPUTS = [f for f in DEAL_FEATURES if f.name not in DERIVED_DEAL_FEATURES]
"""What a caller gives for a registration: its attributes known at registration time."""


def deal_feature_names() -> list[str]:
    return [f.name for f in DEAL_FEATURES]


# --- the derived attributes: one definition, scalar and vector views ------------------------


def derived_deal_features(amount: float | None, partner_avg: float | None) -> dict[str, Any]:
    """log(1 + amount), and amount / the partner's 365-day average (missing unless > 0).

    One deal, plain floats (the request path); None for a missing value.
    """
    if amount is None or amount != amount:
        return {"log_amount": None, "amount_vs_partner_avg": None}
    vs_avg = None
    if partner_avg is not None and partner_avg > 0:  # NaN > 0 is False
        vs_avg = amount / partner_avg
    # numpy's log1p, not math's: they differ in the last bit, and the vector view uses numpy's
    log_amount = float(np.log1p(amount)) if amount > -1 else None
    return {"log_amount": log_amount, "amount_vs_partner_avg": vs_avg}


def derived_deal_columns(amount: np.ndarray, partner_avg: np.ndarray) -> dict[str, np.ndarray]:
    """`derived_deal_features` for arrays of deals (NaN for a missing value)."""
    amount = np.asarray(amount, dtype=np.float64)
    avg = np.asarray(partner_avg, dtype=np.float64)
    log_amount = np.full(amount.shape, np.nan)
    np.log1p(amount, out=log_amount, where=amount > -1)
    vs_avg = np.full(amount.shape, np.nan)
    with np.errstate(over="ignore"):  # a huge amount over a tiny average is inf, as in Python
        np.divide(amount, avg, out=vs_avg, where=avg > 0)
    return {"log_amount": log_amount, "amount_vs_partner_avg": vs_avg}


def deal_example(deal: Mapping[str, Any], partner: Mapping[str, Any]) -> dict[str, Any]:
    """One registration's model row: partner features + its attributes + the derived ones."""
    derived = derived_deal_features(_number(deal.get("amount")), _number(partner.get(AVG)))
    return {**partner, **deal, **derived}


def _number(value: Any) -> float | None:
    """A known number, or None when missing (None or NaN)."""
    if value is None or value != value:
        return None
    return float(value)


# --- the partner's typical next registration (the deal_acceptance model output) -----------

TYPICAL_DEAL: dict[str, Any] = {
    "product": None,
    "deal_kind": "new",
    "customer_has_open_direct_deal": False,
    "customer_is_existing": False,
    "customer_open_partner_deals": 0.0,
    "partner_customer_deals": 0.0,
    "partner_deals_in_flight": math.nan,
}
"""A new deal on a new customer, no channel conflict; amount = the partner's average."""


def typical_deal(partner: Mapping[str, Any]) -> dict[str, Any]:
    """The deal attributes (DEAL_FEATURES) of the partner's typical next registration."""
    avg = _number(partner.get(AVG))
    return {"amount": avg, **TYPICAL_DEAL, **derived_deal_features(avg, avg)}


def typical_deal_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The feature frame with `typical_deal`'s attributes on every row (vectorized)."""
    avg = pd.to_numeric(frame[AVG]).to_numpy(dtype=np.float64, na_value=np.nan)
    n = len(frame)
    columns: dict[str, Any] = {"amount": avg}
    for name, value in TYPICAL_DEAL.items():
        columns[name] = np.full(n, value, dtype=_dtype(value))
    columns.update(derived_deal_columns(avg, avg))
    deal = pd.DataFrame(columns, index=frame.index)
    return pd.concat([frame.drop(columns=deal.columns, errors="ignore"), deal], axis=1)


def _dtype(value: Any) -> Any:
    return object if value is None or isinstance(value, str) else type(value)


# --- training: every registration of the history, point in time ------------------------------


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
    average = np.where(partner >= 0, frame[AVG].to_numpy(dtype=np.float64, na_value=np.nan), np.nan)
    own.update(derived_deal_columns(np.asarray(own["amount"]), average))
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
    """The deal's own attributes (DEAL_INPUTS), from facts known before registered_at."""
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
        "product": deals["product"].astype("str").reset_index(drop=True),
        "deal_kind": deals["deal_kind"].astype("str").reset_index(drop=True),
        "customer_has_open_direct_deal": by_customer.in_flight(customers.direct) > 0,
        "customer_is_existing": by_customer.known & (won > 0),
        "customer_open_partner_deals": by_customer.in_flight(customers.channel) - in_flight_here,
        "partner_customer_deals": by_partner.or_missing(earlier_here),
        "partner_deals_in_flight": by_partner.or_missing(by_partner.in_flight(partner_history)),
    }
