"""A small synthetic partner program for the training tests (seconds, not minutes).

Engagement `e` drives deal volume, acceptance and the time to churn, so the models have
something real to learn; `FakeTruth` returns the probabilities the data were drawn with.
The full simulator (simulation.program) is exercised by the slow tests and the bench.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from features.schema import ACTIVITY_KINDS, PARTNER_TYPES, RECRUITMENT_CHANNELS
from features.tables import Tables

END = pd.Timestamp("2025-01-01", tz="UTC")
DAY = pd.Timedelta(days=1)
MEAN_LIFE_DAYS = 500.0


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class FakeTruth:
    deal_acceptance: pd.Series
    churn_scale: pd.Series  # partner_id -> mean days to churn
    horizon_seen: list[int]

    def churn_probability(self, as_of: datetime, horizon_days: int, paths: int = 1) -> pd.Series:
        self.horizon_seen.append(horizon_days)
        return 1.0 - np.exp(-horizon_days / self.churn_scale)


def make_program(
    partners: int = 400, years: float = 2.0, seed: int = 0, *, activities: bool = True
) -> tuple[Tables, FakeTruth]:
    rng = np.random.default_rng(seed)
    start = END - pd.Timedelta(days=int(365 * years))
    span = (END - start).days
    engagement = rng.normal(0.0, 1.0, partners)
    ids = np.array([f"P{i:05d}" for i in range(partners)])
    joined = start + pd.to_timedelta(rng.uniform(-365, span - 60, partners), unit="D")
    scale = MEAN_LIFE_DAYS * np.exp(0.8 * engagement)
    churn_at = joined + pd.to_timedelta(rng.exponential(scale), unit="D")
    exits = (rng.random(partners) < 0.4) & (churn_at + 20 * DAY < END)
    exited = pd.Series(churn_at + 20 * DAY).where(exits)
    table_p = pd.DataFrame(
        {
            "partner_id": ids,
            "name": [f"Partner {i}" for i in ids],
            "partner_type": rng.choice(PARTNER_TYPES, partners),
            "region": rng.choice(["AMER", "EMEA", "APAC"], partners),
            "manager_id": rng.choice(["M1", "M2", "M3"], partners),
            "joined_at": joined,
            "onboarded_at": joined + 30 * DAY,
            "exited_at": exited,
            "company_size": np.round(np.exp(rng.normal(3, 1, partners))) + 1,
            "market_share": rng.uniform(0, 0.3, partners),
            "verticals": "retail|finance",
            "customer_count": rng.poisson(20, partners).astype(float),
            "portfolio_fit": _sigmoid(engagement + rng.normal(0, 1, partners)),
            "recruited_via": rng.choice(RECRUITMENT_CHANNELS, partners),
            "recruit_cost": rng.uniform(500, 3000, partners),
        }
    )
    live_from = np.maximum(joined.asi8, start.value)
    live_to = np.minimum(pd.DatetimeIndex(churn_at).asi8, END.value)
    weeks = np.clip((live_to - live_from) / (7 * 86_400e9), 0, None)
    deals, truth = _deals(rng, ids, engagement, live_from, weeks)
    acts = _activities(rng, ids, engagement, live_from, weeks) if activities else None
    for frame, cols in (
        (table_p, ("joined_at", "onboarded_at", "exited_at")),
        (deals, ("registered_at", "decided_at", "closed_at")),
    ):
        for c in cols:
            frame[c] = pd.to_datetime(frame[c], utc=True).astype("datetime64[ns, UTC]")
    tables = Tables(partners=table_p, deals=deals, activities=acts)
    return tables, FakeTruth(truth, pd.Series(scale, index=ids), [])


def _deals(
    rng: np.random.Generator,
    ids: np.ndarray,
    e: np.ndarray,
    live_from: np.ndarray,
    weeks: np.ndarray,
) -> tuple[pd.DataFrame, pd.Series]:
    counts = rng.poisson(0.25 * np.exp(0.6 * e) * weeks)
    owner = np.repeat(np.arange(len(ids)), counts)
    at = live_from[owner] + rng.uniform(0, 1, len(owner)) * weeks[owner] * 7 * 86_400e9
    registered = pd.to_datetime(at.astype("int64"), utc=True)
    amount = np.exp(rng.normal(10, 0.8, len(owner)))
    product = rng.choice(["core", "analytics", "suite"], len(owner))
    bonus = np.select([product == "core", product == "suite"], [0.4, -0.6], 0.0)
    p_accept = _sigmoid(0.6 + 0.9 * e[owner] - 0.5 * (np.log(amount) - 10) + bonus)
    decided = registered + pd.to_timedelta(rng.uniform(1, 20, len(owner)), unit="D")
    done = decided < END
    accepted = rng.random(len(owner)) < p_accept
    status = np.where(~done, "submitted", np.where(accepted, "accepted", "rejected"))
    closed = decided + 40 * DAY
    won = accepted & done & (closed < END) & (rng.random(len(owner)) < 0.5)
    lost = accepted & done & (closed < END) & ~won
    deal_ids = np.array([f"D{i:06d}" for i in range(len(owner))])
    frame = pd.DataFrame(
        {
            "deal_id": deal_ids,
            "partner_id": ids[owner],
            "customer_id": [f"C{i}" for i in rng.integers(0, 5000, len(owner))],
            "product": product,
            "deal_kind": rng.choice(["new", "upsell"], len(owner)),
            "amount": amount,
            "registered_at": registered,
            "status": status,
            "decided_at": pd.Series(decided).where(done),
            "outcome": np.select([won, lost], ["won", "lost"], "open"),
            "closed_at": pd.Series(closed).where(won | lost),
        }
    )
    return frame, pd.Series(p_accept, index=deal_ids)


def _activities(
    rng: np.random.Generator,
    ids: np.ndarray,
    e: np.ndarray,
    live_from: np.ndarray,
    weeks: np.ndarray,
) -> pd.DataFrame:
    counts = rng.poisson(0.3 * np.exp(0.5 * e) * weeks)
    owner = np.repeat(np.arange(len(ids)), counts)
    at = live_from[owner] + rng.uniform(0, 1, len(owner)) * weeks[owner] * 7 * 86_400e9
    return pd.DataFrame(
        {
            "partner_id": ids[owner],
            "occurred_at": pd.to_datetime(at.astype("int64"), utc=True).astype(
                "datetime64[ns, UTC]"
            ),
            "kind": rng.choice(ACTIVITY_KINDS, len(owner)),
        }
    )
