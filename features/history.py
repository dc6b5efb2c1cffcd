"""A program's event tables indexed once by (partner, time), ready for point-in-time queries.

Every fact enters a stream at the time it became known: a registration at `registered_at`,
its decision at `decided_at`, its close at `closed_at`, a customer's churn at `churned_at`.
`index_history` builds all streams with one sort each; the snapshot and deal-feature
builders then ask them about any (partner, as_of) pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.certifications import CertificationStreams, index_certifications
from features.channel import ChannelStreams, column, index_channel
from features.schema import ACTIVITY_KINDS
from features.tables import Tables
from features.windows import DAY_NS, NAT, EventIndex, IntArray, to_ns
from tierwise.errors import DataValidationError, Problem

EXPANSION_KINDS = ("cross_sell", "upsell")

# the columns each table must carry for the feature builders
NEEDED_COLUMNS = {
    "partners": (
        "partner_id",
        "partner_type",
        "region",
        "manager_id",
        "joined_at",
        "onboarded_at",
        "exited_at",
        "company_size",
        "market_share",
        "verticals",
        "customer_count",
        "portfolio_fit",
        "recruited_via",
    ),
    "deals": (
        "deal_id",
        "partner_id",
        "customer_id",
        "product",
        "deal_kind",
        "amount",
        "registered_at",
        "status",
        "decided_at",
        "outcome",
        "closed_at",
    ),
    "activities": ("partner_id", "occurred_at", "kind"),
    "surveys": ("partner_id", "answered_at", "score"),
    "customers": ("customer_id", "source", "partner_id", "acquired_at", "churned_at"),
    "certifications": (
        "person_id",
        "partner_id",
        "certification",
        "specialisation",
        "passed_at",
        "expires_at",
    ),
}


class DealStreams:
    """The streams of one deals table keyed by an entity code; each is sorted on first use.

    registered   at registered_at; values amount, expansion
    decided      accepted or rejected, at decided_at; value accepted
    closed       won or lost, at closed_at; values won, revenue, cycle_days
    accepted     accepted, at decided_at; value amount
    accepted_closed  accepted and closed, once both are known; value amount
    ended        closed or rejected, whichever is known first
    """

    def __init__(self, deals: pd.DataFrame, entity: IntArray, n_entities: int) -> None:
        self.entity = entity
        self.n_entities = n_entities
        self.registered_at = to_ns(deals["registered_at"])
        self.amount = deals["amount"].to_numpy(dtype=np.float64, na_value=np.nan)
        self.is_accepted = is_in(deals["status"], ["accepted"])
        self.is_rejected = is_in(deals["status"], ["rejected"])
        self.is_won = is_in(deals["outcome"], ["won"])
        decided = self.is_accepted | self.is_rejected
        closed = self.is_won | is_in(deals["outcome"], ["lost"])
        self.decided_at = np.where(decided, to_ns(deals["decided_at"]), NAT)
        self.closed_at = np.where(closed, to_ns(deals["closed_at"]), NAT)
        self.is_expansion = is_in(deals["deal_kind"], EXPANSION_KINDS)

    def _build(self, times: IntArray, **values: np.ndarray) -> EventIndex:
        return EventIndex.build(self.entity, times, self.n_entities, values)

    @cached_property
    def registered(self) -> EventIndex:
        return self._build(self.registered_at, amount=self.amount, expansion=self.is_expansion)

    @cached_property
    def decided(self) -> EventIndex:
        return self._build(self.decided_at, accepted=self.is_accepted)

    @cached_property
    def closed(self) -> EventIndex:
        won, closed_at, registered_at = self.is_won, self.closed_at, self.registered_at
        known = won & (closed_at != NAT) & (registered_at != NAT)
        cycle = np.where(known, closed_at - np.where(known, registered_at, closed_at), 0) / DAY_NS
        revenue = np.where(won, self.amount, 0.0)
        return self._build(closed_at, won=won, revenue=revenue, cycle_days=cycle)

    @cached_property
    def accepted(self) -> EventIndex:
        return self._build(np.where(self.is_accepted, self.decided_at, NAT), amount=self.amount)

    @cached_property
    def accepted_closed(self) -> EventIndex:
        both = self.is_accepted & (self.decided_at != NAT) & (self.closed_at != NAT)
        known_at = np.where(both, np.maximum(self.decided_at, self.closed_at), NAT)
        return self._build(known_at, amount=self.amount)

    @cached_property
    def ended(self) -> EventIndex:
        rejected_at = np.where(self.is_rejected, self.decided_at, NAT)
        ended_at = _earliest(self.closed_at, rejected_at)
        known = ended_at != NAT
        return self._build(np.where(known, np.maximum(ended_at, self.registered_at), NAT))


@dataclass(frozen=True)
class CustomerStreams:
    acquired: EventIndex  # partner-sourced customers, at acquired_at
    churned: EventIndex  # the same customers, at churned_at


@dataclass(frozen=True)
class PartnerHistory:
    """The partners table plus every event stream, keyed by partner code (row in `partners`)."""

    partners: pd.DataFrame
    ids: pd.Index
    joined: IntArray
    deals: DealStreams
    activities: EventIndex | None  # entity = partner code * len(ACTIVITY_KINDS) + kind
    surveys: EventIndex | None
    customers: CustomerStreams | None
    signs: EventIndex  # every sign of life: registrations + partner activities
    channel: ChannelStreams  # revenue mix (ARR, attribution) and sub-resellers
    certifications: CertificationStreams | None

    def codes(self, partner_ids: pd.Series) -> IntArray:
        """Partner code of each id; -1 for null or unknown ids."""
        return partner_codes(self.ids, partner_ids)


def check_columns(tables: Tables) -> None:
    """Raise `DataValidationError` naming every missing column of a present table."""
    problems = [
        Problem("required column is missing", table=name, column=column)
        for name, frame in tables.items()
        for column in NEEDED_COLUMNS.get(name, ())
        if column not in frame.columns
    ]
    if problems:
        raise DataValidationError("tables lack columns the feature builder needs", problems)


def index_history(tables: Tables) -> PartnerHistory:
    """Sort every event table once; the result answers any point-in-time question."""
    check_columns(tables)
    partners = tables.partners.reset_index(drop=True)
    ids = pd.Index(partners["partner_id"].astype("str"))
    if not ids.is_unique:
        dupes = ids[ids.duplicated()].unique().tolist()
        problems = [
            Problem("duplicate partner_id", table="partners", column="partner_id", value=d)
            for d in dupes[:20]
        ]
        raise DataValidationError("partner ids are not unique", problems)
    n = len(ids)
    deal_codes = partner_codes(ids, tables.deals["partner_id"])
    deals = index_deals(tables.deals, deal_codes, n)
    won_at = np.where(deals.is_won, deals.closed_at, NAT)
    parents = partner_codes(ids, column(partners, "parent_partner_id"))
    certs = tables.certifications
    return PartnerHistory(
        partners=partners,
        ids=ids,
        joined=to_ns(partners["joined_at"]),
        deals=deals,
        activities=_index_activities(tables.activities, ids),
        surveys=_index_surveys(tables.surveys, ids),
        customers=_index_customers(tables.customers, ids),
        signs=_index_signs(tables, ids, deal_codes),
        channel=index_channel(partners, tables.deals, deal_codes, parents, won_at),
        certifications=None
        if certs is None
        else index_certifications(certs, partner_codes(ids, certs["partner_id"]), n),
    )


def partner_codes(ids: pd.Index, partner_ids: pd.Series) -> IntArray:
    """Position of each id in `ids`; -1 for null or unknown ids."""
    return codes_of(partner_ids, ids)


def codes_of(values: pd.Series, vocabulary: pd.Index | Sequence[str]) -> IntArray:
    """Position of each value in `vocabulary` (Arrow hash lookup); -1 for null or unknown."""
    column = pa.array(values.astype("str"))
    known = pa.array(pd.Index(vocabulary).astype("str")).cast(column.type)
    found = pc.index_in(column, value_set=known).fill_null(-1)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)


def is_in(values: pd.Series, allowed: Sequence[str]) -> np.ndarray:
    """Boolean mask of values among `allowed` (nulls are not)."""
    return values.astype("str").isin(allowed).to_numpy(dtype=bool, na_value=False)


def index_deals(deals: pd.DataFrame, entity: IntArray, n_entities: int) -> DealStreams:
    """The deal streams of `deals`, keyed by `entity` (partner code, or any other code)."""
    return DealStreams(deals, entity, n_entities)


def _earliest(a: IntArray, b: IntArray) -> IntArray:
    """Element-wise earliest of two time arrays, ignoring NAT."""
    big = np.iinfo(np.int64).max
    out = np.minimum(np.where(a == NAT, big, a), np.where(b == NAT, big, b))
    return np.where(out == big, NAT, out)


def _index_activities(frame: pd.DataFrame | None, ids: pd.Index) -> EventIndex | None:
    if frame is None:
        return None
    kinds = codes_of(frame["kind"], ACTIVITY_KINDS)
    partner = partner_codes(ids, frame["partner_id"])
    entity = np.where((kinds >= 0) & (partner >= 0), partner * len(ACTIVITY_KINDS) + kinds, -1)
    n = len(ids) * len(ACTIVITY_KINDS)
    return EventIndex.build(entity, to_ns(frame["occurred_at"]), n)


def _index_signs(tables: Tables, ids: pd.Index, deal_codes: IntArray) -> EventIndex:
    from features.lifecycle import NOT_SIGN_OF_LIFE, signs_of_life_index

    acts = tables.activities
    act_codes = act_times = None
    if acts is not None:
        own = ~is_in(acts["kind"], NOT_SIGN_OF_LIFE)
        act_codes = np.where(own, partner_codes(ids, acts["partner_id"]), -1)
        act_times = to_ns(acts["occurred_at"])
    return signs_of_life_index(
        deal_codes, to_ns(tables.deals["registered_at"]), act_codes, act_times, len(ids)
    )


def _index_surveys(frame: pd.DataFrame | None, ids: pd.Index) -> EventIndex | None:
    if frame is None:
        return None
    score = frame["score"].to_numpy(dtype=np.float64, na_value=np.nan)
    entity = np.where(np.isnan(score), -1, partner_codes(ids, frame["partner_id"]))
    answered = to_ns(frame["answered_at"])
    return EventIndex.build(entity, answered, len(ids), {"score": score}, keep=("score",))


def _index_customers(frame: pd.DataFrame | None, ids: pd.Index) -> CustomerStreams | None:
    if frame is None:
        return None
    sourced = is_in(frame["source"], ["partner"])
    entity = np.where(sourced, partner_codes(ids, frame["partner_id"]), -1)
    acquired = to_ns(frame["acquired_at"])
    churned = to_ns(frame["churned_at"])
    churn_known = np.where((churned != NAT) & (acquired != NAT), np.maximum(churned, acquired), NAT)
    n = len(ids)
    return CustomerStreams(
        acquired=EventIndex.build(entity, acquired, n),
        churned=EventIndex.build(entity, churn_known, n),
    )
