"""The learned-propensity planner in the loop: last weeks' decisions fit this week's plan.

`LearnedPriority` ranks as the service does with `tierwise-propensity` registered: priority =
a Thompson draw of P(the action works) per action × lifecycle status × week
(`training.propensity.Propensities.draw`) × value × weight. Each week it closes the
decisions whose outcome window (`window_weeks`) has passed — features at the decision and
now, as the service database's snapshots would hold them — refits the posterior with
`training.propensity.examples` / `fit_propensity` (the same functions `tierwise train --model
propensity` runs), and draws. Benches and tests only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rules import Rulebook
from simulation.interventions import World
from training.propensity import (
    RESPONSES,
    SEGMENT,
    Propensities,
    examples,
    fit_propensity,
)

KEEP = ["partner_id", SEGMENT, "exited", *sorted({r.feature for r in RESPONSES.values()})]


@dataclass
class LearnedPriority:
    """A stateful planner (`simulation.plan_loop.run_plan` calls `begin_week` and `record`)."""

    rulebook: Rulebook
    window_weeks: int = 4
    seed: int = 0
    priors: dict[str, tuple[float, float]] = field(init=False)
    table: Propensities = field(init=False)
    pending: list[tuple[int, pd.DataFrame]] = field(default_factory=list)  # (week, rows)
    closed: list[pd.DataFrame] = field(default_factory=list)  # examples so far
    week: int = 0

    def __post_init__(self) -> None:
        self.priors = {a.id: a.prior for a in self.rulebook.actions if a.prior is not None}
        self.table = Propensities.from_table(_empty(), self.priors, seed=self.seed)

    def __call__(self, world: World, cands: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
        value = np.nan_to_num(cands["value"].to_numpy(dtype=np.float64), nan=0.0)
        prop = cands["propensity"].to_numpy(dtype=np.float64).copy()
        ids = cands["action_id"].astype(str)
        at = ids.isin(list(self.priors)).to_numpy()
        seg = _features(world, cands["partner_id"])[SEGMENT].astype(object)
        segments = seg.where(seg.notna(), None).to_numpy()[at].tolist()
        drawn, _ = self.table.draws(ids.to_numpy()[at].tolist(), segments, f"sim-{self.week}")
        prop[at] = drawn
        return prop * value * cands["weight"].to_numpy(dtype=np.float64)

    def begin_week(self, world: World, week: int) -> None:
        """Close the decisions whose window ended and refit on everything closed."""
        self.week = week
        due = [(w, rows) for w, rows in self.pending if week - w >= self.window_weeks]
        self.pending = [(w, rows) for w, rows in self.pending if week - w < self.window_weeks]
        for w, rows in due:
            after = _features(world, rows["partner_id"])
            decisions = rows[["action_id", "status"]].assign(elapsed_days=7.0 * (week - w))
            before = rows[KEEP].reset_index(drop=True)
            self.closed.append(examples(decisions, before, after))
        if due:
            fitted = fit_propensity(pd.concat(self.closed, ignore_index=True), self.priors)
            self.table = Propensities.from_table(fitted, self.priors, seed=self.seed)

    def record(self, world: World, acted: pd.DataFrame, week: int) -> None:
        """This week's decided slots, with the partners' features before the actions."""
        before = _features(world, acted["partner_id"])
        rows = pd.concat(
            [acted[["action_id", "status"]].reset_index(drop=True), before],
            axis=1,
        )
        self.pending.append((week, rows))


def _empty() -> pd.DataFrame:
    return pd.DataFrame({"action_id": [], "segment": [], "n": [], "successes": []})


def _features(world: World, partner_ids: pd.Series) -> pd.DataFrame:
    """The partners' response features now (a partner that left: exited, nothing else)."""
    frame = world.frame.set_index(world.frame["partner_id"].astype(str))
    cols = [c for c in KEEP if c in frame.columns and c != "partner_id"]
    pids = partner_ids.astype(str).to_numpy()
    out = frame[cols].reindex(pids).reset_index(drop=True)
    out.insert(0, "partner_id", pids)
    gone = np.isin(pids, list(world.gone))
    out["exited"] = out["exited"].astype("boolean").fillna(False).to_numpy(dtype=bool) | gone
    return out
