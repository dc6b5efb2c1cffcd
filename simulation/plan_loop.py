"""The weekly plan in the loop: plan, let simulated managers act, let the week pass, repeat.

`run_plans` runs several planners on copies of the same `World` for N weeks and measures
the true value each captured per manager slot (`simulation.interventions.true_gain` of the
actions managers did). Every planner ranks the same candidates — the rulebook's eligible
actions outside their cooldown — and fills the slots the same way (`serving.spread`:
capacity, slots per partner, action caps); they differ only in the order:

- ``rulebook``: priority = propensity × value × weight, as the service ranks with the
  rulebook alone (a learned propensity at its prior's mean);
- ``learned``: the same with the learned propensity in the loop (`simulation.learned_planner`:
  the decisions and responses of past weeks fit each week's Thompson draws) — built per run,
  as it learns (`planners(rulebook)`);
- ``oracle``: the true expected gain (it knows the true hazard and every true effect);
- ``churn_only``: the partner's churn risk (ties: rulebook order);
- ``random``: a random order.

The churn risk the planners see is a stand-in for a trained model: the simulator's true
90-day churn probability with noise in logit space (`model_noise`), fixed per partner.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from rules import Rulebook, evaluate_frame
from serving.arbitration import cooling_down
from serving.spread import spread
from simulation.interventions import (
    World,
    advance,
    apply_done,
    manager_decisions,
    responds,
    true_gain,
)

Priority = Callable[[World, pd.DataFrame, np.random.Generator], np.ndarray]


def rulebook_priority(world: World, cands: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    value = np.nan_to_num(cands["value"].to_numpy(dtype=np.float64), nan=0.0)
    return cands["propensity"].to_numpy(dtype=np.float64) * value * cands["weight"].to_numpy()


def oracle_priority(world: World, cands: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    return true_gain(world, cands)


def churn_priority(world: World, cands: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    return cands["churn_risk"].to_numpy(dtype=np.float64)


def random_priority(world: World, cands: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    return rng.random(len(cands))


PLANNERS: dict[str, Priority] = {
    "oracle": oracle_priority,
    "rulebook": rulebook_priority,
    "churn_only": churn_priority,
    "random": random_priority,
}


def planners(rulebook: Rulebook, *, learned: bool = True, seed: int = 0) -> dict[str, Priority]:
    """Fresh planners for one run: `PLANNERS`, plus the learned one (it keeps state)."""
    from simulation.learned_planner import LearnedPriority

    out = dict(PLANNERS)
    if learned and any(a.prior is not None for a in rulebook.actions):
        out = {
            "oracle": PLANNERS["oracle"],
            "learned": LearnedPriority(rulebook, seed=seed),
            **{k: v for k, v in PLANNERS.items() if k != "oracle"},
        }
    return out


@dataclass(frozen=True)
class LoopResult:
    planner: str
    weeks: int
    slots: int  # manager slots offered over all weeks
    planned: int
    done: int
    value: float  # true expected gain of the actions done, in dollars over a year
    by_action: dict[str, int]  # done actions per type

    @property
    def value_per_slot(self) -> float:
        return self.value / self.slots if self.slots else 0.0


def model_view(world: World, *, noise: float, seed: int) -> pd.DataFrame:
    """The partners still in the program as the planner sees them, with model outputs."""
    frame = world.alive
    pids = frame["partner_id"].astype(str)
    p = world.truth["p_churn_90d"].reindex(pids).to_numpy().clip(1e-4, 1 - 1e-4)
    draws = np.random.default_rng([seed, 7]).normal(0.0, noise, len(world.truth))
    eps = pd.Series(draws, index=world.truth.index).reindex(pids).to_numpy()
    logit = np.log(p / (1 - p)) + eps
    accept = pd.to_numeric(frame["acceptance_rate_365d"]).astype("float64").fillna(0.5)
    return frame.assign(churn_risk=1 / (1 + np.exp(-logit)), deal_acceptance=accept.to_numpy())


def run_plan(
    world: World,
    rulebook: Rulebook,
    priority: Priority,
    *,
    name: str,
    as_of: datetime,
    weeks: int,
    capacity: int,
    model_noise: float = 0.6,
    seed: int = 0,
) -> LoopResult:
    """One planner for ``weeks`` weeks on ``world`` (changed in place)."""
    rng = np.random.default_rng([seed, 99])
    history = pd.DataFrame(columns=["partner_id", "action_id", "last_done_or_dismissed_at"])
    managers = world.frame["manager_id"].nunique()
    value, planned_n, done_n = 0.0, 0, 0
    by_action: dict[str, int] = {}
    for week in range(weeks):
        now = as_of + timedelta(weeks=week)
        if hasattr(priority, "begin_week"):  # a learned planner: close and refit
            priority.begin_week(world, week)
        view = model_view(world, noise=model_noise, seed=seed)
        cands = _candidates(rulebook, view, history, now)
        cands["priority"] = priority(world, cands, rng)
        plan = _fill(cands, rulebook, capacity)
        acted = manager_decisions(plan, seed=seed, week=week)
        if hasattr(priority, "record"):
            priority.record(world, acted, week)
        done = acted.loc[acted["status"] == "done"]
        value += float(true_gain(world, done).sum())
        planned_n, done_n = planned_n + len(acted), done_n + len(done)
        for action, count in done["action_id"].astype(str).value_counts().items():
            by_action[str(action)] = by_action.get(str(action), 0) + int(count)
        closed = acted.loc[acted["status"] != "accepted", ["partner_id", "action_id"]]
        history = pd.concat(
            [history, closed.assign(last_done_or_dismissed_at=pd.Timestamp(now))],
            ignore_index=True,
        )
        apply_done(world, done, responds(world, done, seed=seed, week=week))
        advance(world, week=week)
    return LoopResult(name, weeks, managers * capacity * weeks, planned_n, done_n, value, by_action)


def _candidates(
    rulebook: Rulebook, view: pd.DataFrame, history: pd.DataFrame, now: datetime
) -> pd.DataFrame:
    decision = evaluate_frame(rulebook, view, as_of=now)
    cands = decision.actions.assign(action_id=decision.actions["action_id"].astype(str))
    cands = cands.loc[~cooling_down(cands, history, now)].reset_index(drop=True)
    extra = view[["partner_id", "manager_id", "churn_risk"]]
    return cands.merge(extra, on="partner_id", how="left")


def _fill(cands: pd.DataFrame, rulebook: Rulebook, capacity: int) -> pd.DataFrame:
    order = {a.id: i for i, a in enumerate(rulebook.actions)}
    ranked = cands.assign(_order=cands["action_id"].map(order)).sort_values(
        ["manager_id", "priority", "_order", "partner_id"],
        ascending=[True, False, True, True],
        kind="mergesort",
        ignore_index=True,
    )
    overflow = spread(
        ranked,
        capacity=capacity,
        per_partner=rulebook.slots_per_partner,
        caps=rulebook.action_caps,
    )
    plan = ranked.loc[~overflow].drop(columns=["_order"]).reset_index(drop=True)
    plan["manager_rank"] = plan.groupby("manager_id", sort=False).cumcount() + 1
    return plan


def run_plans(
    world: World,
    rulebook: Rulebook,
    *,
    as_of: datetime,
    weeks: int,
    capacity: int,
    planners: dict[str, Priority] | None = None,
    model_noise: float = 0.6,
    seed: int = 0,
) -> list[LoopResult]:
    """Every planner on its own copy of ``world`` (the same partners, effects and draws)."""
    return [
        run_plan(
            copy.deepcopy(world),
            rulebook,
            priority,
            name=name,
            as_of=as_of,
            weeks=weeks,
            capacity=capacity,
            model_noise=model_noise,
            seed=seed,
        )
        for name, priority in (planners or PLANNERS).items()
    ]
