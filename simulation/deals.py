"""Simulated deal registrations (partner and direct), their decisions, outcomes and customers.

Acceptance is drawn from a true probability that depends on the deal (amount, product, kind,
conflict with an open direct deal on the same customer) and on the partner (certifications,
latent quality — which shows in its acceptance history — and engagement that week).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import cast

import numpy as np

from features.schema import DEAL_KINDS
from simulation.dynamics import DAY_NS, DEAL, WEEK_NS, sigmoid
from simulation.partners import REFERRAL, Profiles
from simulation.weeks import History

PRODUCTS = ("core", "analytics", "security", "integrations", "enterprise_suite")
PRODUCT_AMOUNT = np.array([1.0, 0.8, 1.2, 0.6, 3.0])
PRODUCT_ACCEPT = np.array([0.3, 0.1, 0.0, 0.2, -0.6])
# rows: VAR, MSP, SI, referral, reseller, distributor, direct
PRODUCT_MIX = np.array(
    [
        [0.35, 0.20, 0.20, 0.15, 0.10],
        [0.30, 0.15, 0.35, 0.15, 0.05],
        [0.15, 0.20, 0.15, 0.25, 0.25],
        [0.60, 0.20, 0.10, 0.10, 0.00],
        [0.50, 0.20, 0.20, 0.10, 0.00],
        [0.30, 0.20, 0.20, 0.10, 0.20],
        [0.30, 0.20, 0.20, 0.10, 0.20],
    ]
)
NEW = DEAL_KINDS.index("new")
KIND_MIX = np.array([[0.55, 0.15, 0.15, 0.15], [0.90, 0.05, 0.05, 0.0], [0.60, 0.15, 0.10, 0.15]])
KIND_AMOUNT = np.array([1.0, 0.6, 0.5, 0.8])
KIND_ACCEPT = np.array([0.0, 0.3, 0.4, 0.9])
KIND_WIN = np.array([0.0, 0.3, 0.6, 1.5])
KIND_CYCLE = np.array([1.0, 0.8, 0.7, 0.5])
TYPE_AMOUNT = np.array([1.0, 0.8, 1.6, 0.5, 0.7, 1.8])
TYPE_ACCEPT = np.array([0.0, 0.0, 0.1, -0.4, -0.1, 0.2, 0.0])  # + direct
MEDIAN_AMOUNT = 18_000.0
DIRECT = 6  # row of the direct channel in PRODUCT_MIX
DIRECT_RATE = 0.04  # direct deals per week, per partner in the program
CONFLICT_TRY = 0.10  # share of partner new deals aimed at a prospect direct sales also chases
# Accepted registrations the partner never works (among those it does not win; more when it
# is disengaged): no outcome until the vendor's clean-up closes them lost, UNWORKED_CLEANUP
# days after the decision. Drawn from a stream of their own, so the rest of the program (and
# every other test's data) stays as it was.
UNWORKED_LOGIT, UNWORKED_ENGAGEMENT = -1.5, -0.8
UNWORKED_CLEANUP = (150.0, 240.0)
STATUS_SUBMITTED, STATUS_ACCEPTED, STATUS_REJECTED = 0, 1, 2
OUTCOME_OPEN, OUTCOME_WON, OUTCOME_LOST = 0, 1, 2
NAT = np.iinfo(np.int64).min


@dataclass
class Deals:
    """Deal rows as arrays; owner = partner index, -1 = direct."""

    owner: np.ndarray
    registered: np.ndarray
    kind: np.ndarray
    product: np.ndarray
    amount: np.ndarray
    engagement: np.ndarray  # partner engagement the week it registered (0 for direct)
    certs: np.ndarray
    quality: np.ndarray
    type_idx: np.ndarray  # DIRECT for direct deals
    customer: np.ndarray
    conflict: np.ndarray
    p_accept: np.ndarray
    status: np.ndarray
    decided: np.ndarray
    outcome: np.ndarray
    closed: np.ndarray

    @classmethod
    def concat(cls, parts: list[Deals]) -> Deals:
        return cls(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)}
        )


@dataclass
class Customers:
    """Customers as arrays; owner = partner index, -1 = direct."""

    customer: np.ndarray
    owner: np.ndarray
    acquired: np.ndarray
    cost: np.ndarray
    churned: np.ndarray

    def add(self, other: Customers) -> Customers:
        return Customers(
            **{
                f.name: np.concatenate([getattr(self, f.name), getattr(other, f.name)])
                for f in fields(self)
            }
        )


@dataclass(frozen=True)
class Context:
    profiles: Profiles
    history: History
    start_ns: int
    end_ns: int
    weeks: int
    rng: np.random.Generator


class IdCounter:
    def __init__(self) -> None:
        self.next = 1

    def take(self, k: int) -> np.ndarray:
        out = np.arange(self.next, self.next + k, dtype=np.int64)
        self.next += k
        return out


def simulate_deals(
    ctx: Context, partner_idx: np.ndarray, registered: np.ndarray
) -> tuple[Deals, Customers]:
    """Direct deals first (partner deals may conflict with them), then partner deals."""
    ids = IdCounter()
    pool = _pre_window_customers(ctx, ids)
    direct = _draw_direct(ctx)
    pool = _settle(ctx, direct, pool, ids)
    partner = _draw_partner(ctx, partner_idx, registered)
    _link_conflicts(ctx, partner, direct)
    pool = _settle(ctx, partner, pool, ids)
    return Deals.concat([partner, direct]), pool


def acceptance_probability(d: Deals, rows: np.ndarray) -> np.ndarray:
    """The true P(accepted) of partner deal registrations `rows`."""
    logit = (
        0.2
        + 0.55 * (d.certs[rows] > 0)
        + 0.25 * np.log1p(d.certs[rows])
        + 0.6 * d.quality[rows]
        + 0.4 * d.engagement[rows]
        - 0.35 * np.log(d.amount[rows] / MEDIAN_AMOUNT)
        + PRODUCT_ACCEPT[d.product[rows]]
        + KIND_ACCEPT[d.kind[rows]]
        + TYPE_ACCEPT[d.type_idx[rows]]
        - 2.2 * d.conflict[rows]
    )
    return sigmoid(logit)


def win_probability(d: Deals, rows: np.ndarray) -> np.ndarray:
    logit = (
        -1.3
        + 0.4 * d.quality[rows]
        + 0.3 * d.engagement[rows]
        + KIND_WIN[d.kind[rows]]
        - 0.2 * np.log(d.amount[rows] / MEDIAN_AMOUNT)
        - 0.8 * d.conflict[rows]
    )
    return sigmoid(logit)


def unworked_probability(d: Deals, rows: np.ndarray) -> np.ndarray:
    """The true P(an accepted registration the partner does not win is never worked):
    disengaged partners sit on more."""
    return sigmoid(UNWORKED_LOGIT + UNWORKED_ENGAGEMENT * d.engagement[rows])


def _categorical(probs: np.ndarray, group: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    cum = probs.cumsum(axis=1)[group]
    u = rng.random(group.size)
    return np.minimum((u[:, None] > cum).sum(axis=1), probs.shape[1] - 1)


def _new_deals(
    ctx: Context,
    owner: np.ndarray,
    registered: np.ndarray,
    type_idx: np.ndarray,
    size_factor: np.ndarray,
    kind_row: np.ndarray,
) -> Deals:
    rng = ctx.rng
    n = owner.size
    kind = _categorical(KIND_MIX, kind_row, rng)
    product = _categorical(PRODUCT_MIX, type_idx, rng)
    base = np.where(
        type_idx == DIRECT, 25_000.0, MEDIAN_AMOUNT * TYPE_AMOUNT[np.minimum(type_idx, 5)]
    )
    amount = (
        np.round(
            base
            * size_factor
            * PRODUCT_AMOUNT[product]
            * KIND_AMOUNT[kind]
            * rng.lognormal(0.0, 0.7, n),
            -1,
        )
        + 10.0
    )
    zeros = np.zeros(n)
    return Deals(
        owner=owner,
        registered=registered,
        kind=kind,
        product=product,
        amount=amount,
        engagement=zeros,
        certs=np.zeros(n, dtype=np.int64),
        quality=zeros.copy(),
        type_idx=type_idx,
        customer=np.zeros(n, dtype=np.int64),
        conflict=np.zeros(n, bool),
        p_accept=np.ones(n),
        status=np.full(n, STATUS_ACCEPTED),
        decided=registered.copy(),
        outcome=np.full(n, OUTCOME_OPEN),
        closed=np.full(n, NAT),
    )


def _draw_direct(ctx: Context) -> Deals:
    counts = ctx.rng.poisson(DIRECT_RATE * ctx.profiles.n, ctx.weeks)
    week = np.repeat(np.arange(ctx.weeks), counts)
    registered = (
        ctx.start_ns + week * WEEK_NS + (ctx.rng.random(week.size) * WEEK_NS).astype(np.int64)
    )
    n = week.size
    return _new_deals(
        ctx, np.full(n, -1), registered, np.full(n, DIRECT), np.ones(n), np.full(n, 2)
    )


def _draw_partner(ctx: Context, partner_idx: np.ndarray, registered: np.ndarray) -> Deals:
    prof, hist = ctx.profiles, ctx.history
    type_idx = prof.type_idx[partner_idx]
    size_factor = np.clip(prof.size[partner_idx] / 40.0, 0.05, 100.0) ** 0.2
    deals = _new_deals(
        ctx, partner_idx, registered, type_idx, size_factor, (type_idx == REFERRAL).astype(np.int64)
    )
    week = (registered - ctx.start_ns) // WEEK_NS
    deals.engagement = hist.engagement[week, partner_idx].astype(np.float64)
    deals.certs = hist.certs[week, partner_idx].astype(np.int64)
    deals.quality = prof.latent.quality[partner_idx]
    return deals


def _link_conflicts(ctx: Context, partner: Deals, direct: Deals) -> None:
    """Some partner new deals target a prospect of a recent direct deal; open ones conflict."""
    order = np.argsort(direct.registered, kind="stable")
    reg, closed, cust = direct.registered[order], direct.closed[order], direct.customer[order]
    t = partner.registered
    lo = np.searchsorted(reg, t - 90 * DAY_NS)
    hi = np.searchsorted(reg, t)
    tries = (partner.kind == NEW) & (hi > lo) & (ctx.rng.random(t.size) < CONFLICT_TRY)
    j = lo + np.floor(ctx.rng.random(t.size) * (hi - lo)).astype(np.int64)
    j = np.minimum(j, max(reg.size - 1, 0))
    if reg.size == 0:
        return
    still_open = (closed[j] == NAT) | (closed[j] > t)
    partner.conflict = tries & still_open
    partner.customer = np.where(partner.conflict, cust[j], partner.customer)


def _settle(ctx: Context, d: Deals, pool: Customers, ids: IdCounter) -> Customers:
    """New deals first (their wins become customers), then expansions on existing customers."""
    new = np.nonzero((d.kind == NEW) & ~d.conflict)[0]
    d.customer[new] = ids.take(new.size)
    first = np.nonzero(d.kind == NEW)[0]
    _resolve(ctx, d, first)
    pool = pool.add(_acquired(ctx, d, first))
    expand = np.nonzero(d.kind != NEW)[0]
    j, ok = _pick_customer(pool, d.owner[expand], d.registered[expand], ctx.rng)
    d.customer[expand[ok]] = pool.customer[j[ok]]
    flipped = expand[~ok]
    d.kind[flipped] = NEW
    d.customer[flipped] = ids.take(flipped.size)
    _resolve(ctx, d, expand)
    return pool.add(_acquired(ctx, d, flipped))


def _resolve(ctx: Context, d: Deals, rows: np.ndarray) -> None:
    """Decide (partner deals) and close the deals `rows`; anything after `end` stays pending."""
    rng, end = ctx.rng, ctx.end_ns
    n = rows.size
    partner = d.owner[rows] >= 0
    d.p_accept[rows] = np.where(partner, acceptance_probability(d, rows), 1.0)
    delay = np.where(partner, rng.lognormal(np.log(3.0), 0.7, n) * DAY_NS, 0).astype(np.int64)
    decided = d.registered[rows] + delay
    accepted = rng.random(n) < d.p_accept[rows]
    pending = decided >= end
    d.status[rows] = np.where(
        pending, STATUS_SUBMITTED, np.where(accepted, STATUS_ACCEPTED, STATUS_REJECTED)
    )
    d.decided[rows] = np.where(pending, NAT, decided)
    cycle_days = (
        45.0
        * (d.amount[rows] / MEDIAN_AMOUNT) ** 0.25
        * KIND_CYCLE[d.kind[rows]]
        * rng.lognormal(0.0, 0.5, n)
    )
    closed = decided + (cycle_days * DAY_NS).astype(np.int64)
    won = rng.random(n) < win_probability(d, rows)
    seeds = cast(np.random.SeedSequence, rng.bit_generator.seed_seq)
    side = np.random.default_rng(seeds.spawn(1)[0])
    stale = partner & accepted & ~won & (side.random(n) < unworked_probability(d, rows))
    cleanup = side.uniform(*UNWORKED_CLEANUP, n) * DAY_NS
    closed = np.where(stale, decided + cleanup.astype(np.int64), closed)
    open_ = pending | (accepted & (closed >= end))
    outcome = np.where(accepted, np.where(won, OUTCOME_WON, OUTCOME_LOST), OUTCOME_LOST)
    d.outcome[rows] = np.where(open_, OUTCOME_OPEN, outcome)
    d.closed[rows] = np.where(open_, NAT, np.where(accepted, closed, decided))


def _acquired(ctx: Context, d: Deals, rows: np.ndarray) -> Customers:
    """Customers won by the new deals `rows`."""
    won = rows[d.outcome[rows] == OUTCOME_WON]
    owner = d.owner[won]
    direct = owner < 0
    share = np.where(
        direct, ctx.rng.uniform(0.25, 0.45, won.size), ctx.rng.uniform(0.10, 0.20, won.size)
    )
    cost = np.round(d.amount[won] * share + np.where(direct, 1500.0, 250.0), 2)
    churned = _churn_times(ctx, owner, d.closed[won])
    return Customers(
        customer=d.customer[won], owner=owner, acquired=d.closed[won], cost=cost, churned=churned
    )


MAX_CHURN_YEARS = 100.0


def _churn_times(ctx: Context, owner: np.ndarray, acquired: np.ndarray) -> np.ndarray:
    """Customer churn: direct customers churn faster; better partners keep theirs longer."""
    quality = np.where(owner >= 0, ctx.profiles.latent.quality[np.maximum(owner, 0)], 0.0)
    annual = np.where(owner >= 0, 0.12 * np.exp(-0.3 * quality), 0.18)
    # capped: a rare long draw (about one customer in a million) would overflow int64 ns and
    # wrap round to a churn centuries before the acquisition; past the end it is NAT anyway
    years = np.minimum(ctx.rng.exponential(1.0, owner.size) / annual, MAX_CHURN_YEARS)
    churned = acquired + (years * 365 * DAY_NS).astype(np.int64)
    return np.where(churned < ctx.end_ns, churned, NAT)


def _pick_customer(
    pool: Customers, owner: np.ndarray, at: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A random customer of the same owner acquired before `at` and not churned by then."""
    origin = min(int(pool.acquired.min(initial=0)), int(at.min(initial=0))) - DAY_NS
    span = 1 << 34  # seconds: keys (owner + 1) * span + seconds since origin stay in int64
    key = (pool.owner + 1) * span + (pool.acquired - origin) // 1_000_000_000
    order = np.argsort(key, kind="stable")
    key = key[order]
    lo = np.searchsorted(key, (owner + 1) * span)
    hi = np.searchsorted(key, (owner + 1) * span + (at - origin) // 1_000_000_000)
    j = (
        order[
            np.minimum(
                lo + np.floor(rng.random(owner.size) * (hi - lo)).astype(np.int64),
                max(key.size - 1, 0),
            )
        ]
        if key.size
        else np.zeros(owner.size, np.int64)
    )
    ok = hi > lo
    if key.size:
        churned = pool.churned[j]
        ok &= (churned == NAT) | (churned > at)
    return j, ok


def _pre_window_customers(ctx: Context, ids: IdCounter) -> Customers:
    """Customers won before the window: partner-sourced (by tenure) and direct."""
    prof, rng, start = ctx.profiles, ctx.rng, ctx.start_ns
    tenure = np.maximum(start - prof.joined_ns, 0)
    rate = prof.latent.rates[:, DEAL] * 52 * 0.6 * 0.7 * 0.35  # new deals x accepted x won
    per_partner = rng.poisson(rate * tenure / (365 * DAY_NS))
    owner = np.repeat(np.arange(prof.n), per_partner)
    acquired = prof.joined_ns[owner] + (rng.random(owner.size) * tenure[owner]).astype(np.int64)
    n_direct = rng.poisson(DIRECT_RATE * prof.n * 52 * 2 * 0.6 * 0.3)
    owner = np.concatenate([owner, np.full(n_direct, -1)])
    acquired = np.concatenate(
        [acquired, start - (rng.random(n_direct) * 2 * 365 * DAY_NS).astype(np.int64) - DAY_NS]
    )
    amount = MEDIAN_AMOUNT * rng.lognormal(0.0, 0.7, owner.size)
    share = np.where(
        owner < 0, rng.uniform(0.25, 0.45, owner.size), rng.uniform(0.10, 0.20, owner.size)
    )
    cost = np.round(amount * share + np.where(owner < 0, 1500.0, 250.0), 2)
    return Customers(
        customer=ids.take(owner.size),
        owner=owner,
        acquired=acquired,
        cost=cost,
        churned=_churn_times(ctx, owner, acquired),
    )


# Revenue model per owner type (VAR, MSP, SI, referral, reseller, distributor, direct): the
# chance a deal is a subscription, and that the partner influenced rather than sourced it.
TYPE_RECURRING = np.array([0.35, 0.85, 0.30, 0.45, 0.30, 0.40, 0.50])
TYPE_INFLUENCED = np.array([0.10, 0.10, 0.60, 0.15, 0.10, 0.05, 0.0])
RENEWAL = DEAL_KINDS.index("renewal")


def revenue_columns(d: Deals, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """revenue_type (0 one_time, 1 recurring), arr and attribution (0 sourced, 1 influenced,
    -1 none: a direct deal) of each deal, in `d`'s row order. Renewals are always recurring;
    a subscription's ARR is its amount less one-off services (0-20%)."""
    n = d.owner.size
    recurring = (rng.random(n) < TYPE_RECURRING[d.type_idx]) | (d.kind == RENEWAL)
    arr = np.where(recurring, np.round(d.amount * rng.uniform(0.8, 1.0, n), -1), 0.0)
    influenced = rng.random(n) < TYPE_INFLUENCED[d.type_idx]
    attribution = np.where(d.owner < 0, -1, influenced.astype(np.int64))
    return {"revenue_type": recurring.astype(np.int64), "arr": arr, "attribution": attribution}
