"""The condition language: a closed grammar parsed into a tiny AST (never Python).

A condition in YAML is one of

- a string ``"feature op value"`` with ``op`` in ``>= > <= < == !=``,
  e.g. ``revenue_won_365d >= 250000`` or ``partner_type == referral``;
- a string ``"feature in [a, b]"`` / ``"feature not in [a, b]"`` (categories);
- a string ``"flag"`` / ``"not flag"`` for a boolean feature;
- a list of conditions (all must hold);
- a mapping with exactly one key: ``all: [..]``, ``any: [..]`` or ``not: cond``.

Names are looked up in a `Vocabulary` (registry features, model outputs and the tier
decided above); this module only parses and type-checks, `rules.compile` evaluates.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from features import registry

Kind = Literal["number", "category", "boolean"]
Path = tuple[str | int, ...]

NUMERIC_OPS = (">=", "<=", "==", "!=", ">", "<")
MODEL_OUTPUTS = ("churn_risk", "deal_acceptance")
TIER_CHANGES = ("promoted", "demoted", "unchanged", "new")
DECIDED = ("tier", "tier_change", "track")  # decided before incentives and actions

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_BOOL_RE = re.compile(rf"^(not\s+)?({_NAME})$")
_IN_RE = re.compile(rf"^({_NAME})\s+(not\s+in|in)\s+\[(.*)\]$")
_CMP_RE = re.compile(rf"^({_NAME})\s*(>=|<=|==|!=|>|<)\s*(.+)$")
_NUMBER_RE = re.compile(r"^[+-]?(\d+(_\d+)*)?(\.\d+)?([eE][+-]?\d+)?$")
_WORD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_ .+/-]*$")


@dataclass(frozen=True)
class Leaf:
    """One comparison. ``value`` is a float, a bool or a frozenset of category values."""

    name: str
    op: str  # >= > <= < == != in "not in" is
    value: Any
    kind: Kind
    text: str
    path: Path = ()
    threshold: Any = field(init=False, compare=False)  # value as shown: sorted list for sets

    def __post_init__(self) -> None:
        shown = sorted(self.value) if isinstance(self.value, frozenset) else self.value
        object.__setattr__(self, "threshold", shown)

    def values(self) -> tuple[str, ...]:
        return tuple(self.threshold) if isinstance(self.value, frozenset) else ()


@dataclass(frozen=True)
class All:
    children: tuple[Condition, ...]
    path: Path = ()


@dataclass(frozen=True)
class AnyOf:
    children: tuple[Condition, ...]
    path: Path = ()


@dataclass(frozen=True)
class Not:
    child: Condition
    path: Path = ()


Condition = Leaf | All | AnyOf | Not


@dataclass(frozen=True)
class Issue:
    """A problem found while parsing; the loader adds file and line from ``path``."""

    path: Path
    message: str
    value: Any = None


@dataclass
class Vocabulary:
    """The names a condition may use, with their kinds and (for categories) allowed values."""

    kinds: dict[str, Kind]
    allowed: dict[str, tuple[str, ...]] = field(default_factory=dict)
    forbidden: dict[str, str] = field(default_factory=dict)  # name → why not here

    @classmethod
    def default(cls, tiers: tuple[str, ...], tracks: tuple[str, ...]) -> Vocabulary:
        kinds: dict[str, Kind] = {f.name: f.kind for f in registry.FEATURES.values()}
        kinds.update({o: "number" for o in MODEL_OUTPUTS})
        kinds.update({"tier": "category", "tier_change": "category", "track": "category"})
        allowed = {"tier": tiers, "tier_change": TIER_CHANGES, "track": tracks}
        return cls(kinds, allowed)

    def without(self, names: tuple[str, ...], why: str) -> Vocabulary:
        return Vocabulary(self.kinds, self.allowed, {**self.forbidden, **dict.fromkeys(names, why)})


def parse(raw: Any, vocab: Vocabulary, path: Path, issues: list[Issue]) -> Condition | None:
    """Parse a YAML condition; append every problem to ``issues`` (None when any was found)."""
    before = len(issues)
    cond = _parse(raw, vocab, path, issues)
    return cond if len(issues) == before else None


def _parse(raw: Any, vocab: Vocabulary, path: Path, issues: list[Issue]) -> Condition | None:
    if isinstance(raw, str):
        return _parse_leaf(raw, vocab, path, issues)
    if isinstance(raw, list):
        return _group(All, raw, vocab, path, issues)
    if isinstance(raw, dict) and len(raw) == 1:
        ((key, body),) = raw.items()
        sub = (*path, key)
        if key in ("all", "any") and isinstance(body, list) and body:
            return _group(All if key == "all" else AnyOf, body, vocab, sub, issues)
        if key == "not" and body is not None:
            child = _parse(body, vocab, sub, issues)
            return Not(child, sub) if child is not None else None
        issues.append(
            Issue(sub, f"'{key}' needs a non-empty list (all/any) or one condition (not)", key)
        )
        return None
    issues.append(
        Issue(
            path,
            "a condition is a string like 'revenue_won_365d >= 250000', "
            "a list, or a mapping with one key all/any/not",
            _short(raw),
        )
    )
    return None


def _group(
    make: Callable[..., Condition],
    raw: list[Any],
    vocab: Vocabulary,
    path: Path,
    issues: list[Issue],
) -> Condition | None:
    if not raw:
        issues.append(Issue(path, "an empty list of conditions", raw))
        return None
    children = [_parse(item, vocab, (*path, i), issues) for i, item in enumerate(raw)]
    if any(c is None for c in children):
        return None
    kept = tuple(c for c in children if c is not None)
    return kept[0] if len(kept) == 1 and make is All else make(kept, path)


def _parse_leaf(text: str, vocab: Vocabulary, path: Path, issues: list[Issue]) -> Leaf | None:
    s = text = " ".join(text.split())
    if m := _IN_RE.match(s):
        name, op, body = m.group(1), " ".join(m.group(2).split()), m.group(3)
        return _membership(name, op, body, text, vocab, path, issues)
    if m := _CMP_RE.match(s):
        return _comparison(m.group(1), m.group(2), m.group(3).strip(), text, vocab, path, issues)
    if m := _BOOL_RE.match(s):
        name = m.group(2)
        if not _known(name, vocab, path, issues):
            return None
        if vocab.kinds[name] != "boolean":
            issues.append(
                Issue(
                    path,
                    f"'{name}' is a {vocab.kinds[name]}, not a boolean: "
                    "compare it (e.g. '>= 1' or '== value')",
                    text,
                )
            )
            return None
        return Leaf(name, "is", not m.group(1), "boolean", text, path)
    issues.append(
        Issue(
            path,
            f"cannot read condition '{text}': expected 'feature op value' "
            "(op one of >= > <= < == !=), 'feature in [a, b]' or 'flag'",
            text,
        )
    )
    return None


def _known(name: str, vocab: Vocabulary, path: Path, issues: list[Issue]) -> bool:
    if name in vocab.forbidden:
        issues.append(Issue(path, f"'{name}' cannot be used here: {vocab.forbidden[name]}", name))
        return False
    if name in vocab.kinds:
        return True
    pool = [n for n in vocab.kinds if n not in vocab.forbidden]
    hint = registry.closest(name, pool)
    suffix = f" (did you mean '{hint}'?)" if hint else ""
    issues.append(Issue(path, f"unknown feature '{name}'{suffix}", name))
    return False


def _membership(
    name: str, op: str, body: str, text: str, vocab: Vocabulary, path: Path, issues: list[Issue]
) -> Leaf | None:
    if not _known(name, vocab, path, issues):
        return None
    kind = vocab.kinds[name]
    if kind != "category":
        issues.append(
            Issue(
                path,
                f"type mismatch: '{op}' needs a category, but '{name}' is a "
                f"{kind} (use >= > <= < == !=)",
                text,
            )
        )
        return None
    items = [_unquote(i) for i in body.split(",") if i.strip()]
    if not items:
        issues.append(Issue(path, f"'{name} {op} []' has an empty list", text))
        return None
    if not _allowed(name, items, vocab, path, issues):
        return None
    return Leaf(name, op, frozenset(items), "category", text, path)


def _comparison(
    name: str, op: str, raw: str, text: str, vocab: Vocabulary, path: Path, issues: list[Issue]
) -> Leaf | None:
    if not _known(name, vocab, path, issues):
        return None
    kind = vocab.kinds[name]
    if kind == "number":
        number = parse_number(raw)
        if number is None:
            issues.append(
                Issue(
                    path,
                    f"malformed threshold '{raw}' for '{name}': write a plain "
                    "number such as 1000000 or 0.25 (no commas, units or symbols)",
                    raw,
                )
            )
            return None
        return Leaf(name, op, number, kind, text, path)
    if op not in ("==", "!="):
        issues.append(
            Issue(
                path,
                f"type mismatch: '{op}' needs a number, but '{name}' is a "
                f"{kind} (use == != in 'not in')",
                text,
            )
        )
        return None
    if kind == "boolean":
        flag = {"true": True, "false": False}.get(raw.lower())
        if flag is None:
            issues.append(Issue(path, f"'{name}' is a boolean: compare it with true or false", raw))
            return None
        return Leaf(name, "is", flag if op == "==" else not flag, kind, text, path)
    value = _unquote(raw)
    if parse_number(value) is not None or not _WORD_RE.match(value):
        issues.append(
            Issue(
                path,
                f"type mismatch: '{name}' is a category, but '{raw}' is not a category value",
                raw,
            )
        )
        return None
    if not _allowed(name, [value], vocab, path, issues):
        return None
    return Leaf(name, "in" if op == "==" else "not in", frozenset([value]), kind, text, path)


def _allowed(
    name: str, items: list[str], vocab: Vocabulary, path: Path, issues: list[Issue]
) -> bool:
    allowed = vocab.allowed.get(name)
    if allowed is None:
        return True
    ok = True
    for item in items:
        if item not in allowed:
            hint = registry.closest(item, list(allowed))
            label = "tier" if name == "tier" else f"{name} value"
            suffix = f" (did you mean '{hint}'?)" if hint else f" (known: {', '.join(allowed)})"
            issues.append(Issue(path, f"unknown {label} '{item}'{suffix}", item))
            ok = False
    return ok


def parse_number(raw: str) -> float | None:
    """A plain decimal number (underscores allowed between digits), else None."""
    s = raw.strip()
    if not s or s in "+-." or not _NUMBER_RE.match(s) or not any(ch.isdigit() for ch in s):
        return None
    return float(s.replace("_", ""))


def _unquote(raw: str) -> str:
    s = raw.strip()
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        return s[1:-1]
    return s


def _short(raw: Any) -> Any:
    text = repr(raw)
    return text if len(text) <= 60 else text[:57] + "..."


def names_in(cond: Condition | None) -> set[str]:
    """Every name a condition reads."""
    if cond is None:
        return set()
    if isinstance(cond, Leaf):
        return {cond.name}
    if isinstance(cond, Not):
        return names_in(cond.child)
    return set().union(*(names_in(c) for c in cond.children))


def leaves(cond: Condition | None) -> list[Leaf]:
    if cond is None:
        return []
    if isinstance(cond, Leaf):
        return [cond]
    if isinstance(cond, Not):
        return leaves(cond.child)
    return [leaf for c in cond.children for leaf in leaves(c)]


def to_text(cond: Condition | None) -> str:
    """A readable one-line rendering (used in explanations and reports)."""
    if cond is None:
        return "always"
    if isinstance(cond, Leaf):
        return cond.text.strip()
    if isinstance(cond, Not):
        return f"not ({to_text(cond.child)})"
    word = " and " if isinstance(cond, All) else " or "
    return "(" + word.join(to_text(c) for c in cond.children) + ")"
