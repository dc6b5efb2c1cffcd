"""What would a candidate rulebook do to today's population? (`tierwise rules simulate`)

Pure: a feature frame in, a `SimulationReport` out — the tier migration (all tiers, and per
track), the partners who would move, the incentive cost of one period under each rulebook
(pool draws allocated as the ledger would, caps applied) and each pool's cost against its
budget. Rendering (terminal, CSV, HTML) is in `rules.simulate_report`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from rules.budgets import draw_pools
from rules.decision import FrameDecision
from rules.engine import evaluate_frame
from rules.model import Rulebook


@dataclass(frozen=True)
class SimulationReport:
    current_version: str
    candidate_version: str
    partners: int
    migration: pd.DataFrame  # rows: tier now (track/tier), columns: tier under the candidate
    movers: pd.DataFrame  # partner_id, track/tier now and under the candidate, direction
    cost: pd.DataFrame  # per incentive: period, partners and cost now and under the candidate
    pools: pd.DataFrame = field(default_factory=pd.DataFrame)  # per pool: budget, claims, grants
    partner_cost: pd.DataFrame = field(default_factory=pd.DataFrame)  # per partner, both books
    as_of: datetime | None = None

    @property
    def total_cost(self) -> tuple[float, float]:
        return float(self.cost["cost_current"].sum()), float(self.cost["cost_candidate"].sum())

    def by_track(self) -> dict[str, pd.DataFrame]:
        """Per track: tier now (rows) × tier under the candidate (columns), for partners who
        stay in the track, plus a column of those who would change track."""
        out: dict[str, pd.DataFrame] = {}
        for track, group in self.partner_cost.groupby("track_current", sort=False):
            same = group["track_candidate"] == track
            table = pd.crosstab(group.loc[same, "tier_current"], group.loc[same, "tier_candidate"])
            moved = group.loc[~same].groupby("tier_current").size()
            if len(moved):
                table["→ other track"] = moved.reindex(table.index).fillna(0).astype("int64")
            out[str(track)] = table
        return out


def _labels(tiers: pd.DataFrame, column: str) -> pd.Series:
    return tiers["track"].astype(str) + "/" + tiers[column].astype(str)


def _rank(book: Rulebook, labels: pd.Series) -> np.ndarray:
    ranks = {f"{tr.id}/{t.id}": t.rank for tr in book.tracks for t in tr.tiers}
    return labels.map(ranks).to_numpy(dtype=np.int64)


def simulate_change(
    current: Rulebook,
    candidate: Rulebook,
    frame: pd.DataFrame,
    *,
    as_of: datetime,
    previous: pd.DataFrame | None = None,
) -> SimulationReport:
    """Evaluate both rulebooks on the same frame (and previous state) and compare."""
    now = evaluate_frame(current, frame, previous=previous, as_of=as_of)
    cand = evaluate_frame(candidate, frame, previous=previous, as_of=as_of)
    before, after = _labels(now.tiers, "tier"), _labels(cand.tiers, "tier")
    migration = pd.crosstab(before.rename("current"), after.rename("candidate"))
    moved = (before != after).to_numpy()
    same_track = (now.tiers["track"].astype(str) == cand.tiers["track"].astype(str)).to_numpy()
    delta = _rank(candidate, after) - _rank(current, before)
    direction = np.where(
        ~same_track, "track change", np.where(delta > 0, "up", np.where(delta < 0, "down", "same"))
    )
    awards_now, pools_now = _paid(current, now, frame)
    awards_cand, pools_cand = _paid(candidate, cand, frame)
    everyone = pd.DataFrame(
        {
            "partner_id": now.tiers["partner_id"].astype(str),
            "track_current": now.tiers["track"].astype(str),
            "tier_current": now.tiers["tier"].astype(str),
            "track_candidate": cand.tiers["track"].astype(str),
            "tier_candidate": cand.tiers["tier"].astype(str),
            "direction": direction,
        }
    )
    for name, awards in (("cost_current", awards_now), ("cost_candidate", awards_cand)):
        per = awards.groupby(awards["partner_id"].astype(str))["amount"].sum()
        everyone[name] = everyone["partner_id"].map(per).fillna(0.0).to_numpy()
    return SimulationReport(
        current.version,
        candidate.version,
        len(frame),
        migration,
        everyone.loc[moved, list(everyone.columns[:6])].reset_index(drop=True),
        _cost(current, candidate, awards_now, awards_cand, as_of),
        _pools(pools_now, pools_cand),
        everyone,
        as_of,
    )


def _paid(
    book: Rulebook, decided: FrameDecision, frame: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The eligible awards with pool draws allocated (one fresh period) + the pool summary."""
    partners = frame.drop(columns=["tier", "track"], errors="ignore").merge(
        decided.tiers[["partner_id", "tier", "track"]].astype({"tier": str, "track": str}),
        on="partner_id",
    )
    awards = decided.incentives.astype({"incentive_id": str})
    return draw_pools(book, awards, partners)


def _cost(
    current: Rulebook,
    candidate: Rulebook,
    now: pd.DataFrame,
    cand: pd.DataFrame,
    as_of: datetime,
) -> pd.DataFrame:
    def per(long: pd.DataFrame, suffix: str) -> pd.DataFrame:
        grouped = long.groupby("incentive_id").agg(
            partners=("partner_id", "nunique"), cost=("amount", "sum")
        )
        return grouped.add_suffix(f"_{suffix}")

    out = per(now, "current").join(per(cand, "candidate"), how="outer").fillna(0.0)
    out["partners_current"] = out["partners_current"].astype("int64")
    out["partners_candidate"] = out["partners_candidate"].astype("int64")
    out["cost_delta"] = out["cost_candidate"] - out["cost_current"]
    periods = {
        i.id: candidate.calendar.period(i.period, as_of).label
        for book in (current, candidate)
        for i in book.incentives
    }
    out.insert(0, "period", out.index.map(periods))
    return out.reset_index()


def _pools(now: pd.DataFrame, cand: pd.DataFrame) -> pd.DataFrame:
    both = (
        now.set_index("pool")
        .add_suffix("_current")
        .join(cand.set_index("pool").add_suffix("_candidate"), how="outer")
    )
    return both.reset_index()
