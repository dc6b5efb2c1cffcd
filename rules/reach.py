"""Reachability under FIRST hit: a rule is shadowed when an earlier rule matches every
partner it would match, and unreachable when its own conditions contradict each other.

Conditions are reduced to boxes (per name: a numeric interval, a category set or a
boolean); only conjunctions are analysed. The analysis is conservative: it never reports
a rule that could still be hit (a later rule's extra, unanalysable conditions only make it
narrower; an earlier rule with unanalysable conditions is never used as the shadow).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rules.conditions import All, Condition, Leaf


@dataclass(frozen=True)
class Interval:
    lo: float = -math.inf
    lo_incl: bool = False
    hi: float = math.inf
    hi_incl: bool = False

    def meet(self, other: Interval) -> Interval:
        lo, lo_incl = max((self.lo, not self.lo_incl), (other.lo, not other.lo_incl))
        hi, hi_incl = min((self.hi, self.hi_incl), (other.hi, other.hi_incl))
        return Interval(lo, not lo_incl, hi, hi_incl)

    def empty(self) -> bool:
        return self.lo > self.hi or (self.lo == self.hi and not (self.lo_incl and self.hi_incl))

    def within(self, other: Interval) -> bool:
        lo_ok = self.lo > other.lo or (self.lo == other.lo and (other.lo_incl or not self.lo_incl))
        hi_ok = self.hi < other.hi or (self.hi == other.hi and (other.hi_incl or not self.hi_incl))
        return lo_ok and hi_ok


@dataclass(frozen=True)
class Members:
    include: frozenset[str] | None = None  # None: any value
    exclude: frozenset[str] = frozenset()

    def meet(self, other: Members) -> Members:
        if self.include is None:
            include = other.include
        elif other.include is None:
            include = self.include
        else:
            include = self.include & other.include
        return Members(include, self.exclude | other.exclude)

    def empty(self) -> bool:
        return self.include is not None and not (self.include - self.exclude)

    def within(self, other: Members) -> bool:
        mine = None if self.include is None else self.include - self.exclude
        if other.include is not None and (mine is None or not mine <= other.include):
            return False
        return (
            not other.exclude
            or (mine is not None and not mine & other.exclude)
            or (other.exclude <= self.exclude)
        )


Constraint = Interval | Members | bool
Box = dict[str, Constraint]


def _leaf_constraint(leaf: Leaf) -> Constraint | None:
    v = leaf.value
    if leaf.kind == "number":
        return {
            ">=": Interval(lo=v, lo_incl=True),
            ">": Interval(lo=v),
            "<=": Interval(hi=v, hi_incl=True),
            "<": Interval(hi=v),
            "==": Interval(v, True, v, True),
        }.get(leaf.op)
    if leaf.kind == "boolean":
        return bool(v)
    return Members(include=v) if leaf.op == "in" else Members(exclude=v)


def to_box(cond: Condition | None, *, strict: bool) -> Box | None:
    """The box of a conjunction; None if it cannot be analysed. ``strict=False`` skips
    unrepresentable leaves (safe for the rule being checked, never for its shadow)."""
    if cond is None:
        return {}
    parts = cond.children if isinstance(cond, All) else (cond,)
    box: Box = {}
    for part in parts:
        c = _leaf_constraint(part) if isinstance(part, Leaf) else None
        if c is None:
            if strict:
                return None
            continue
        name = part.name  # type: ignore[union-attr]
        prev = box.get(name)
        if prev is None:
            box[name] = c
        elif isinstance(prev, bool) or isinstance(c, bool):
            box[name] = c if prev == c else Interval(1, False, 0, False)  # contradiction
        else:
            box[name] = prev.meet(c)  # type: ignore[arg-type]
    return box


def box_empty(box: Box) -> bool:
    return any(not isinstance(c, bool) and c.empty() for c in box.values())


def box_within(inner: Box, outer: Box) -> bool:
    """Every partner satisfying ``inner`` also satisfies ``outer``."""
    for name, oc in outer.items():
        ic = inner.get(name)
        if ic is None or type(ic) is not type(oc):
            return False
        if isinstance(oc, bool):
            if ic != oc:
                return False
        elif not ic.within(oc):  # type: ignore[union-attr, arg-type]
            return False
    return True


def shadowing(conds: list[Condition | None]) -> dict[int, int | None]:
    """For each rule that can never be hit: the index of the earlier rule that shadows it,
    or None when its own conditions contradict each other."""
    found: dict[int, int | None] = {}
    strict = [to_box(c, strict=True) for c in conds]
    for i, cond in enumerate(conds):
        mine = to_box(cond, strict=False)
        if mine is None:
            continue
        if box_empty(mine):
            found[i] = None
            continue
        for j in range(i):
            earlier = strict[j]
            if earlier is not None and box_within(mine, earlier):
                found[i] = j
                break
    return found
