"""Action values and reason sentences: arithmetic over features, parsed, never evaluated.

A value expression is arithmetic (``+ - * /``, unary minus, parentheses, numbers, ``min(..)``,
``max(..)``) over numeric features and model outputs, e.g.
``churn_risk * revenue_won_365d * 0.3``. It is parsed with `ast.parse` (which only builds a
tree) and walked into closures over a closed set of node types: nothing from YAML reaches
eval/exec. Like conditions, an expression compiles once into a scalar view (one partner, a
mapping) and a vector view (a whole frame, `rules.columns.Columns`), which agree (tested).

Units: a feature whose registry unit is the program's currency counts as money, everything
else (counts, ratios, days, model outputs) as a pure number; ``+``/``-``/``min``/``max`` need
both sides in the same unit (a bare number takes the unit of the other side: ``revenue + 500``
is $500 more), ``*`` adds money powers, ``/`` subtracts them. An action's value must come out
as money to the power one: `customer_count` alone, or `revenue * revenue`, is refused; a bare
number alone is an amount in the stated unit.

A reason template is a `str.format` string whose fields are feature names, model outputs,
``tier``, ``partner`` (the partner's name, else its id) and ``value`` (the action's value).
"""

from __future__ import annotations

import ast
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from features import registry
from rules.columns import Columns
from rules.conditions import DECIDED, MODEL_OUTPUTS
from rules.explain import fmt_amount, fmt_value

ScalarFn = Callable[[Mapping[str, Any]], float]
VectorFn = Callable[[Columns], np.ndarray]
TEMPLATE_EXTRA = ("partner", "value")


class ExpressionError(ValueError):
    """A value expression that cannot be compiled; the message says why and where."""


@dataclass(frozen=True, eq=False)
class ValueExpr:
    """A compiled value expression: its text, the names it reads, its money power, both views."""

    text: str
    names: frozenset[str]
    money: int  # the power of the currency the expression is in (1 = money)
    constant: bool  # a bare number: an amount in whatever unit the action states
    scalar: ScalarFn
    vector: VectorFn


_BIN = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide}
_FUNCS = {"min": np.fmin, "max": np.fmax}


def compile_value(text: str, currency: str) -> ValueExpr:
    """Parse and compile ``text``; `ExpressionError` names the offending part."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"not an arithmetic expression: {exc.msg}") from None
    names: set[str] = set()
    unit, scalar, vector = _node(tree.body, currency, names)
    return ValueExpr(
        text, frozenset(names), 1 if unit is None else unit, unit is None, scalar, vector
    )


def _unit_of(name: str, currency: str) -> int:
    if name in MODEL_OUTPUTS:
        return 0
    feature = registry.get(name)
    if feature is None:
        hint = registry.closest(name, [*registry.names(), *MODEL_OUTPUTS])
        raise ExpressionError(
            f"unknown feature '{name}'" + (f" (did you mean '{hint}'?)" if hint else "")
        )
    if not feature.numeric:
        raise ExpressionError(f"'{name}' is a {feature.kind}, a number is needed here")
    return 1 if feature.unit == currency else 0


def _num(value: Any) -> float:
    try:
        return float(value) if value is not None and value == value else np.nan
    except (TypeError, ValueError):
        return np.nan


Unit = int | None  # money power; None: a bare number, whose unit is whatever it meets
Compiled3 = tuple[Unit, ScalarFn, VectorFn]


def _same(units: list[Unit]) -> tuple[bool, Unit]:
    """(whether the terms of a sum agree, their common unit: None when all are bare numbers)."""
    known = {u for u in units if u is not None}
    if len(known) > 1:
        return False, None
    return True, (known.pop() if known else None)


def _node(node: ast.expr, currency: str, names: set[str]) -> Compiled3:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        if isinstance(node.value, bool):
            raise ExpressionError(f"'{node.value}' is not a number")
        c = float(node.value)
        return None, lambda f: c, lambda cols: np.full(cols.n, c)
    if isinstance(node, ast.Name):
        name = node.id
        unit = _unit_of(name, currency)
        names.add(name)
        return unit, lambda f: _num(f.get(name)), lambda cols: cols.num(name)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner, s, v = _node(node.operand, currency, names)
        if isinstance(node.op, ast.UAdd):
            return inner, s, v
        return inner, lambda f: -s(f), lambda cols: -v(cols)
    if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
        return _binary(node, currency, names)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCS
        and len(node.args) >= 2
        and not node.keywords
    ):
        parts = [_node(a, currency, names) for a in node.args]
        agree, common = _same([u for u, _, _ in parts])
        if not agree:
            raise ExpressionError(f"{node.func.id}(..) of amounts in different units")
        fn = _FUNCS[node.func.id]
        ss, vs = [s for _, s, _ in parts], [v for _, _, v in parts]

        def scalar(f: Mapping[str, Any]) -> float:
            out = ss[0](f)
            for s in ss[1:]:
                out = float(fn(out, s(f)))
            return out

        def vector(cols: Columns) -> np.ndarray:
            out = vs[0](cols)
            for v in vs[1:]:
                out = fn(out, v(cols))
            return out

        return common, scalar, vector
    raise ExpressionError(
        f"'{ast.unparse(node)}' is not allowed (numbers, features, + - * /, min, max)"
    )


def _binary(node: ast.BinOp, currency: str, names: set[str]) -> Compiled3:
    lu, ls, lv = _node(node.left, currency, names)
    ru, rs, rv = _node(node.right, currency, names)
    op = type(node.op)
    unit: Unit
    if op in (ast.Add, ast.Sub):
        agree, common = _same([lu, ru])
        if not agree:
            raise ExpressionError(
                f"'{ast.unparse(node)}' adds or subtracts amounts in different units "
                f"({_unit_name(lu or 0, currency)} and {_unit_name(ru or 0, currency)})"
            )
        unit = common
    elif lu is None and ru is None:
        unit = None
    else:
        a, b = lu or 0, ru or 0
        unit = a + b if op is ast.Mult else a - b
    fn = _BIN[op]

    def scalar(f: Mapping[str, Any]) -> float:
        a, b = ls(f), rs(f)
        if op is ast.Div and b == 0:
            return np.nan
        return float(fn(a, b))

    def vector(cols: Columns) -> np.ndarray:
        a, b = lv(cols), rv(cols)
        if op is ast.Div:
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(b == 0, np.nan, a / np.where(b == 0, 1.0, b))
        return np.asarray(fn(a, b), dtype=np.float64)

    return unit, scalar, vector


def _unit_name(power: int, currency: str) -> str:
    if power == 0:
        return "a pure number (count, ratio, days or model output)"
    return currency if power == 1 else f"{currency}^{power}"


def unit_name(power: int, currency: str) -> str:
    """How a money power reads in a message."""
    return _unit_name(power, currency)


# --- reason templates ---------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Template:
    """A reason sentence: literal text and the fields it fills in, in order."""

    text: str
    parts: tuple[tuple[str, str | None], ...]  # (literal before, field or None)

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(f for _, f in self.parts if f is not None)

    def render(self, values: Mapping[str, Any], value_unit: str = "USD") -> str:
        """The sentence for one partner (missing values read "unknown")."""
        out: list[str] = []
        for literal, name in self.parts:
            out.append(literal)
            if name is not None:
                out.append(show(name, values.get(name), value_unit))
        return "".join(out)


def show(name: str, value: Any, value_unit: str = "USD") -> str:
    """A field of a sentence as people read it: $36,160, 64, 86%, Gold (the template
    says "days" or "deals" itself)."""
    if name == "value":
        v = _num(value)
        return (
            "unknown"
            if v != v
            else (f"${v:,.0f}" if value_unit == "USD" else f"{v:,.0f} {value_unit}")
        )
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and value != value):
        return "unknown"
    if name in MODEL_OUTPUTS:
        return f"{float(value):.0%}"
    feature = registry.get(name)
    if feature is not None and feature.numeric:
        v = _num(value)
        if v != v:
            return "unknown"
        if feature.unit == "USD":
            return fmt_amount(name, v)
        return f"{v:,.0f}" if v.is_integer() else f"{v:,.2g}"  # the template names the unit
    return fmt_value(name, value)


def parse_template(text: str) -> Template:
    """Split ``text`` into literals and fields; `ExpressionError` on a bad or unknown field."""
    try:
        pieces = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ExpressionError(f"bad reason template: {exc}") from None
    allowed = {*registry.names(), *MODEL_OUTPUTS, *DECIDED, *TEMPLATE_EXTRA}
    parts: list[tuple[str, str | None]] = []
    for literal, field, spec, conversion in pieces:
        if field == "":
            raise ExpressionError("empty field '{}' in the reason: name a feature")
        if field is not None and (spec or conversion or field not in allowed):
            if field not in allowed:
                hint = registry.closest(field, sorted(allowed))
                raise ExpressionError(
                    f"unknown field '{{{field}}}' in the reason"
                    + (f" (did you mean '{hint}'?)" if hint else "")
                )
            raise ExpressionError(f"field '{{{field}}}' takes no format spec or conversion")
        parts.append((literal, field))
    return Template(text, tuple(parts))
