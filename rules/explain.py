"""Explanations: every condition checked, and the gap to the next tier, in program words.

Built only when read, and only from the engine's own compiled conditions
(`rules.compile.Compiled`): the evaluator logs one flat tuple per condition, laid out as a
`Check`, so a check costs one tuple copy, and the gap reads each condition's outcome from
that same log; text is formatted only when rendered, with amounts in the
unit the feature registry declares: "$42,000 more revenue_won_365d", "1 more certified_staff".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from itertools import repeat
from typing import Any, NamedTuple

from features import registry
from rules.compile import Compiled, Log
from rules.conditions import All, AnyOf, Leaf, to_text

_PLURAL = {"days": "days", "employees": "employees", "score": "points"}


class Check(NamedTuple):
    """One condition checked for one partner."""

    section: str  # track | tier | incentive | action
    rule_id: str
    condition: str
    feature: str
    op: str
    threshold: Any
    actual: Any
    outcome: str  # pass | fail | missing

    def text(self) -> str:
        shown = "missing" if self.outcome == "missing" else fmt_value(self.feature, self.actual)
        return f"[{self.outcome}] {self.section} {self.rule_id}: {self.condition} (actual {shown})"


class GapItem(NamedTuple):
    """One unmet requirement of the next tier and by how much it is missed."""

    feature: str
    op: str
    threshold: Any
    actual: Any
    shortfall: float | None  # in the feature's unit; None when not numeric or missing
    alternative: bool  # one of several alternatives (under `any`)
    text: str


_UNITS: dict[str, str] = {}  # the registry is fixed once imported: look each name up once


def unit(name: str) -> str:
    u = _UNITS.get(name)
    if u is None:
        feature = registry.get(name)
        u = _UNITS[name] = (
            feature.unit
            if feature
            else "ratio"
            if name in ("churn_risk", "deal_acceptance")
            else ""
        )
    return u


def fmt_amount(name: str, amount: float) -> str:
    u = unit(name)
    if u == "USD":
        return f"${amount:,.0f}" if amount >= 1 or amount == 0 else f"${amount:,.2f}"
    if u == "count":
        return f"{amount:,.0f}"
    text = f"{amount:,.0f}" if float(amount).is_integer() else f"{amount:,.3g}"
    return f"{text} {_PLURAL[u]}" if u in _PLURAL else text


def fmt_value(name: str, value: Any) -> str:
    if isinstance(value, (bool, str)) or value is None:
        return str(value)
    try:
        return fmt_amount(name, float(value))
    except (TypeError, ValueError):
        return repr(value)


def outcome_word(outcome: Any) -> str:
    return "missing" if outcome is None else "pass" if outcome else "fail"


_new = tuple.__new__  # a log entry already holds a Check's fields: one C call per check


def checks_of(log: Log) -> list[Check]:
    """Every entry of ``log`` as a `Check`."""
    return list(map(_new, repeat(Check, len(log)), log))


def checks_from(log: Log, spans: Iterable[tuple[str, str, int, int, Any]]) -> list[Check]:
    """The checks of the log entries inside ``spans`` (section, rule id, start, end, outcome)."""
    out: list[Check] = []
    for _, _, start, end, _ in spans:
        out += map(_new, repeat(Check, end - start), log[start:end])
    return out


def leaf_gap(leaf: Leaf, v: Any, outcome: str, alternative: bool = False) -> GapItem:
    """How ``leaf`` misses with actual value ``v`` and its checked ``outcome``."""
    name, op, thr = leaf.name, leaf.op, leaf.value
    if outcome == "missing":
        return _new(GapItem, (name, op, thr, v, None, alternative, f"{name} is missing"))
    if leaf.kind == "number" and op in _BOUNDS:
        up = op in (">=", ">")
        short = float(thr - v) if up else float(v - thr)
        if unit(name) == "count":
            short = math.floor(short) + 1 if op in (">", "<") else math.ceil(short)
            text = f"{fmt_amount(name, short)} {'more' if up else 'fewer'} {name}"
        else:
            strict = "just over " if op in (">", "<") else ""
            text = f"{strict}{fmt_amount(name, short)} {'more' if up else 'less'} {name}"
        return _new(GapItem, (name, op, thr, v, short, alternative, text))
    if leaf.kind == "category":
        values = ", ".join(leaf.values())
        need = "one of" if op == "in" else "none of"
        text = f"{name} must be {need} [{values}] (is {v})"
        return _new(GapItem, (name, op, leaf.values(), v, None, alternative, text))
    want = str(thr).lower() if leaf.kind == "boolean" else fmt_value(name, thr)
    verb = "must not be" if op == "!=" else "must be"
    return _new(GapItem, (name, op, thr, v, None, alternative, f"{name} {verb} {want}"))


_BOUNDS = frozenset((">=", ">", "<=", "<"))


def log_gap(leaves: tuple[Leaf, ...], entries: Log) -> list[GapItem]:
    """The gap of a condition that requires all of ``leaves``, from the log entries its
    evaluation wrote (same order): every leaf that did not pass."""
    pairs = zip(leaves, entries, strict=True)
    return [leaf_gap(leaf, e[6], e[7]) for leaf, e in pairs if e[7] != "pass"]


def gap_items(
    node: Compiled, features: Mapping[str, Any], alternative: bool = False
) -> list[GapItem]:
    """The unmet requirements of a compiled condition (empty when it holds), read from the
    log of its own scalar evaluation: what the engine decided is what the gap explains."""
    cond = node.cond
    if cond is None:
        return []
    if isinstance(cond, Leaf):
        _, ((*_, actual, outcome),) = node.evaluate(features)
        return [] if outcome == "pass" else [leaf_gap(cond, actual, outcome, alternative)]
    if isinstance(cond, All):
        return [g for c in node.children for g in gap_items(c, features, alternative)]
    if isinstance(cond, AnyOf):
        per_child = [gap_items(c, features, True) for c in node.children]
        if any(not items for items in per_child):
            return []
        return [g for items in per_child for g in items]
    held, log = node.children[0].evaluate(features)
    if held is False:
        return []
    if held is None:  # unknown: the missing values are the gap
        return [
            leaf_gap(leaf.cond, e[6], e[7], alternative)  # type: ignore[arg-type]
            for leaf, e in zip(node.leaves(), log, strict=True)
            if e[7] == "missing"
        ]
    return [GapItem("", "not", None, None, None, alternative, f"must not hold: {to_text(cond)}")]
