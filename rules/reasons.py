"""Why an action was recommended: the conditions that made it eligible, then its numbers.

One partner (`reasons`): from the checks the rules engine logged while evaluating the
action's condition. Every partner (`frame_reasons`): the same text built column-wise — per
action, each condition leaf is evaluated once over the whole frame with the vector view of
the action's own compiled condition (`Rule.compiled`), each distinct actual value is
formatted once (`rules.explain.fmt_value`), and the "priority … = propensity … × value … ×
weight …" line takes one formatting pass over that action's rows. Both give the same
strings for the same partner (tested on simulated partners).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np
import pandas as pd

from rules.columns import Columns, inject_decided
from rules.compile import Compiled
from rules.conditions import DECIDED, Leaf
from rules.explain import Check, fmt_amount, fmt_value
from rules.model import Action, Rulebook


class Ranked(Protocol):
    """What arbitration ranked (`serving.arbitration.Ranked` is one)."""

    @property
    def action_id(self) -> str: ...
    @property
    def priority(self) -> float: ...
    @property
    def propensity(self) -> float: ...
    @property
    def value(self) -> float: ...
    @property
    def weight(self) -> float: ...


def action_by_id(rulebook: Rulebook, action_id: str) -> Action:
    return next(a for a in rulebook.actions if a.id == action_id)


def _source(action: Action) -> str:
    if action.learned:
        return "prior"  # serving names a learned posterior (`propensity_source`)
    if action.propensity and action.invert:
        return f"1 - {action.propensity}"
    return action.propensity or "none"


def reasons(rulebook: Rulebook, r: Ranked, checks: Sequence[Check]) -> list[str]:
    """The conditions that made the action eligible, then the numbers that ranked it."""
    action = action_by_id(rulebook, r.action_id)
    out = [
        f"{c.condition} (actual {fmt_value(c.feature, c.actual)})"
        for c in checks
        if c.outcome == "pass"
    ]
    out.append(
        f"priority {r.priority:.4g} = propensity {r.propensity:.3f} ({_source(action)}) "
        f"× value {_money(action, r.value)} ({action.value or 'none'}) "
        f"× weight {r.weight:g}"
    )
    return out


def _money(action: Action, value: float) -> str:
    """An action's value as people read it: $9,329 (or 1 when the action states none)."""
    if action.value_expr is None:
        return f"{value:g}"
    if action.value_unit == "USD":
        return fmt_amount("revenue_won_365d", value)  # the registry's USD format
    return f"{value:,.0f} {action.value_unit}"


# --- every partner ------------------------------------------------------------------------


def frame_reasons(
    rulebook: Rulebook, ranked: pd.DataFrame, scored: pd.DataFrame, tiers: pd.DataFrame
) -> list[list[str]]:
    """`reasons` for every row of ``ranked`` (partner_id, action_id, priority, propensity,
    value, weight), without a loop over rows: ``scored`` is the frame the rules saw (features
    and model outputs, one row per partner) and ``tiers`` the decided tiers, row-aligned."""
    n = len(ranked)
    if n == 0:
        return []
    rows = pd.Index(scored["partner_id"].astype(str)).get_indexer(
        pd.Index(ranked["partner_id"].astype(str))
    )
    values = _Values(scored, tiers)
    numbers = {
        c: ranked[c].to_numpy(dtype=np.float64)
        for c in ("priority", "propensity", "value", "weight")
    }
    codes, uniques = pd.factorize(ranked["action_id"].astype(str))
    order, bounds = _groups(codes, len(uniques))
    where: list[np.ndarray] = []
    parts: list[list[list[str]]] = []
    for k, action_id in enumerate(uniques):
        at = order[bounds[k] : bounds[k + 1]]
        action = action_by_id(rulebook, str(action_id))
        mine = {c: v[at] for c, v in numbers.items()}
        for idx, columns in _action_reasons(action, rows[at], values, mine):
            where.append(at[idx])
            parts.append(columns)
    slot = np.empty(n, dtype=np.int64)
    slot[np.concatenate(where)] = np.arange(n)
    with _collector_paused():
        texts: list[list[str]] = []
        for columns in parts:
            texts += map(list, zip(*columns, strict=True))
        return list(map(texts.__getitem__, slot.tolist()))


def _action_reasons(
    action: Action, rows: np.ndarray, values: _Values, numbers: dict[str, np.ndarray]
) -> list[tuple[np.ndarray, list[list[str]]]]:
    """One action's rows in groups whose conditions passed alike: (positions among
    ``rows``, the group's reason columns — each passing condition's text, then the
    priority line)."""
    m = len(rows)
    passed: list[np.ndarray] = []
    lines: list[np.ndarray] = []
    for leaf in action.compiled.leaves():
        hit = values.passes(leaf)[rows]
        line = np.empty(m, dtype=object)
        line[hit] = values.texts(leaf, rows[hit])
        passed.append(hit)
        lines.append(line)
    priority = np.asarray(_priority_lines(action, numbers), dtype=object)
    if not passed:
        return [(np.arange(m), [priority.tolist()])]
    patterns, group = _patterns(passed)
    order, bounds = _groups(group, len(patterns))
    out = []
    for g, pattern in enumerate(patterns):
        idx = order[bounds[g] : bounds[g + 1]]
        kept = [line[idx].tolist() for line, hit in zip(lines, pattern, strict=True) if hit]
        out.append((idx, [*kept, priority[idx].tolist()]))
    return out


def _patterns(passed: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The distinct pass patterns over the leaves (one boolean row each) and each row's
    pattern number."""
    matrix, width = np.column_stack(passed), len(passed)
    if matrix.all():  # the usual case: every leaf of an `all` holds on every eligible row
        return np.ones((1, width), dtype=bool), np.zeros(len(matrix), dtype=np.int64)
    if width < 63:
        bits = np.arange(width, dtype=np.int64)
        uniq, group = np.unique(matrix.astype(np.int64) @ (1 << bits), return_inverse=True)
        return (uniq[:, None] >> bits & 1).astype(bool), group
    patterns, group = np.unique(matrix, axis=0, return_inverse=True)
    return patterns, group.ravel()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (restored even on error): building one small list
    per row, all of them kept, otherwise triggers full collections over the whole heap
    that cannot free anything here and cost more than the lists themselves."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _groups(codes: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions sorted by code (stable) and where each code's run starts and ends."""
    order = np.argsort(codes, kind="stable")
    return order, np.searchsorted(codes[order], np.arange(count + 1))


def _priority_lines(action: Action, numbers: dict[str, np.ndarray]) -> list[str]:
    """The "priority … = propensity … × value … × weight …" line of each row."""
    head = f"({_source(action)}) × value "
    tail = f" ({action.value or 'none'}) × weight "
    value = _by_value(numbers["value"], lambda v: _money(action, v))
    weight = _by_value(numbers["weight"], lambda w: f"{w:g}")
    return [
        f"priority {p:.4g} = propensity {q:.3f} {head}{v}{tail}{w}"
        for p, q, v, w in zip(
            numbers["priority"].tolist(),
            numbers["propensity"].tolist(),
            value.tolist(),
            weight.tolist(),
            strict=True,
        )
    ]


def _by_value(x: np.ndarray, render: Callable[[float], str]) -> np.ndarray:
    """``render`` of each float, called once per distinct value (bit for bit: -0.0 ≠ 0.0)."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    _, first, inverse = np.unique(x.view(np.int64), return_index=True, return_inverse=True)
    rendered = np.empty(len(first), dtype=object)
    rendered[:] = [render(v) for v in x[first].tolist()]
    return rendered[inverse]


class _Values:
    """The columns action conditions read — features, model outputs and the decided tier —
    with each leaf's pass mask over every row and the text of its actual values."""

    def __init__(self, scored: pd.DataFrame, tiers: pd.DataFrame) -> None:
        self.scored, self.tiers = scored, tiers
        self.cols = Columns(scored)
        inject_decided(self.cols, tiers)  # as `rules.engine` does before actions
        self._objects: dict[str, np.ndarray] = {}

    def passes(self, leaf: Compiled) -> np.ndarray:
        """Rows where the leaf's own comparison holds: its check's outcome is "pass"."""
        return leaf.vector(self.cols)[0]

    def texts(self, leaf: Compiled, rows: np.ndarray) -> np.ndarray:
        """ "<condition> (actual <value>)" at ``rows``, values shown as `fmt_value` shows the
        plain Python value the one-partner path reads from the same cell."""
        cond = leaf.cond
        assert isinstance(cond, Leaf)
        name, head = cond.name, f"{cond.text} (actual "
        series = self.tiers[name] if name in DECIDED else self.scored[name]
        dtype = series.dtype
        if pd.api.types.is_bool_dtype(dtype):  # passing rows are never missing
            flags = self.cols.num(name)[rows] != 0
            return np.where(flags, f"{head}True)", f"{head}False)").astype(object)
        if pd.api.types.is_numeric_dtype(dtype):  # fmt_value of a number: fmt_amount(float)
            return _by_value(self.cols.num(name)[rows], lambda v: f"{head}{fmt_amount(name, v)})")
        objects = self._objects.get(name)
        if objects is None:
            objects = self._objects[name] = series.to_numpy(dtype=object)
        seen: dict[tuple[type, Any], str] = {}
        out = np.empty(len(rows), dtype=object)
        out[:] = [_text(head, name, v, seen) for v in objects[rows].tolist()]
        return out


def _text(head: str, name: str, value: Any, seen: dict[tuple[type, Any], str]) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    try:
        key = (value.__class__, value)
        got = seen.get(key)
    except TypeError:  # unhashable: format it every time
        return f"{head}{fmt_value(name, value)})"
    if got is None:
        got = seen[key] = f"{head}{fmt_value(name, value)})"
    return got
