"""Event features of partners at query times: deals, activities, surveys, customers.

Each family reads its streams from a `PartnerHistory` for arrays of (partner code, time)
pairs (sorted by partner, then time, for speed) and yields columns named as in
`features.registry`, a few at a time. A family whose table is absent yields nothing (the
frame fills NaN).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from features.certifications import certification_columns
from features.channel import channel_columns
from features.history import CustomerStreams, DealStreams, PartnerHistory
from features.periods import period_columns
from features.registry import WINDOWS
from features.schema import ACTIVITY_KINDS
from features.windows import NAT, EventIndex, IntArray, Probe, days_since, ratio

Columns = dict[str, np.ndarray]
TREND = 90  # days

# registry name stem -> activity kind
ACTIVITY_FEATURES = {
    "leads_registered": "lead_registered",
    "trainings_attended": "training",
    "events_attended": "event",
    "materials_downloaded": "material_download",
    "cert_attempts": "cert_attempt",
    "cert_passes": "cert_pass",
    "manager_contacts": "manager_contact",
    "business_reviews": "business_review",
}


def event_columns(
    history: PartnerHistory, codes: IntArray, times: IntArray, year_start: int = 1
) -> Iterator[Columns]:
    """The columns of each event family in turn (absent tables yield nothing)."""
    yield from deal_columns(history.deals, codes, times)
    yield period_columns(history.deals, codes, times, year_start)
    yield channel_columns(history.channel, codes, times)
    if history.activities is not None:
        yield from activity_columns(history.activities, codes, times)
    if history.surveys is not None:
        yield survey_columns(history.surveys, codes, times)
    if history.customers is not None:
        yield customer_columns(history.customers, codes, times)
    if history.certifications is not None:
        yield certification_columns(history.certifications, codes, times)


def trend(probe: Probe, name: str | None = None) -> np.ndarray:
    """Last 90 days / the 90 before (count, or total of `name`); NaN if those were empty."""
    if name is None:
        return ratio(probe.count(TREND), probe.count(TREND, shift=TREND))
    return ratio(probe.total(name, TREND), probe.total(name, TREND, shift=TREND))


def deal_columns(deals: DealStreams, p: IntArray, t: IntArray) -> Iterator[Columns]:
    """Deal features, one window at a time."""
    reg, dec, closed = (s.probe(p, t) for s in (deals.registered, deals.decided, deals.closed))
    for w in WINDOWS:
        registered = reg.count(w)
        accepted = dec.total("accepted", w)
        won = closed.total("won", w)
        yield {
            f"deals_registered_{w}d": registered,
            f"deals_accepted_{w}d": accepted,
            f"deals_won_{w}d": won,
            f"revenue_won_{w}d": closed.total("revenue", w),
            f"avg_deal_value_{w}d": ratio(reg.total("amount", w), registered),
            f"acceptance_rate_{w}d": ratio(accepted, dec.count(w)),
            f"win_rate_{w}d": ratio(won, closed.count(w)),
            f"avg_sales_cycle_days_{w}d": ratio(closed.total("cycle_days", w), won),
            f"expansion_share_{w}d": ratio(reg.total("expansion", w), registered),
        }
    accepted_amount = deals.accepted.probe(p, t).total("amount")
    yield {
        "open_pipeline": accepted_amount - deals.accepted_closed.probe(p, t).total("amount"),
        "deals_won_total": closed.total("won"),
        "days_since_last_deal": days_since(t, reg.last_time()),
        "deals_registered_trend": trend(reg),
        "revenue_won_trend": trend(closed, "revenue"),
    }


def activity_columns(activities: EventIndex, p: IntArray, t: IntArray) -> Iterator[Columns]:
    """Activity features, one kind at a time (each kind's probe is dropped before the next)."""
    stems = {kind: stem for stem, kind in ACTIVITY_FEATURES.items()}
    last = np.full(len(p), NAT, dtype=np.int64)
    recent, before = np.zeros(len(p)), np.zeros(len(p))
    for i, kind in enumerate(ACTIVITY_KINDS):
        probe = activities.probe(p * len(ACTIVITY_KINDS) + i, t)
        cols: Columns = {f"{stems[kind]}_{w}d": probe.count(w) for w in WINDOWS}
        if kind == "cert_pass":
            cols["certified_staff"] = probe.count()
        if kind == "manager_contact":
            cols["days_since_last_manager_contact"] = days_since(t, probe.last_time())
        if kind == "lead_registered":
            cols["leads_trend"] = trend(probe)
        last = np.maximum(last, probe.last_time())
        recent += probe.count(TREND)
        before += probe.count(TREND, shift=TREND)
        yield cols
    yield {"days_since_last_activity": days_since(t, last), "activity_trend": ratio(recent, before)}


def survey_columns(surveys: EventIndex, p: IntArray, t: IntArray) -> Columns:
    probe = surveys.probe(p, t)
    answered = probe.count(365)
    return {
        "satisfaction_latest": probe.last_value("score"),
        "satisfaction_avg_365d": ratio(probe.total("score", 365), answered),
        "surveys_answered_365d": answered,
    }


def customer_columns(customers: CustomerStreams, p: IntArray, t: IntArray) -> Columns:
    acquired = customers.acquired.probe(p, t)
    sourced = acquired.count()
    churned = customers.churned.probe(p, t).count()
    return {
        "customers_sourced": sourced,
        "customers_sourced_365d": acquired.count(365),
        "customer_retention": ratio(sourced - churned, sourced),
    }
