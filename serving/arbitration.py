"""Next-best-action arbitration: priority = propensity × value × weight, contact policy, top K.

The rules engine says which actions are eligible and supplies each candidate's propensity
(the model output the action declares, inverted if asked, 1 if none), value (its
value-at-stake feature) and business weight. Here: an eligible action done or dismissed less
than `cooldown_days` before `as_of` is suppressed; the others are ranked by priority (ties:
rulebook order) and the first K kept. The one-partner functions and the frame functions
compute the same floats in the same order, so both paths rank identically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import NamedTuple

import numpy as np
import pandas as pd

DAY_S = 86_400.0
HISTORY_COLUMNS = ("partner_id", "action_id", "last_done_or_dismissed_at")


class Ranked(NamedTuple):
    """A candidate that made the cut: its rank and the numbers behind its priority."""

    action_id: str
    rank: int
    priority: float
    propensity: float
    value: float
    weight: float


class Suppressed(NamedTuple):
    action_id: str
    reason: str


def priority(propensity: float, value: float, weight: float) -> float:
    """propensity × value × weight (a missing value is 0 by then: see `arbitrate_one`)."""
    return propensity * value * weight


def cooldown_reason(cooldown_days: int, last: datetime | None, as_of: datetime) -> str | None:
    """Why an action is suppressed by its cooldown, or None when it may be recommended."""
    if last is None or cooldown_days <= 0:
        return None
    elapsed = (as_of - last).total_seconds() / DAY_S
    if elapsed < cooldown_days:
        return (
            f"cooldown: last done or dismissed {last:%Y-%m-%d} "
            f"({max(elapsed, 0):.0f} of {cooldown_days} days)"
        )
    return None


def arbitrate_one(
    candidates: Sequence[tuple[str, float, float, float, int]],
    *,
    history: Mapping[str, datetime],
    as_of: datetime,
    k: int,
) -> tuple[list[Ranked], list[Suppressed]]:
    """(ranked top-k, suppressed) from (action_id, propensity, value, weight, cooldown_days)."""
    kept: list[tuple[float, str, float, float, float]] = []
    suppressed: list[Suppressed] = []
    for action_id, propensity, value, weight, cooldown_days in candidates:
        why = cooldown_reason(cooldown_days, history.get(action_id), as_of)
        if why is not None:
            suppressed.append(Suppressed(action_id, why))
            continue
        if value != value:  # a missing value at stake counts as 0
            value = 0.0
        kept.append((priority(propensity, value, weight), action_id, propensity, value, weight))
    kept.sort(key=lambda c: -c[0])  # stable: rulebook order breaks ties
    ranked = [Ranked(a, i + 1, p, prop, v, w) for i, (p, a, prop, v, w) in enumerate(kept[:k])]
    return ranked, suppressed


# --- the whole frame ---------------------------------------------------------------------


def cooling_down(
    candidates: pd.DataFrame, history: pd.DataFrame | None, as_of: datetime
) -> np.ndarray:
    """Per candidate row: True while the action is within its cooldown for that partner."""
    n = len(candidates)
    if history is None or history.empty or n == 0:
        return np.zeros(n, dtype=bool)
    last = (
        history.assign(last=pd.to_datetime(history["last_done_or_dismissed_at"], utc=True))
        .groupby(["partner_id", "action_id"], sort=False)["last"]
        .max()
    )
    keys = pd.MultiIndex.from_arrays(
        [candidates["partner_id"].astype(str), candidates["action_id"].astype(str)]
    )
    last.index = pd.MultiIndex.from_arrays(
        [last.index.get_level_values(0).astype(str), last.index.get_level_values(1).astype(str)]
    )
    found = last.reindex(keys)
    elapsed = (pd.Timestamp(as_of) - pd.DatetimeIndex(found.to_numpy())).total_seconds().to_numpy(
        dtype=np.float64
    ) / DAY_S
    cooldown = candidates["cooldown_days"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return (cooldown > 0) & ~np.isnan(elapsed) & (elapsed < cooldown)


def arbitrate_frame(
    candidates: pd.DataFrame,
    *,
    history: pd.DataFrame | None,
    as_of: datetime,
    k: int,
    action_order: Sequence[str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ranked, suppressed) frames from the long candidate table of the rules engine.

    `candidates`: partner_id, action_id, propensity, value, weight, cooldown_days.
    ranked: partner_id, action_id, rank, priority, propensity, value, weight.
    """
    cand = candidates.reset_index(drop=True)
    blocked = cooling_down(cand, history, as_of)
    suppressed = cand.loc[blocked, ["partner_id", "action_id"]].reset_index(drop=True)
    live = cand.loc[~blocked].copy()
    value = live["value"].to_numpy(dtype=np.float64)
    live["value"] = value = np.where(np.isnan(value), 0.0, value)
    live["priority"] = (
        live["propensity"].to_numpy(dtype=np.float64)
        * value
        * live["weight"].to_numpy(dtype=np.float64)
    )
    live["_order"] = live["action_id"].map({a: i for i, a in enumerate(action_order)})
    live = live.sort_values(
        ["partner_id", "priority", "_order"], ascending=[True, False, True], kind="stable"
    )
    live["rank"] = live.groupby("partner_id", sort=False).cumcount() + 1
    ranked = live[live["rank"] <= k]
    columns = ["partner_id", "action_id", "rank", "priority", "propensity", "value", "weight"]
    return ranked[columns].reset_index(drop=True), suppressed
