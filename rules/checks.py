"""Validation helpers of the loader: a problem collector tied to the YAML source, the shape
checks (pydantic) and the rule-list checks (duplicates, fallbacks, reachability)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from features import registry
from rules import conditions as cnd
from rules.reach import shadowing
from rules.source import NodePath, Source
from tierwise.errors import Problem

M = TypeVar("M", bound=BaseModel)


class Checker:
    """Collects problems against a Source while the rulebook is validated."""

    def __init__(self, src: Source) -> None:
        self.src = src
        self.problems: list[Problem] = list(src.problems)

    def add(
        self, path: NodePath, message: str, *, rule_id: str | None = None, value: Any = None
    ) -> None:
        self.problems.append(self.src.problem(path, message, rule_id=rule_id, value=value))

    def model(self, cls: type[M], data: Any, path: NodePath) -> M | None:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            rule_id = data.get("id") if isinstance(data, dict) else None
            for err in exc.errors():
                loc = tuple(x for x in err["loc"] if isinstance(x, (str, int)))
                self.add(
                    (*path, *loc),
                    _shape_message(err, loc),
                    rule_id=_id(rule_id),
                    value=_value(err.get("input")),
                )
            return None

    def condition(
        self, raw: Any, vocab: cnd.Vocabulary, path: NodePath, rule_id: str
    ) -> cnd.Condition | None:
        if raw is None:
            return None  # no condition: always holds (fallback tiers and tracks)
        issues: list[cnd.Issue] = []
        cond = cnd.parse(raw, vocab, (*path, "when"), issues)
        for issue in issues:
            self.add(issue.path, issue.message, rule_id=rule_id, value=issue.value)
        return cond


def _id(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _value(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        text = json.dumps(value, default=str)
        return text if len(text) <= 80 else text[:77] + "..."
    return value


def _shape_message(err: Any, loc: tuple[str | int, ...]) -> str:
    where = ".".join(str(x) for x in loc) or "section"
    if err["type"] == "extra_forbidden":
        return f"unknown key '{loc[-1]}'" if loc else "unknown key"
    if err["type"] == "missing":
        return f"missing required key '{where}'"
    return f"{where}: {err['msg']}"


def section_items(
    check: Checker, cls: type[M], data: dict[str, Any], section: str, required: bool = False
) -> list[tuple[int, M]]:
    raw = data.get(section)
    if raw is None:
        if required:
            check.add((section,), f"missing required section '{section}'")
        return []
    if not isinstance(raw, list):
        check.add((section,), f"'{section}' must be a list", value=_value(raw))
        return []
    if required and not raw:
        check.add((section,), f"'{section}' must not be empty")
    out: list[tuple[int, M]] = []
    for i, item in enumerate(raw):
        spec = check.model(cls, item, (section, i))
        if spec is not None:
            out.append((i, spec))
    return out


def duplicates(check: Checker, section: str, ids: Sequence[tuple[int | NodePath, str]]) -> None:
    seen: dict[str, int | NodePath] = {}
    for where, rule_id in ids:
        path = where if isinstance(where, tuple) else (section, where)
        if rule_id in seen:
            first = seen[rule_id]
            first_path = first if isinstance(first, tuple) else (section, first)
            _, line = check.src.where((*first_path, "id"))
            check.add(
                (*path, "id"),
                f"duplicate id '{rule_id}' (first defined at line {line})",
                rule_id=rule_id,
                value=rule_id,
            )
        else:
            seen[rule_id] = where


def reach(
    check: Checker, kind: str, rules: list[tuple[NodePath, str, Any, cnd.Condition | None]]
) -> None:
    """Missing fallback, rules after the fallback, shadowed and self-contradicting rules."""
    if not rules:
        return
    last_path, last_id, last_raw, _ = rules[-1]
    if last_raw is not None and all(raw is not None for _, _, raw, _ in rules):
        check.add(
            last_path,
            f"missing fallback {kind}: the last {kind} ('{last_id}') has a "
            f"condition, so some partners would get no {kind}; add a last {kind} "
            "without `when`",
            rule_id=last_id,
        )
    if not all(raw is None or cond is not None for _, _, raw, cond in rules):
        return  # parse problems are reported; reachability would only add noise
    found = shadowing([cond for *_, cond in rules])
    for i, by in found.items():
        path, rule_id, _, _ = rules[i]
        if by is None:
            check.add(
                (*path, "when"),
                f"unreachable {kind} '{rule_id}': its conditions can never all hold",
                rule_id=rule_id,
            )
            continue
        other = rules[by][1]
        why = "has no condition" if rules[by][2] is None else "matches every partner it would"
        check.add(
            path,
            f"unreachable {kind} '{rule_id}': {kind} '{other}' comes first and "
            f"{why} (FIRST hit wins; order {kind}s from the most to the least demanding)",
            rule_id=rule_id,
            value=rule_id,
        )


def numeric_feature(check: Checker, name: str, path: NodePath, rule_id: str) -> None:
    feature = registry.get(name)
    if feature is None and name not in cnd.MODEL_OUTPUTS:
        hint = registry.closest(name, [*registry.names(), *cnd.MODEL_OUTPUTS])
        check.add(
            path,
            f"unknown feature '{name}'" + (f" (did you mean '{hint}'?)" if hint else ""),
            rule_id=rule_id,
            value=name,
        )
    elif feature is not None and not feature.numeric:
        check.add(
            path,
            f"type mismatch: '{name}' is a {feature.kind}, a number is needed here",
            rule_id=rule_id,
            value=name,
        )
