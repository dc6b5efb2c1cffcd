"""Event features of partners at query times: deals, activities, surveys, customers.

Each family reads its streams from a `PartnerHistory` for arrays of (partner code, time)
pairs and returns columns named as in `features.registry`. A family whose table is absent
returns nothing (the frame fills NaN).
"""

from __future__ import annotations

import numpy as np

from features.history import CustomerStreams, DealStreams, PartnerHistory
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


def event_columns(history: PartnerHistory, codes: IntArray, times: IntArray) -> Columns:
    cols = deal_columns(history.deals, codes, times)
    if history.activities is not None:
        cols.update(activity_columns(history.activities, codes, times))
    if history.surveys is not None:
        cols.update(survey_columns(history.surveys, codes, times))
    if history.customers is not None:
        cols.update(customer_columns(history.customers, codes, times))
    return cols


def trend(probe: Probe, name: str | None = None) -> np.ndarray:
    """Last 90 days / the 90 before (count, or total of `name`); NaN if those were empty."""
    if name is None:
        return ratio(probe.count(TREND), probe.count(TREND, shift=TREND))
    return ratio(probe.total(name, TREND), probe.total(name, TREND, shift=TREND))


def deal_columns(deals: DealStreams, p: IntArray, t: IntArray) -> Columns:
    reg, dec, closed = (s.probe(p, t) for s in (deals.registered, deals.decided, deals.closed))
    cols: Columns = {}
    for w in WINDOWS:
        registered = reg.count(w)
        accepted = dec.total("accepted", w)
        won = closed.total("won", w)
        cols[f"deals_registered_{w}d"] = registered
        cols[f"deals_accepted_{w}d"] = accepted
        cols[f"deals_won_{w}d"] = won
        cols[f"revenue_won_{w}d"] = closed.total("revenue", w)
        cols[f"avg_deal_value_{w}d"] = ratio(reg.total("amount", w), registered)
        cols[f"acceptance_rate_{w}d"] = ratio(accepted, dec.count(w))
        cols[f"win_rate_{w}d"] = ratio(won, closed.count(w))
        cols[f"avg_sales_cycle_days_{w}d"] = ratio(closed.total("cycle_days", w), won)
        cols[f"expansion_share_{w}d"] = ratio(reg.total("expansion", w), registered)
    accepted_amount = deals.accepted.probe(p, t).total("amount")
    cols["open_pipeline"] = accepted_amount - deals.accepted_closed.probe(p, t).total("amount")
    cols["deals_won_total"] = closed.total("won")
    cols["days_since_last_deal"] = days_since(t, reg.last_time())
    cols["deals_registered_trend"] = trend(reg)
    cols["revenue_won_trend"] = trend(closed, "revenue")
    return cols


def activity_columns(activities: EventIndex, p: IntArray, t: IntArray) -> Columns:
    n_kinds = len(ACTIVITY_KINDS)
    probes = {kind: activities.probe(p * n_kinds + i, t) for i, kind in enumerate(ACTIVITY_KINDS)}
    cols: Columns = {}
    for stem, kind in ACTIVITY_FEATURES.items():
        for w in WINDOWS:
            cols[f"{stem}_{w}d"] = probes[kind].count(w)
    cols["certified_staff"] = probes["cert_pass"].count()
    last = np.full(len(p), NAT, dtype=np.int64)
    recent = np.zeros(len(p))
    before = np.zeros(len(p))
    for probe in probes.values():
        last = np.maximum(last, probe.last_time())
        recent += probe.count(TREND)
        before += probe.count(TREND, shift=TREND)
    cols["days_since_last_activity"] = days_since(t, last)
    cols["days_since_last_manager_contact"] = days_since(t, probes["manager_contact"].last_time())
    cols["activity_trend"] = ratio(recent, before)
    cols["leads_trend"] = trend(probes["lead_registered"])
    return cols


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
