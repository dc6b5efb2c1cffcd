"""Test cases kept beside the rules (``tests.yaml``) and the runner behind `tierwise rules test`.

```yaml
as_of: "2025-06-30"
defaults: {partner_type: VAR, revenue_won_365d: 0, churn_risk: 0.1, ...}  # the rest: missing
cases:
  - id: gold_promotion
    description: a Silver MSP that now meets Gold
    features: {partner_type: MSP, revenue_won_365d: 400000, ...}
    previous: {tier: Silver}
    expect: {tier: Gold, tier_change: promoted, incentives: [commission_gold], actions: []}
```

Each case runs through `evaluate_partner`, and all cases once more through
`evaluate_frame`; the two must agree. The report lists which tiers, incentives and actions
no case exercised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from features import registry
from rules.conditions import MODEL_OUTPUTS, TIER_CHANGES
from rules.decision import PartnerDecision
from rules.engine import evaluate_frame, evaluate_partner
from rules.model import Rulebook, TierState
from rules.registration_cases import (
    RegistrationCase,
    check_registration_cases,
    run_registration_case,
    uncovered_refusals,
)
from rules.source import CASE_FILES, NodePath
from tierwise.errors import Problem, RulebookError
from tierwise.yaml_lines import load_yaml_lines


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StateSpec(_Spec):
    tier: str | None = None
    missed_evaluations: int = Field(0, ge=0)
    override_tier: str | None = None
    override_reason: str | None = None
    override_until: datetime | date | None = None


class ExpectSpec(_Spec):
    tier: str | None = None
    tier_change: str | None = None
    missed_evaluations: int | None = None
    incentives: list[str] | None = None
    actions: list[str] | None = None


class CaseSpec(_Spec):
    id: str = Field(min_length=1)
    description: str = ""
    as_of: datetime | date | None = None
    features: dict[str, Any] = Field(default_factory=dict)
    previous: StateSpec | None = None
    expect: ExpectSpec


class CaseFileSpec(_Spec):
    as_of: datetime | date
    defaults: dict[str, Any] = Field(default_factory=dict)
    cases: list[CaseSpec] = Field(min_length=1)
    registrations: list[RegistrationCase] = Field(default_factory=list)


def _utc(value: datetime | date | None) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass
class CaseResult:
    id: str
    line: int | None
    failures: list[str]
    decision: PartnerDecision | None

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass
class CaseReport:
    file: str
    results: list[CaseResult]
    uncovered: dict[str, list[str]]
    mismatches: list[str] = field(default_factory=list)  # evaluate_partner vs evaluate_frame

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results) and not self.mismatches

    @property
    def complete(self) -> bool:
        return not any(self.uncovered.values())


def case_file(directory: Path) -> Path:
    base = directory if directory.is_dir() else directory.parent
    for name in CASE_FILES:
        if (base / name).exists():
            return base / name
    raise RulebookError(
        f"no test cases beside the rulebook: expected {base / CASE_FILES[0]}",
        [Problem("no tests.yaml", file=str(base / CASE_FILES[0]))],
    )


def run_cases(book: Rulebook, path: Path) -> CaseReport:
    """Run every case of ``path`` against ``book`` (RulebookError if the file is invalid)."""
    problems: list[Problem] = []
    data, lines = load_yaml_lines(path, problems)
    spec = _validate(data, lines, path, problems)
    if spec is not None:
        _check_names(book, spec, lines, path, problems)
    if problems or spec is None:
        raise RulebookError(f"test cases {path} have {len(problems)} problem(s)", problems)
    results, rows = [], []
    for i, case in enumerate(spec.cases):
        features: dict[str, Any] = dict.fromkeys(book.features_needed)
        features.update(spec.defaults)
        features.update(case.features)
        features.setdefault("partner_id", case.id)
        as_of = _utc(case.as_of) or _utc(spec.as_of)
        assert as_of is not None
        previous = _state(case.previous)
        decision = evaluate_partner(book, features, previous=previous, as_of=as_of)
        results.append(
            CaseResult(case.id, lines.get(("cases", i)), _compare(case.expect, decision), decision)
        )
        rows.append((features, previous, as_of, decision))
    produced: set[str] = set()
    registered_at = _utc(spec.as_of)
    assert registered_at is not None
    for i, reg in enumerate(spec.registrations):
        failures, codes = run_registration_case(book, reg, as_of=registered_at)
        produced.update(codes)
        results.append(CaseResult(reg.id, lines.get(("registrations", i)), failures, None))
    uncovered = {**_uncovered(book, results), "refusals": uncovered_refusals(book, produced)}
    return CaseReport(str(path), results, uncovered, _cross_check(book, rows))


def _validate(
    data: Any, lines: dict[NodePath, int], path: Path, problems: list[Problem]
) -> CaseFileSpec | None:
    if data is None:
        if not problems:
            problems.append(Problem("the test case file is empty", file=str(path), line=1))
        return None
    try:
        return CaseFileSpec.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(x for x in err["loc"] if isinstance(x, (str, int)))
            line = next((lines[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in lines), None)
            problems.append(
                Problem(
                    f"{'.'.join(map(str, loc))}: {err['msg']}",
                    file=str(path),
                    line=line,
                    value=err.get("input")
                    if not isinstance(err.get("input"), (dict, list))
                    else None,
                )
            )
        return None


def _check_names(
    book: Rulebook,
    spec: CaseFileSpec,
    lines: dict[NodePath, int],
    path: Path,
    problems: list[Problem],
) -> None:
    known_features = {*registry.FEATURES, *MODEL_OUTPUTS, "partner_id", "manager_id", "as_of"}
    tiers = set(book.tier_names)
    known = {"incentives": {i.id for i in book.incentives}, "actions": {a.id for a in book.actions}}

    def bad(where: NodePath, message: str, value: Any, rule_id: str | None = None) -> None:
        line = next(
            (lines[where[:n]] for n in range(len(where), 0, -1) if where[:n] in lines), None
        )
        problems.append(Problem(message, file=str(path), line=line, rule_id=rule_id, value=value))

    check_registration_cases(book, spec.registrations, bad)
    for name in spec.defaults:
        if name not in known_features:
            bad(("defaults", name), f"unknown feature '{name}'", name)
    for i, case in enumerate(spec.cases):
        for name in case.features:
            if name not in known_features:
                hint = registry.closest(name, sorted(known_features))
                bad(
                    ("cases", i, "features", name),
                    f"unknown feature '{name}'" + (f" (did you mean '{hint}'?)" if hint else ""),
                    name,
                    case.id,
                )
        exp = case.expect
        for where, tier in (
            (("expect", "tier"), exp.tier),
            (("previous", "tier"), case.previous and case.previous.tier),
            (("previous", "override_tier"), case.previous and case.previous.override_tier),
        ):
            if tier is not None and tier not in tiers:
                bad(("cases", i, *where), f"unknown tier '{tier}'", tier, case.id)
        if exp.tier_change is not None and exp.tier_change not in TIER_CHANGES:
            bad(
                ("cases", i, "expect", "tier_change"),
                f"unknown tier_change '{exp.tier_change}' (one of {', '.join(TIER_CHANGES)})",
                exp.tier_change,
                case.id,
            )
        for kind in ("incentives", "actions"):
            for j, rule in enumerate(getattr(exp, kind) or []):
                if rule not in known[kind]:
                    bad(
                        ("cases", i, "expect", kind, j),
                        f"unknown {kind[:-1]} '{rule}'",
                        rule,
                        case.id,
                    )


def _state(spec: StateSpec | None) -> TierState | None:
    if spec is None:
        return None
    return TierState(
        spec.tier,
        spec.missed_evaluations,
        spec.override_tier,
        spec.override_reason,
        _utc(spec.override_until),
    )


def _compare(expect: ExpectSpec, d: PartnerDecision) -> list[str]:
    out = []
    for name in ("tier", "tier_change"):
        want = getattr(expect, name)
        if want is not None and want != getattr(d, name):
            out.append(f"{name}: expected {want}, got {getattr(d, name)}")
    if expect.missed_evaluations is not None and (
        expect.missed_evaluations != d.state.missed_evaluations
    ):
        out.append(
            f"missed_evaluations: expected {expect.missed_evaluations}, "
            f"got {d.state.missed_evaluations}"
        )
    got = {
        "incentives": [a.incentive_id for a in d.incentives],
        "actions": [a.action_id for a in d.actions],
    }
    for kind, ids in got.items():
        want = getattr(expect, kind)
        if want is not None and set(want) != set(ids):
            missing = sorted(set(want) - set(ids))
            extra = sorted(set(ids) - set(want))
            out.append(
                f"{kind}: expected {sorted(want)}, got {sorted(ids)}"
                f" (missing {missing}, unexpected {extra})"
            )
    return out


def _uncovered(book: Rulebook, results: list[CaseResult]) -> dict[str, list[str]]:
    decisions = [r.decision for r in results if r.decision is not None]
    tiers = {f"{d.track}/{d.tier}" for d in decisions}
    incentives = {a.incentive_id for d in decisions for a in d.incentives}
    actions = {a.action_id for d in decisions for a in d.actions}
    return {
        "tiers": [
            f"{tr.id}/{t.id}"
            for tr in book.tracks
            for t in tr.tiers
            if f"{tr.id}/{t.id}" not in tiers
        ],
        "incentives": [i.id for i in book.incentives if i.id not in incentives],
        "actions": [a.id for a in book.actions if a.id not in actions],
    }


def _cross_check(
    book: Rulebook, rows: list[tuple[dict[str, Any], TierState | None, datetime, PartnerDecision]]
) -> list[str]:
    """The vectorized path must reach the same decisions as the per-partner path."""
    out: list[str] = []
    for as_of in sorted({r[2] for r in rows}):
        group = [r for r in rows if r[2] == as_of]
        frame = pd.DataFrame([{**f, "partner_id": f"row{i}"} for i, (f, *_) in enumerate(group)])
        previous = pd.DataFrame(
            [
                {"partner_id": f"row{i}", **vars(p)}
                for i, (_, p, _, _) in enumerate(group)
                if p is not None
            ]
        )
        fd = evaluate_frame(book, frame, previous=previous if len(previous) else None, as_of=as_of)
        for i, (_, _, _, d) in enumerate(group):
            pid = f"row{i}"
            tier = fd.tiers["tier"].iloc[i]
            incs = sorted(
                fd.incentives.loc[fd.incentives["partner_id"] == pid, "incentive_id"].astype(str)
            )
            acts = sorted(fd.actions.loc[fd.actions["partner_id"] == pid, "action_id"].astype(str))
            if (tier, incs, acts) != (
                d.tier,
                sorted(a.incentive_id for a in d.incentives),
                sorted(a.action_id for a in d.actions),
            ):
                out.append(
                    f"case {d.partner_id}: evaluate_frame gives {tier} {incs} {acts}, "
                    f"evaluate_partner {d.tier}"
                )
    return out
