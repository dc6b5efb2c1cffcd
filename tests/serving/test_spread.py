import numpy as np
import pandas as pd
import pytest

from serving.spread import spread
from tierwise.errors import InvalidInput


def ranked(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["manager_id", "partner_id", "action_id"])


def test_a_partner_takes_one_slot_and_its_other_actions_overflow_in_order() -> None:
    plan = ranked([("M", "A", "call"), ("M", "A", "nudge"), ("M", "B", "call"), ("M", "C", "x")])
    overflow = spread(plan, capacity=2)
    assert overflow.tolist() == [False, True, False, True]


def test_slots_per_partner_is_configurable() -> None:
    plan = ranked([("M", "A", "call"), ("M", "A", "nudge"), ("M", "B", "call")])
    assert spread(plan, capacity=3, per_partner=2).tolist() == [False, False, False]


def test_an_action_cap_lets_the_next_type_in() -> None:
    plan = ranked([("M", "A", "cert"), ("M", "B", "cert"), ("M", "C", "cert"), ("M", "D", "call")])
    overflow = spread(plan, capacity=3, caps={"cert": 2})
    assert overflow.tolist() == [False, False, True, False]


def test_managers_are_spread_separately_and_interleaved_rows_are_fine() -> None:
    plan = ranked([("M1", "A", "x"), ("M2", "B", "x"), ("M1", "C", "x"), ("M2", "D", "x")])
    assert spread(plan, capacity=1).tolist() == [False, False, True, True]


def test_pinned_rows_hold_slots_partners_and_caps() -> None:
    pinned = ranked([("M", "A", "cert")])
    plan = ranked([("M", "A", "call"), ("M", "B", "cert"), ("M", "C", "call"), ("M", "D", "x")])
    overflow = spread(plan, capacity=3, caps={"cert": 1}, pinned=pinned)
    assert overflow.tolist() == [True, True, False, False]


def test_no_partner_takes_two_slots_on_a_large_random_plan() -> None:
    rng = np.random.default_rng(0)
    plan = ranked(
        list(
            zip(
                rng.choice(["M1", "M2", "M3"], 3000),
                rng.choice([f"P{i}" for i in range(400)], 3000),
                rng.choice(["a", "b", "c"], 3000),
                strict=True,
            )
        )
    )
    kept = plan.loc[~spread(plan, capacity=10)]
    assert not kept.duplicated(["manager_id", "partner_id"]).any()
    assert kept.groupby("manager_id").size().tolist() == [10, 10, 10]


def test_capacity_must_be_positive() -> None:
    with pytest.raises(InvalidInput):
        spread(ranked([]), capacity=0)
