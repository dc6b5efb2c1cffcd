"""What would a candidate rulebook do to today's population? (`tierwise rules simulate`)

Pure: a feature frame in, a `SimulationReport` out — the tier migration matrix, the
partners who would move, and the incentive cost under each rulebook.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from rules.engine import evaluate_frame
from rules.model import Rulebook


@dataclass(frozen=True)
class SimulationReport:
    current_version: str
    candidate_version: str
    partners: int
    migration: pd.DataFrame  # rows: tier now (track/tier), columns: tier under the candidate
    movers: pd.DataFrame  # partner_id, track/tier now and under the candidate, direction
    cost: pd.DataFrame  # per incentive: partners and cost now and under the candidate

    @property
    def total_cost(self) -> tuple[float, float]:
        return float(self.cost["cost_current"].sum()), float(self.cost["cost_candidate"].sum())


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
    movers = pd.DataFrame(
        {
            "partner_id": now.tiers["partner_id"],
            "track_current": now.tiers["track"].astype(str),
            "tier_current": now.tiers["tier"].astype(str),
            "track_candidate": cand.tiers["track"].astype(str),
            "tier_candidate": cand.tiers["tier"].astype(str),
            "direction": direction,
        }
    )[moved].reset_index(drop=True)
    return SimulationReport(
        current.version,
        candidate.version,
        len(frame),
        migration,
        movers,
        _cost(now.incentives, cand.incentives),
    )


def _cost(now: pd.DataFrame, cand: pd.DataFrame) -> pd.DataFrame:
    def per(long: pd.DataFrame, suffix: str) -> pd.DataFrame:
        grouped = (
            long.assign(incentive_id=long["incentive_id"].astype(str))
            .groupby("incentive_id")
            .agg(partners=("partner_id", "nunique"), cost=("amount", "sum"))
        )
        return grouped.add_suffix(f"_{suffix}")

    out = per(now, "current").join(per(cand, "candidate"), how="outer").fillna(0.0)
    out["partners_current"] = out["partners_current"].astype("int64")
    out["partners_candidate"] = out["partners_candidate"].astype("int64")
    out["cost_delta"] = out["cost_candidate"] - out["cost_current"]
    return out.reset_index()
