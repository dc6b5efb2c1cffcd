"""The partner-program simulator: realistic synthetic tables that also know the true odds.

    >>> sim = simulate(partners=300, years=2, seed=7, end=datetime(2026, 11, 23, tzinfo=UTC))
    >>> sim.tables.partners.head(2)  # doctest: +SKIP
      partner_id                 name partner_type region manager_id  joined_at  ...
    0    P000001  Harbor Cloud GmbH          VAR   AMER       M003  2022-12-…   ...
    >>> sim.truth.deal_acceptance.head(2)  # doctest: +SKIP
    deal_id
    D0000001    0.71
    >>> sim.truth.churn_probability(datetime(2026, 6, 1, tzinfo=UTC), 90)  # doctest: +SKIP

How it works, week by week over the window (`simulation.dynamics`): partners of six
types join (some before the window starts) and onboard after a delay; each has a latent
engagement that drifts with shocks and is lifted by manager contact, training, reviews,
certifications and milestone rewards; engagement drives deal registrations, activities of
every kind, certifications and survey answers; low engagement and satisfaction raise a
weekly churn hazard. Churned partners go quiet; some also exit formally. Deals (partner and
direct), their acceptance and outcomes, and customers follow (`simulation.deals`).
The ground truth (`simulation.truth`) stays out of the tables.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from features.tables import Tables
from simulation.certifications import certifications_frame
from simulation.deals import Context, revenue_columns, simulate_deals
from simulation.distribution import assign_parents
from simulation.dynamics import DAY_NS, EXIT_DELAY_DAYS, KINDS, WEEK_NS
from simulation.partners import draw_profiles
from simulation.tables import (
    activities_frame,
    cert_passes,
    customers_frame,
    deals_frame,
    id_width,
    ids,
    partners_frame,
    surveys_frame,
)
from simulation.truth import NAT, LatentHistory, Truth, load_truth, write_truth
from simulation.weeks import event_times, initial_state, run_weeks
from tierwise.errors import InvalidInput

log = logging.getLogger(__name__)
WEEKS_PER_YEAR = 365.25 / 7

__all__ = ["Simulation", "Truth", "default_end", "load_truth", "simulate", "write_simulation"]


@dataclass(frozen=True)
class Simulation:
    tables: Tables
    truth: Truth
    seed: int
    start: pd.Timestamp  # first simulated week starts here
    end: pd.Timestamp  # nothing happens at or after this instant


def default_end(now: datetime | None = None) -> datetime:
    """Monday 00:00 UTC of the current ISO week (so the demo plans the latest week)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    monday = now - timedelta(days=now.weekday())
    return monday.replace(hour=0, minute=0, second=0, microsecond=0)


def simulate(*, partners: int, years: float, seed: int, end: datetime | None = None) -> Simulation:
    """Simulate `partners` partners over `years` years ending at `end` (exclusive).

    Deterministic for (partners, years, seed, end).
    """
    if partners < 1:
        raise InvalidInput(f"partners must be at least 1, got {partners}")
    if not years > 0:
        raise InvalidInput(f"years must be positive, got {years}")
    if seed < 0:
        raise InvalidInput(f"seed must be a non-negative integer, got {seed}")
    end_ts = pd.Timestamp(end if end is not None else default_end())
    end_ts = end_ts.tz_localize("UTC") if end_ts.tzinfo is None else end_ts.tz_convert("UTC")
    end_ns = int(end_ts.as_unit("ns").value)
    weeks = max(1, round(years * WEEKS_PER_YEAR))
    start_ns = end_ns - weeks * WEEK_NS
    # spawn(n) children are fixed by their index: streams added later leave the first ones be
    rng_profiles, rng_weeks, rng_deals, rng_tables, rng_channel, rng_certs = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)
    )

    profiles = draw_profiles(partners, start_ns=start_ns, weeks=weeks, rng=rng_profiles)
    state = initial_state(profiles, start_ns=start_ns, rng=rng_profiles)
    history, events = run_weeks(profiles, state, weeks=weeks, rng=rng_weeks)
    log.debug("simulated %d weeks x %d partners: %d events", weeks, partners, events.week.size)

    quiet_ns = np.where(history.churn_week >= 0, start_ns + (history.churn_week + 1) * WEEK_NS, NAT)
    exits = (history.churn_week >= 0) & (rng_weeks.random(partners) < profiles.latent.exit_prob)
    delay = (rng_weeks.exponential(EXIT_DELAY_DAYS, partners) * DAY_NS).astype(np.int64)
    exit_ns = np.where(exits, quiet_ns + delay, NAT)
    onboarded = (profiles.onboarded_ns < end_ns) & (
        (quiet_ns == NAT) | (profiles.onboarded_ns < quiet_ns)
    )

    when = event_times(events.week, start_ns=start_ns, rng=rng_tables)
    is_deal = events.kind == KINDS.index("deal")
    ctx = Context(
        profiles=profiles,
        history=history,
        start_ns=start_ns,
        end_ns=end_ns,
        weeks=weeks,
        rng=rng_deals,
    )
    deals, customers = simulate_deals(ctx, events.partner[is_deal], when[is_deal])

    partner_ids = ids("P", np.arange(1, partners + 1), id_width(6, partners))
    customer_width = id_width(
        7, int(max(deals.customer.max(initial=0), customers.customer.max(initial=0)))
    )
    revenue = revenue_columns(deals, rng_channel)
    deal_table, order = deals_frame(deals, partner_ids, customer_width, revenue)
    passes = cert_passes(events, when, profiles, start_ns=start_ns, rng=rng_tables)
    tables = Tables(
        partners=partners_frame(
            profiles,
            partner_ids,
            onboarded_ns=np.where(onboarded, profiles.onboarded_ns, NAT),
            exited_ns=np.where(exit_ns < end_ns, exit_ns, NAT),
            parent_idx=assign_parents(profiles, rng_channel),
        ),
        deals=deal_table,
        activities=activities_frame(events, when, passes, partner_ids),
        surveys=surveys_frame(events, partner_ids, start_ns=start_ns, rng=rng_tables),
        customers=customers_frame(customers, partner_ids, customer_width),
        certifications=certifications_frame(passes, profiles, partner_ids, rng_certs),
    )
    is_partner = deals.owner[order] >= 0
    acceptance = pd.Series(
        deals.p_accept[order][is_partner],
        name="p_accepted",
        index=pd.Index(deal_table["deal_id"][is_partner].to_numpy(), name="deal_id", dtype="str"),
    )
    latent = LatentHistory(
        partner_ids=partner_ids.to_numpy(dtype=str),
        start_ns=start_ns,
        weeks=weeks,
        seed=seed,
        joined_ns=profiles.joined_ns,
        exit_ns=exit_ns,
        churn_ns=quiet_ns,
        latent=profiles.latent,
        history=history,
    )
    return Simulation(
        tables=tables,
        truth=Truth(deal_acceptance=acceptance, latent=latent),
        seed=seed,
        start=pd.Timestamp(start_ns, tz="UTC"),
        end=end_ts,
    )


def write_simulation(
    sim: Simulation, directory: str | Path, fmt: Literal["parquet", "csv"] = "parquet"
) -> Path:
    """Write the tables as `<table>.parquet` (or .csv) and the truth under `_truth/`."""
    if fmt not in ("parquet", "csv"):
        raise InvalidInput(f"unknown format {fmt!r}: use 'parquet' or 'csv'")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in sim.tables.items():
        if fmt == "parquet":
            frame.to_parquet(out / f"{name}.parquet", index=False)
        else:
            frame.to_csv(out / f"{name}.csv", index=False)
    write_truth(sim.truth, out)
    return out
