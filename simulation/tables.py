"""Turn the simulator's arrays into the five contract tables (features.schema)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.schema import (
    ATTRIBUTIONS,
    DEAL_KINDS,
    DEAL_OUTCOMES,
    DEAL_STATUSES,
    PARTNER_TYPES,
    RECRUITMENT_CHANNELS,
    REVENUE_TYPES,
)
from simulation.deals import PRODUCTS, Customers, Deals
from simulation.dynamics import KINDS, WEEK_NS
from simulation.partners import REGIONS, Profiles, manager_ids
from simulation.weeks import Events

TIME = "datetime64[ns, UTC]"


def id_width(minimum: int, largest: int) -> int:
    return max(minimum, len(str(largest)))


def ids(prefix: str, numbers: np.ndarray, width: int) -> pd.Series:
    """ "P000123"-style ids."""
    return prefix + pd.Series(numbers, dtype="int64").astype("str").str.zfill(width)


def times(ns: np.ndarray) -> pd.Series:
    """int64 ns (NAT = missing) as tz-aware UTC timestamps."""
    return pd.Series(np.asarray(ns, dtype=np.int64).view("M8[ns]")).dt.tz_localize("UTC")


def labels(values: tuple[str, ...] | pd.Series, idx: np.ndarray) -> pd.Series:
    """values[idx] as a str Series; idx -1 = missing (fast: one take on a str Index)."""
    taken = pd.Index(list(values) if isinstance(values, tuple) else values, dtype="str").take(
        idx, allow_fill=True, fill_value=None
    )
    return pd.Series(taken, dtype="str")


def partners_frame(
    prof: Profiles,
    partner_ids: pd.Series,
    *,
    onboarded_ns: np.ndarray,
    exited_ns: np.ndarray,
    parent_idx: np.ndarray | None = None,
) -> pd.DataFrame:
    managers = manager_ids(int(prof.manager_idx.max()) + 1)
    return pd.DataFrame(
        {
            "partner_id": partner_ids,
            "name": pd.Series(prof.names, dtype="str"),
            "partner_type": labels(PARTNER_TYPES, prof.type_idx),
            "region": labels(REGIONS, prof.region_idx),
            "manager_id": labels(tuple(managers), prof.manager_idx),
            "joined_at": times(prof.joined_ns),
            "onboarded_at": times(onboarded_ns),
            "exited_at": times(exited_ns),
            "company_size": prof.size.astype(np.int64),
            "market_share": prof.market_share.astype(np.float64),
            "verticals": pd.Series(prof.verticals, dtype="str"),
            "customer_count": prof.customer_count.astype(np.int64),
            "portfolio_fit": prof.fit.astype(np.float64),
            "recruited_via": labels(RECRUITMENT_CHANNELS, prof.channel_idx),
            "recruit_cost": np.round(prof.recruit_cost, 2).astype(np.float64),
            "parent_partner_id": labels(
                partner_ids, np.full(prof.n, -1) if parent_idx is None else parent_idx
            ),
        }
    )


def deals_frame(
    deals: Deals,
    partner_ids: pd.Series,
    customer_width: int,
    revenue: dict[str, np.ndarray] | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """The deals table ordered by registration (ids D0000001… in that order), and the order."""
    order = np.argsort(deals.registered, kind="stable")
    owner = deals.owner[order]
    pid = _partner_or_none(partner_ids, owner)
    frame = pd.DataFrame(
        {
            "deal_id": ids("D", np.arange(1, order.size + 1), id_width(7, order.size)),
            "partner_id": pid,
            "customer_id": ids("C", deals.customer[order], customer_width),
            "product": labels(PRODUCTS, deals.product[order]),
            "deal_kind": labels(DEAL_KINDS, deals.kind[order]),
            "amount": deals.amount[order].astype(np.float64),
            "registered_at": times(deals.registered[order]),
            "status": labels(DEAL_STATUSES, deals.status[order]),
            "decided_at": times(deals.decided[order]),
            "outcome": labels(DEAL_OUTCOMES, deals.outcome[order]),
            "closed_at": times(deals.closed[order]),
        }
    )
    if revenue is not None:  # `simulation.deals.revenue_columns`
        frame["revenue_type"] = labels(REVENUE_TYPES, revenue["revenue_type"][order])
        frame["arr"] = revenue["arr"][order].astype(np.float64)
        frame["attribution"] = labels(ATTRIBUTIONS, revenue["attribution"][order])
    return frame, order


def cert_passes(
    events: Events, when: np.ndarray, prof: Profiles, *, start_ns: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(partner, time) of every certification passed: in the window, within the hour after
    its attempt (same week); before the window, back-dated after the join."""
    attempt_at = when[events.pass_of]
    room = start_ns + (events.week[events.pass_of] + 1) * WEEK_NS - 1 - attempt_at
    pass_at = attempt_at + (rng.random(attempt_at.size) * np.minimum(room, 3_600 * 10**9)).astype(
        np.int64
    )
    early = np.repeat(np.arange(prof.n), events.initial_certs)
    span = np.maximum(start_ns - prof.joined_ns[early], 1)
    early_at = prof.joined_ns[early] + (rng.random(early.size) * span).astype(np.int64)
    partner = np.concatenate([events.partner[events.pass_of], early])
    return partner, np.concatenate([pass_at, early_at])


def activities_frame(
    events: Events,
    when: np.ndarray,
    passes: tuple[np.ndarray, np.ndarray],
    partner_ids: pd.Series,
) -> pd.DataFrame:
    """Every activity but deal registrations, and the certification passes (`cert_passes`)."""
    keep = events.kind != KINDS.index("deal")
    kinds = (*KINDS, "cert_pass")
    partner = np.concatenate([events.partner[keep], passes[0]])
    at = np.concatenate([when[keep], passes[1]])
    kind = np.concatenate([events.kind[keep], np.full(passes[0].size, len(KINDS))])
    order = np.argsort(at, kind="stable")
    return pd.DataFrame(
        {
            "partner_id": labels(partner_ids, partner[order]),
            "occurred_at": times(at[order]),
            "kind": labels(kinds, kind[order]),
        }
    )


def surveys_frame(
    events: Events, partner_ids: pd.Series, *, start_ns: int, rng: np.random.Generator
) -> pd.DataFrame:
    at = (
        start_ns
        + events.survey_week * WEEK_NS
        + (rng.random(events.survey_week.size) * WEEK_NS).astype(np.int64)
    )
    order = np.argsort(at, kind="stable")
    return pd.DataFrame(
        {
            "partner_id": labels(partner_ids, events.survey_partner[order]),
            "answered_at": times(at[order]),
            "score": events.survey_score[order].astype(np.float64),
        }
    )


def _partner_or_none(partner_ids: pd.Series, owner: np.ndarray) -> pd.Series:
    """Partner id of each owner; missing for direct (owner -1)."""
    return labels(partner_ids, np.where(owner < 0, -1, owner))


def customers_frame(customers: Customers, partner_ids: pd.Series, width: int) -> pd.DataFrame:
    """One row per customer (a prospect won twice — channel conflict — counts once, first)."""
    order = np.lexsort((customers.customer, customers.acquired))
    cust = customers.customer[order]
    _, first = np.unique(cust, return_index=True)
    rows = order[np.sort(first)]
    owner = customers.owner[rows]
    pid = _partner_or_none(partner_ids, owner)
    return pd.DataFrame(
        {
            "customer_id": ids("C", customers.customer[rows], width),
            "source": labels(("partner", "direct"), (owner < 0).astype(np.int64)),
            "partner_id": pid,
            "acquired_at": times(customers.acquired[rows]),
            "acquisition_cost": customers.cost[rows].astype(np.float64),
            "churned_at": times(customers.churned[rows]),
        }
    )
