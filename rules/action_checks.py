"""Loader checks of actions: one unit of value, reason sentences, the plan's spread.

Every action's value is the expected gain in the program's currency over the program's
horizon (`settings.currency`, `settings.value_horizon_days`): a value without a unit, in
another unit, over another horizon, or whose expression does not come out in money is a
problem naming file, line, action and the bad value.
"""

from __future__ import annotations

from rules.checks import Checker
from rules.source import NodePath
from rules.values import (
    ExpressionError,
    Template,
    ValueExpr,
    compile_value,
    parse_template,
    unit_name,
)
from rules.yaml_spec import ActionSpec, SettingsSpec, ValueSpec

EXAMPLE = "value: {expr: churn_risk * revenue_won_365d * 0.3, unit: USD, horizon_days: 365}"


def action_value(
    check: Checker, spec: ActionSpec, path: NodePath, currency: str, horizon_days: int
) -> ValueExpr | None:
    """The compiled value of an action, or None after adding every problem it has."""
    where = (*path, "value")
    value = spec.value
    if value is None:  # no stated gain: priority = propensity × weight
        return None
    if isinstance(value, str):
        check.add(
            where,
            f"value '{value}' has no unit: every action's value is an expected gain in "
            f"{currency}, e.g. {EXAMPLE}",
            rule_id=spec.id,
            value=value,
        )
        return None
    ok = _unit_and_horizon(check, spec.id, value, where, currency, horizon_days)
    try:
        expr = compile_value(value.expr, currency)
    except ExpressionError as exc:
        check.add((*where, "expr"), f"value: {exc}", rule_id=spec.id, value=value.expr)
        return None
    if expr.money != 1:
        check.add(
            (*where, "expr"),
            f"value '{value.expr}' is in {unit_name(expr.money, currency)}, not {currency}: "
            f"multiply by an amount in {currency} (e.g. revenue_won_365d, avg_deal_value_365d)",
            rule_id=spec.id,
            value=value.expr,
        )
        return None
    return expr if ok else None


def _unit_and_horizon(
    check: Checker,
    action_id: str,
    value: ValueSpec,
    where: NodePath,
    currency: str,
    horizon_days: int,
) -> bool:
    ok = True
    if value.unit is None:
        check.add(
            where,
            f"value of '{action_id}' has no unit: add unit: {currency}",
            rule_id=action_id,
            value=value.expr,
        )
        ok = False
    elif value.unit != currency:
        check.add(
            (*where, "unit"),
            f"value of '{action_id}' is in {value.unit}, but the program's unit of value is "
            f"{currency} (settings.currency)",
            rule_id=action_id,
            value=value.unit,
        )
        ok = False
    if value.horizon_days is None:
        check.add(
            where,
            f"value of '{action_id}' states no horizon: add horizon_days: {horizon_days}",
            rule_id=action_id,
            value=value.expr,
        )
        ok = False
    elif value.horizon_days != horizon_days:
        check.add(
            (*where, "horizon_days"),
            f"value of '{action_id}' is over {value.horizon_days} days, but every value is "
            f"over {horizon_days} days (settings.value_horizon_days)",
            rule_id=action_id,
            value=value.horizon_days,
        )
        ok = False
    return ok


def action_reason(check: Checker, spec: ActionSpec, path: NodePath) -> Template | None:
    if spec.reason is None:
        return None
    try:
        return parse_template(spec.reason)
    except ExpressionError as exc:
        check.add((*path, "reason"), str(exc), rule_id=spec.id, value=spec.reason)
        return None


def check_plan(check: Checker, settings: SettingsSpec, action_ids: list[str]) -> None:
    """Every capped action exists; a cap is at least 1."""
    for action_id, cap in settings.plan.action_caps.items():
        where = ("settings", "plan", "action_caps", action_id)
        if action_id not in action_ids:
            check.add(where, f"action_caps names unknown action '{action_id}'", value=action_id)
        if cap < 1:
            check.add(where, f"action cap of '{action_id}' must be at least 1", value=cap)
