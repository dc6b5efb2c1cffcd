"""Actions change partners in the simulator, and the plan is measured against an oracle."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from features.snapshot import build_features
from rules import Rulebook, load_rulebook
from simulation.interventions import (
    EFFECTS,
    World,
    advance,
    apply_done,
    build_world,
    manager_decisions,
    true_gain,
)
from simulation.plan_loop import run_plans
from simulation.program import simulate

END = datetime(2026, 11, 30, tzinfo=UTC)
AS_OF = END - timedelta(days=END.weekday() + 7 * 5)


@pytest.fixture(scope="module")
def world() -> World:
    sim = simulate(partners=400, years=1.5, seed=11, end=END)
    frame = build_features(sim.tables, as_of=AS_OF)
    return build_world(
        frame, sim.truth.churn_probability(AS_OF, 90), sim.truth.state(AS_OF), seed=11
    )


@pytest.fixture(scope="module")
def book() -> Rulebook:
    return load_rulebook()


def test_every_action_of_the_rulebook_has_a_recorded_true_effect(
    world: World, book: Rulebook
) -> None:
    assert set(world.effects.columns) == {a.id for a in book.actions} == set(EFFECTS)
    assert (world.effects >= 0).all().all()
    assert world.effects.std().min() > 0  # heterogeneous by partner


def test_a_done_retention_call_lowers_the_partners_hazard_and_is_worth_something(
    world: World,
) -> None:
    w = _copy(world)
    revenue = pd.to_numeric(w.frame.set_index("partner_id")["revenue_won_365d"]).fillna(0)
    pid = str((w.truth["p_churn_90d"] * (w.truth["p_churn_90d"] < 0.9) * revenue).idxmax())
    call = pd.DataFrame({"partner_id": [pid], "action_id": ["retention_call"]})
    before = true_gain(w, call)[0]
    apply_done(w, call)
    assert w.protection.loc[pid, "factor"] == w.effects.loc[pid, "retention_call"] > 0
    assert before > 0
    assert true_gain(w, call)[0] < before  # protection already given is worth less again


def test_a_week_passes_partners_leave_and_time_moves(world: World) -> None:
    w = _copy(world)
    quiet = pd.to_numeric(w.frame["days_since_last_activity"]).copy()
    gone = advance(w, week=0)
    assert set(gone) <= set(w.truth.index)
    np.testing.assert_allclose(pd.to_numeric(w.frame["days_since_last_activity"]), quiet + 7)


def test_managers_accept_more_of_what_looks_urgent() -> None:
    n = 4000
    plan = pd.DataFrame(
        {
            "partner_id": [f"P{i}" for i in range(n)],
            "action_id": "retention_call",
            "churn_risk": np.r_[np.full(n // 2, 0.05), np.full(n // 2, 0.9)],
            "manager_rank": 8,
        }
    )
    status = manager_decisions(plan, seed=1, week=0)["status"].to_numpy()
    low, high = status[: n // 2] != "dismissed", status[n // 2 :] != "dismissed"
    assert high.mean() > low.mean() + 0.2
    assert set(status) == {"done", "accepted", "dismissed"}


def test_the_rulebook_planner_beats_churn_only_and_random_and_trails_the_oracle(
    world: World, book: Rulebook
) -> None:
    results = {
        r.planner: r for r in run_plans(world, book, as_of=AS_OF, weeks=4, capacity=5, seed=11)
    }
    value = {k: r.value_per_slot for k, r in results.items()}
    assert value["oracle"] >= 0.8 * value["rulebook"] > 0
    assert value["rulebook"] > 1.5 * value["churn_only"]
    assert value["rulebook"] > value["random"]
    assert all(r.slots == results["oracle"].slots for r in results.values())


def _copy(world: World) -> World:
    import copy

    return copy.deepcopy(world)
