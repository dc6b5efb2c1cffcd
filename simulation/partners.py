"""Simulated partner profiles: what the partners table shows and the latent traits behind it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.schema import LIST_SEPARATOR, PARTNER_TYPES, RECRUITMENT_CHANNELS
from simulation.dynamics import (
    CERT_ATTEMPT,
    CONTACT,
    DAY_NS,
    DEAL,
    EVENT,
    KINDS,
    LEAD,
    MATERIAL,
    REVIEW,
    TRAINING,
    WEEK_NS,
    Latent,
)

YEAR_NS = 365 * DAY_NS
REGIONS = ("AMER", "EMEA", "APAC", "LATAM")
REGION_SHARE = (0.42, 0.30, 0.18, 0.10)
VERTICALS = (
    "healthcare",
    "finance",
    "retail",
    "manufacturing",
    "public_sector",
    "education",
    "technology",
    "energy",
)
PRE_WINDOW_SHARE = 0.55  # partners already in the program when the window starts
PARTNERS_PER_MANAGER = 60

# Per partner type, in PARTNER_TYPES order: VAR, MSP, SI, referral, reseller, distributor.
TYPE_SHARE = np.array([0.25, 0.20, 0.12, 0.25, 0.13, 0.05])
TYPE_SIZE = np.array([40.0, 25.0, 150.0, 8.0, 15.0, 400.0])  # median employees
TYPE_ENGAGEMENT = np.array([0.0, 0.1, 0.05, -0.2, -0.1, 0.15])
TYPE_DEALS = np.array([1.0, 0.9, 0.8, 0.0, 0.9, 1.2])  # deal-registration rate factor
TYPE_CERTS = np.array([1.2, 1.8, 2.0, 0.3, 0.8, 1.0])
TYPE_HAZARD = np.array([0.0, -0.1, -0.1, 0.3, 0.2, -0.3])
TYPE_EXIT = np.array([0.40, 0.35, 0.35, 0.15, 0.40, 0.60])
TYPE_ONBOARD = np.array([1.0, 1.0, 1.3, 0.6, 0.9, 1.5])
REFERRAL = PARTNER_TYPES.index("referral")

# Per recruitment channel, in RECRUITMENT_CHANNELS order.
CHANNEL_SHARE = np.array([0.14, 0.12, 0.10, 0.12, 0.14, 0.20, 0.18])
CHANNEL_COST = np.array([3000.0, 900.0, 600.0, 1200.0, 1500.0, 4500.0, 500.0])
CHANNEL_ENGAGEMENT = np.array([0.05, 0.0, -0.1, 0.05, 0.25, -0.2, 0.2])

_NAME_A = np.array(
    [
        "Apex",
        "Blue",
        "Cedar",
        "Delta",
        "Ember",
        "Falcon",
        "Granite",
        "Harbor",
        "Iris",
        "Juniper",
        "Keystone",
        "Lumen",
        "Maple",
        "Nova",
        "Orbit",
        "Pioneer",
        "Quartz",
        "Ridge",
        "Summit",
        "Tidal",
        "Vertex",
        "Willow",
    ]
)
_NAME_B = np.array(
    [
        "Systems",
        "Networks",
        "Cloud",
        "Data",
        "Solutions",
        "Technologies",
        "Partners",
        "Digital",
        "IT",
        "Consulting",
        "Integration",
        "Software",
    ]
)
_NAME_C = np.array(["Inc", "Ltd", "GmbH", "LLC", "SA", "Pty", "BV", "Group", "AB", "KK"])


@dataclass(frozen=True)
class Profiles:
    """Partners' visible attributes (numpy, partner order = join order) and latent traits."""

    n: int
    type_idx: np.ndarray
    region_idx: np.ndarray
    channel_idx: np.ndarray
    manager_idx: np.ndarray
    manager_diligence: np.ndarray  # per partner: its manager's contact-rate factor
    size: np.ndarray
    market_share: np.ndarray
    verticals: np.ndarray  # strings joined by LIST_SEPARATOR
    customer_count: np.ndarray
    fit: np.ndarray
    recruit_cost: np.ndarray
    joined_ns: np.ndarray
    onboarded_ns: np.ndarray  # when onboarding finishes if the partner is still around
    names: np.ndarray
    latent: Latent


def draw_profiles(n: int, *, start_ns: int, weeks: int, rng: np.random.Generator) -> Profiles:
    """Draw `n` partners: some joined up to four years before the window, the rest during it."""
    joined_ns = _join_times(n, start_ns=start_ns, weeks=weeks, rng=rng)
    type_idx = rng.choice(len(PARTNER_TYPES), n, p=TYPE_SHARE)
    region_idx = rng.choice(len(REGIONS), n, p=REGION_SHARE)
    channel_idx = rng.choice(len(RECRUITMENT_CHANNELS), n, p=CHANNEL_SHARE)
    size = np.maximum(1, np.round(TYPE_SIZE[type_idx] * rng.lognormal(0.0, 0.9, n))).astype(
        np.int64
    )
    fit = rng.beta(2.5, 2.0, n)
    quality = rng.standard_normal(n)
    share = np.clip(rng.beta(1.2, 40.0, n) * (size / 40.0) ** 0.3, 0.0, 1.0)
    customers = rng.poisson(np.clip(size, 1, 5000) ** 0.8 * 1.5).astype(np.int64)
    cost = CHANNEL_COST[channel_idx] * rng.lognormal(0.0, 0.35, n)
    delay_days = np.clip(
        30.0 * TYPE_ONBOARD[type_idx] * (1.3 - 0.6 * fit) * rng.lognormal(0.0, 0.6, n), 3, 365
    )
    onboarded_ns = joined_ns + (delay_days * DAY_NS).astype(np.int64)

    manager_idx, n_managers = _assign_managers(region_idx, rng)
    diligence = rng.lognormal(0.0, 0.3, n_managers)[manager_idx]

    pre = joined_ns < start_ns
    mu = (
        -0.4
        + TYPE_ENGAGEMENT[type_idx]
        + CHANNEL_ENGAGEMENT[channel_idx]
        + 0.9 * (fit - 0.55)
        + 0.25 * quality
        + 0.1 * pre
        + rng.normal(0.0, 0.45, n)
    )
    latent = Latent(
        mu=mu,
        quality=quality,
        sat_base=rng.normal(0.0, 0.4, n),
        rates=_base_rates(type_idx, size, fit, diligence),
        hazard_bias=TYPE_HAZARD[type_idx],
        exit_prob=TYPE_EXIT[type_idx],
        join_week=np.floor_divide(joined_ns - start_ns, WEEK_NS).astype(np.int64),
        onboard_week=np.floor_divide(onboarded_ns - start_ns, WEEK_NS).astype(np.int64),
    )
    names = (
        pd.Series(_NAME_A[rng.integers(0, len(_NAME_A), n)], dtype="str")
        + " "
        + pd.Series(_NAME_B[rng.integers(0, len(_NAME_B), n)], dtype="str")
        + " "
        + pd.Series(_NAME_C[rng.integers(0, len(_NAME_C), n)], dtype="str")
    ).to_numpy()
    return Profiles(
        n=n,
        type_idx=type_idx,
        region_idx=region_idx,
        channel_idx=channel_idx,
        manager_idx=manager_idx,
        manager_diligence=diligence,
        size=size,
        market_share=share,
        verticals=_verticals(n, rng),
        customer_count=customers,
        fit=fit,
        recruit_cost=cost,
        joined_ns=joined_ns,
        onboarded_ns=onboarded_ns,
        names=names,
        latent=latent,
    )


def _assign_managers(region_idx: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """About PARTNERS_PER_MANAGER (±30%) partners per manager, mostly within one region."""
    n = region_idx.size
    n_managers = max(1, round(n / PARTNERS_PER_MANAGER))
    load = np.cumsum(rng.uniform(0.7, 1.3, n_managers))
    bounds = np.floor(load / load[-1] * n).astype(np.int64)
    sizes = np.diff(np.concatenate([[0], bounds]))
    order = np.lexsort((rng.random(n), region_idx))
    manager_idx = np.empty(n, dtype=np.int64)
    manager_idx[order] = np.repeat(np.arange(n_managers), sizes)
    return manager_idx, n_managers


def _join_times(n: int, *, start_ns: int, weeks: int, rng: np.random.Generator) -> np.ndarray:
    n_pre = round(n * PRE_WINDOW_SHARE)
    before = start_ns - (rng.random(n_pre) ** 1.3 * 4 * YEAR_NS).astype(np.int64) - DAY_NS
    during = start_ns + (rng.random(n - n_pre) * weeks * WEEK_NS).astype(np.int64)
    return np.sort(np.concatenate([before, during]))


def _base_rates(
    type_idx: np.ndarray, size: np.ndarray, fit: np.ndarray, diligence: np.ndarray
) -> np.ndarray:
    """(n, len(KINDS)) weekly rates at engagement 0 for an onboarded partner."""
    n = type_idx.shape[0]
    size_f = np.clip((size / 40.0) ** 0.35, 0.4, 3.5)
    fit_f = 0.4 + 1.2 * fit
    referral = type_idx == REFERRAL
    rates = np.empty((n, len(KINDS)))
    rates[:, DEAL] = np.where(referral, 0.025 * fit_f, 0.12 * size_f * fit_f * TYPE_DEALS[type_idx])
    rates[:, LEAD] = np.where(referral, 0.40 * fit_f * np.sqrt(size_f), 0.06)
    rates[:, TRAINING] = np.where(referral, 0.05, 0.10)
    rates[:, EVENT] = 0.04 * np.sqrt(size_f)
    rates[:, MATERIAL] = 0.45 * fit_f
    rates[:, CERT_ATTEMPT] = 0.012 * TYPE_CERTS[type_idx] * np.sqrt(size_f)
    rates[:, REVIEW] = np.where(referral, 0.005, 0.015 * size_f)
    rates[:, CONTACT] = 0.10 * diligence * np.sqrt(size_f)
    return rates


def _verticals(n: int, rng: np.random.Generator) -> np.ndarray:
    """1-4 distinct verticals per partner, joined in a fixed order (via a 256-entry lookup)."""
    k = rng.choice(4, n, p=[0.35, 0.35, 0.2, 0.1]) + 1
    order = np.argsort(rng.random((n, len(VERTICALS))), axis=1)
    chosen = np.arange(len(VERTICALS))[None, :] < k[:, None]
    bits = (chosen * (1 << order)).sum(axis=1)
    lookup = np.array(
        [
            LIST_SEPARATOR.join(v for i, v in enumerate(VERTICALS) if m >> i & 1)
            for m in range(1 << len(VERTICALS))
        ],
        dtype=object,
    )
    return lookup[bits]


def manager_ids(n_managers: int) -> np.ndarray:
    width = max(3, len(str(n_managers)))
    return np.array([f"M{i + 1:0{width}d}" for i in range(n_managers)], dtype=object)
