"""The compiled form's scalar view: a group of numeric leaves runs as one loop, and must give
the outcome, log and errors its leaves give one by one (three-valued logic)."""

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.compile import Log, compile_condition
from rules.conditions import All, AnyOf, Condition, Leaf, Not
from rules.explain import Check
from tierwise.errors import InvalidInput

NAMES = ("a", "b", "c")
OPS = (">=", ">", "<=", "<", "==", "!=")
VALUES = st.sampled_from([0.0, 1.0, 2.0, 2.5, math.nan, None, 3, True])


def leaf(name: str, op: str, value: float) -> Leaf:
    return Leaf(name, op, value, "number", f"{name} {op} {value}")


LEAVES = st.builds(leaf, st.sampled_from(NAMES), st.sampled_from(OPS), st.sampled_from([1.0, 2.0]))


@st.composite
def conditions(draw: st.DrawFn) -> Condition:
    children = tuple(draw(st.lists(LEAVES, min_size=1, max_size=4)))
    return (All if draw(st.booleans()) else AnyOf)(children)


def run(cond: Condition, features: dict[str, Any]) -> tuple[Any, Log]:
    return compile_condition(cond, "tier", "t/Gold").evaluate(features)


def kleene(outcomes: list[Any], is_all: bool) -> Any:
    decisive = not is_all  # all: a False decides; any: a True decides
    if decisive in outcomes:
        return decisive
    return None if None in outcomes else is_all


@settings(max_examples=300, deadline=None)
@given(conditions(), st.fixed_dictionaries({n: VALUES for n in NAMES}))
def test_a_numeric_group_agrees_with_its_leaves(cond: Condition, features: dict[str, Any]) -> None:
    compiled = compile_condition(cond, "tier", "t/Gold")
    per_leaf = [child.evaluate(features) for child in compiled.children]
    expected = kleene([r for r, _ in per_leaf], isinstance(cond, All))
    assert compiled.evaluate(features) == (expected, [e for _, log in per_leaf for e in log])


def test_all_any_three_valued() -> None:
    ge1, ge2 = leaf("a", ">=", 1.0), leaf("b", ">=", 2.0)
    cases: list[tuple[dict[str, Any], bool | None, bool | None]] = [
        ({"a": 1.0, "b": 2.0}, True, True),
        ({"a": 1.0, "b": 0.0}, False, True),
        ({"a": math.nan, "b": 2.0}, None, True),
        ({"a": math.nan, "b": 0.0}, False, None),
        ({"a": None, "b": None}, None, None),
        ({"a": 0.0, "b": 0.0}, False, False),
    ]
    for features, all_, any_ in cases:
        assert run(All((ge1, ge2)), features)[0] is all_, features
        assert run(AnyOf((ge1, ge2)), features)[0] is any_, features


def test_log_entries_are_checks_with_rule_and_outcome() -> None:
    cond = All((leaf("a", ">=", 1.0), leaf("b", "<", 2.0), leaf("c", "==", 1.0)))
    nan = math.nan
    outcome, log = run(cond, {"a": 3.0, "b": 2.0, "c": nan})
    checks = [Check(*entry) for entry in log]
    assert outcome is False
    assert [(c.section, c.rule_id, c.feature, c.op, c.threshold, c.outcome) for c in checks] == [
        ("tier", "t/Gold", "a", ">=", 1.0, "pass"),
        ("tier", "t/Gold", "b", "<", 2.0, "fail"),
        ("tier", "t/Gold", "c", "==", 1.0, "missing"),
    ]
    assert checks[2].actual is nan


@pytest.mark.parametrize(
    "cond", [All((leaf("a", ">=", 1.0), leaf("b", ">=", 1.0))), leaf("b", ">", 0)]
)
def test_a_string_where_a_number_belongs_is_an_error_naming_it(cond: Condition) -> None:
    with pytest.raises(InvalidInput) as info:
        run(cond, {"a": 1.0, "b": "lots"})
    (problem,) = info.value.problems
    assert (problem.column, problem.value) == ("b", "lots")


def test_nested_conditions_keep_their_compiled_parts() -> None:
    cond = AnyOf((Not(leaf("a", ">=", 1.0)), All((leaf("b", ">", 1.0), leaf("c", "<", 2.0)))))
    compiled = compile_condition(cond, "tier", "t/Gold")
    assert [c.cond for c in compiled.leaves()] == [
        leaf("a", ">=", 1.0),
        leaf("b", ">", 1.0),
        leaf("c", "<", 2.0),
    ]
    outcome, log = compiled.evaluate({"a": 2.0, "b": 2.0, "c": math.nan})
    assert outcome is None
    assert [e[7] for e in log] == ["pass", "pass", "missing"]


CATEGORY = st.builds(
    lambda op, values: Leaf("k", op, frozenset(values), "category", f"k {op} {sorted(values)}"),
    st.sampled_from(["in", "not in"]),
    st.sets(st.sampled_from(["x", "y"]), min_size=1),
)
FLAG = st.builds(lambda want: Leaf("f", "is", want, "boolean", "f"), st.booleans())
TREES = st.recursive(
    LEAVES | CATEGORY | FLAG,
    lambda inner: (
        st.builds(Not, inner)
        | st.builds(All, st.lists(inner, min_size=2, max_size=3).map(tuple))
        | st.builds(AnyOf, st.lists(inner, min_size=2, max_size=3).map(tuple))
    ),
    max_leaves=6,
)
MIXED = st.fixed_dictionaries(
    {
        **{n: VALUES.filter(lambda v: v is not True) for n in NAMES},
        "k": st.sampled_from(["x", "y", None, math.nan]),
        "f": st.sampled_from([True, False, 0, 1, None]),
    }
)


@settings(max_examples=300, deadline=None)
@given(TREES, MIXED)
def test_the_gap_is_empty_exactly_when_the_compiled_condition_holds(
    cond: Condition, features: dict[str, Any]
) -> None:
    from rules.explain import gap_items

    compiled = compile_condition(cond, "tier", "t/Gold")
    outcome, log = compiled.evaluate(features)
    gap = gap_items(compiled, features)
    assert (gap == []) is (outcome is True)
    missing = {e[3] for e in log if e[7] == "missing"}
    assert {g.feature for g in gap if g.text.endswith("is missing")} <= missing
