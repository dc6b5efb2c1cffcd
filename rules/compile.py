"""Conditions compiled once, at load time, into one `Compiled` form with two views.

- scalar: ``ev(features, log) -> True | False | None`` for one partner; every leaf appends
  one flat `Entry` to ``log`` (rule, condition, actual value, pass/fail/missing) — checks,
  explanations and the gap to the next tier are all read from that log (`rules.explain`).
- vector: ``vev(columns) -> (true_mask, false_mask)`` over a whole frame, no row loop.

`Compiled` keeps the compiled form of every sub-condition too, so an explanation evaluates
exactly what the engine evaluated (a property test binds the scalar and the vector view).

Both use three-valued logic: a missing value makes its leaf unknown, ``not`` keeps it
unknown, ``all`` is false if any child is false, ``any`` true if any child is true. A
condition that ends unknown does not hold.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rules.columns import Columns
from rules.conditions import All, Condition, Leaf, Not
from tierwise.errors import InvalidInput, Problem

# one entry per leaf checked: section, rule id, condition text, feature, op, threshold (as
# shown), actual value, outcome (pass | fail | missing) — the fields of `rules.explain.Check`
Entry = tuple[str, str, str, str, str, Any, Any, str]
Log = list[Entry]
Scalar = Callable[[Mapping[str, Any], Log], Any]
Masks = tuple[np.ndarray, np.ndarray]
Vector = Callable[[Columns], Masks]

OPS: dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
_NUMBERS = (int, float, np.integer, np.floating, np.bool_)


def _is_missing(value: Any) -> bool:
    try:
        return value is None or bool(value != value)
    except (TypeError, ValueError):  # pd.NA and friends
        return True


def _bad_value(leaf: Leaf, value: Any) -> InvalidInput:
    return InvalidInput(
        f"feature {leaf.name} has a value of the wrong type",
        [Problem(f"'{value!r}' is not a valid {leaf.kind}", column=leaf.name, value=value)],
    )


@dataclass(frozen=True, eq=False)
class Compiled:
    """A condition (None: always holds) compiled once: ``scalar`` for one partner, ``vector``
    for a frame, and ``children`` — the compiled sub-conditions, for explanations."""

    cond: Condition | None
    scalar: Scalar
    vector: Vector
    children: tuple[Compiled, ...] = ()

    def leaves(self) -> list[Compiled]:
        """The compiled leaves, in log order."""
        if not self.children:
            return [self] if isinstance(self.cond, Leaf) else []
        return [leaf for c in self.children for leaf in c.leaves()]

    def evaluate(self, features: Mapping[str, Any]) -> tuple[Any, Log]:
        """(True | False | None, one log entry per leaf) for one partner."""
        log: Log = []
        return self.scalar(features, log), log


def compile_condition(cond: Condition | None, section: str = "", rule_id: str = "") -> Compiled:
    """The compiled form of ``cond``, which belongs to rule ``rule_id`` of ``section`` (both
    recorded in each log entry, so an entry is a ready-made `Check`).

    An all/any of numeric comparisons only (most tiers) evaluates in one loop over them
    instead of one closure call per comparison (its compiled leaves are still kept, and a
    property test proves the loop gives what its leaves give)."""
    if cond is None:
        return Compiled(None, _always, _vector_always)
    if isinstance(cond, Leaf):
        return Compiled(cond, _scalar_leaf(cond, section, rule_id), _vector_leaf(cond))
    if isinstance(cond, Not):
        child = compile_condition(cond.child, section, rule_id)
        return Compiled(cond, _scalar_not(child.scalar), _vector_not(child.vector), (child,))
    children = tuple(compile_condition(c, section, rule_id) for c in cond.children)
    is_all = isinstance(cond, All)
    numbers = tuple(c for c in cond.children if isinstance(c, Leaf) and c.kind == "number")
    if len(numbers) == len(cond.children):
        scalar = _scalar_numbers(numbers, is_all, section, rule_id)
    else:
        scalars = tuple(c.scalar for c in children)
        scalar = _scalar_all(scalars) if is_all else _scalar_any(scalars)
    vector = _vector_group(tuple(c.vector for c in children), is_all)
    return Compiled(cond, scalar, vector, children)


def _always(f: Mapping[str, Any], log: Log) -> Any:
    return True


def _vector_always(cols: Columns) -> Masks:
    return np.ones(cols.n, dtype=bool), np.zeros(cols.n, dtype=bool)


def _scalar_not(child: Scalar) -> Scalar:
    def ev_not(f: Mapping[str, Any], log: Log) -> Any:
        r = child(f, log)
        return None if r is None else not r

    return ev_not


def _scalar_all(children: tuple[Scalar, ...]) -> Scalar:
    def ev_all(f: Mapping[str, Any], log: Log) -> Any:
        out: Any = True
        for child in children:  # no short-circuit: every condition is reported
            r = child(f, log)
            if r is None:
                if out is True:
                    out = None
            elif not r:
                out = False
        return out

    return ev_all


def _scalar_any(children: tuple[Scalar, ...]) -> Scalar:
    def ev_any(f: Mapping[str, Any], log: Log) -> Any:
        out: Any = False
        for child in children:
            r = child(f, log)
            if r is None:
                if out is False:
                    out = None
            elif r:
                out = True
        return out

    return ev_any


def _scalar_leaf(leaf: Leaf, section: str, rule_id: str) -> Scalar:
    if leaf.kind == "number":
        return _scalar_number(leaf, section, rule_id)
    if leaf.kind == "boolean":
        return _scalar_boolean(leaf, section, rule_id)
    return _scalar_category(leaf, section, rule_id)


# The leaf evaluators below append one flat tuple per leaf, laid out as `rules.explain.Check`
# (section, rule_id, condition, feature, op, threshold, actual, outcome): everything but the
# actual value is a constant of the closure, so logging costs one small tuple.


def _scalar_number(leaf: Leaf, section: str, rule_id: str) -> Scalar:
    """One comparison. Its loop form for a group is `_scalar_numbers` (a call per rule, not
    per leaf: speed); a property test binds the two (tests/rules/test_compile.py)."""
    name, value, op = leaf.name, leaf.value, OPS[leaf.op]
    text, sym, shown = leaf.text, leaf.op, leaf.threshold

    def ev_num(f: Mapping[str, Any], log: Log) -> Any:
        v = f[name]
        try:
            if op(v, value):
                log.append((section, rule_id, text, name, sym, shown, v, "pass"))
                return True
            if v == v:  # not NaN
                log.append((section, rule_id, text, name, sym, shown, v, "fail"))
                return False
        except TypeError:  # None, pd.NA, or not a number at all
            if not _is_missing(v):
                raise _bad_value(leaf, v) from None
        log.append((section, rule_id, text, name, sym, shown, v, "missing"))
        return None

    return ev_num


def _scalar_boolean(leaf: Leaf, section: str, rule_id: str) -> Scalar:
    name, value = leaf.name, leaf.value
    text, sym, shown = leaf.text, leaf.op, leaf.threshold

    def ev_bool(f: Mapping[str, Any], log: Log) -> Any:
        v = f[name]
        if _is_missing(v):
            log.append((section, rule_id, text, name, sym, shown, v, "missing"))
            return None
        if not isinstance(v, _NUMBERS):
            raise _bad_value(leaf, v)
        r = bool(v) is value
        log.append((section, rule_id, text, name, sym, shown, v, "pass" if r else "fail"))
        return r

    return ev_bool


def _scalar_category(leaf: Leaf, section: str, rule_id: str) -> Scalar:
    name, value = leaf.name, leaf.value
    text, sym, shown = leaf.text, leaf.op, leaf.threshold
    wanted = leaf.op == "in"

    def ev_cat(f: Mapping[str, Any], log: Log) -> Any:
        v = f[name]
        try:
            r = (v in value) is wanted
        except TypeError as exc:
            raise _bad_value(leaf, v) from exc
        if (not r or not wanted) and v.__class__ is not str and _is_missing(v):
            log.append((section, rule_id, text, name, sym, shown, v, "missing"))
            return None
        log.append((section, rule_id, text, name, sym, shown, v, "pass" if r else "fail"))
        return r

    return ev_cat


def _scalar_numbers(leaves: tuple[Leaf, ...], is_all: bool, section: str, rule_id: str) -> Scalar:
    """All (``is_all``) or any of numeric ``leaves`` in one closure, one call per rule rather
    than per leaf. A comparison passes when ``op`` holds, fails when it does not on a known
    number, and is missing on None/NaN/pd.NA; anything else is an `InvalidInput`."""
    specs = tuple(
        (leaf.name, leaf.value, OPS[leaf.op], leaf.text, leaf.op, leaf.threshold, leaf)
        for leaf in leaves
    )
    decided = not is_all  # all: a fail decides (False); any: a pass decides (True)

    def ev_numbers(f: Mapping[str, Any], log: Log) -> Any:
        out: Any = is_all
        for name, value, op, text, sym, shown, leaf in specs:
            v = f[name]
            try:
                if op(v, value):
                    log.append((section, rule_id, text, name, sym, shown, v, "pass"))
                    if decided:
                        out = True
                    continue
                if v == v:  # not NaN
                    log.append((section, rule_id, text, name, sym, shown, v, "fail"))
                    if is_all:
                        out = False
                    continue
            except TypeError:  # None, pd.NA, or not a number at all
                if not _is_missing(v):
                    raise _bad_value(leaf, v) from None
            log.append((section, rule_id, text, name, sym, shown, v, "missing"))
            if out is is_all:
                out = None
        return out

    return ev_numbers


def _vector_not(child: Vector) -> Vector:
    return lambda cols: child(cols)[::-1]


def _vector_group(children: tuple[Vector, ...], is_all: bool) -> Vector:
    def vev(cols: Columns) -> Masks:
        t, f = children[0](cols)
        t, f = t.copy(), f.copy()
        for child in children[1:]:
            ct, cf = child(cols)
            if is_all:
                t &= ct
                f |= cf
            else:
                t |= ct
                f &= cf
        return t, f

    return vev


def _vector_leaf(leaf: Leaf) -> Vector:
    name, value = leaf.name, leaf.value
    if leaf.kind in ("number", "boolean"):
        # booleans: any non-zero is true, as bool(v) in the scalar path
        op, threshold = (
            (OPS[leaf.op], value)
            if leaf.kind == "number"
            else ((operator.ne, 0.0) if value else (operator.eq, 0.0))
        )

        def vev_num(cols: Columns) -> Masks:
            arr = cols.num(name)
            known = ~np.isnan(arr)
            r = op(arr, threshold)
            return r & known, ~r & known

        return vev_num
    negate = leaf.op == "not in"

    def vev_cat(cols: Columns) -> Masks:
        codes, uniques = cols.cat(name)
        member = np.fromiter(
            ((u in value) is not negate for u in uniques), dtype=bool, count=len(uniques)
        )
        known = codes >= 0
        r = np.append(member, False)[codes]  # code -1 picks the trailing False
        return r & known, ~r & known

    return vev_cat
