"""Registration test cases beside the rules: the `registrations:` list of `tests.yaml`.

```yaml
registrations:
  - id: conflict_refused
    description: a customer direct sales is working is refused
    registration: {amount: 40000, product: core, deal_kind: new, customer_is_existing: false,
                   customer_has_open_direct_deal: true}
    expect: {eligible: false, refusals: [channel_conflict]}
```

Each case runs through `rules.registrations.assess` (registered at the file's `as_of`); the
report lists the refusal codes no case produced.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rules.model import Rulebook
from rules.registrations import REFUSALS, assess
from rules.source import NodePath

INPUTS = (
    "customer_id",
    "amount",
    "product",
    "deal_kind",
    "customer_is_existing",
    "customer_has_open_direct_deal",
)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegistrationExpect(_Spec):
    eligible: bool
    refusals: list[str] | None = None
    protected_days: int | None = None  # protected_until - registered_at, in days
    expires_days: int | None = None


class RegistrationCase(_Spec):
    id: str = Field(min_length=1)
    description: str = ""
    registration: dict[str, Any]
    expect: RegistrationExpect


def check_registration_cases(book: Rulebook, cases: list[RegistrationCase], bad: Any) -> None:
    """Names a case cannot use: `bad(where, message, value, rule_id)` records each problem."""
    if cases and book.registrations is None:
        bad(("registrations",), "the rulebook has no `registrations:` section to test", None)
    for i, case in enumerate(cases):
        for name in case.registration:
            if name not in INPUTS:
                where: NodePath = ("registrations", i, "registration", name)
                known = ", ".join(INPUTS)
                bad(where, f"unknown registration field '{name}' (one of {known})", name, case.id)
        for j, code in enumerate(case.expect.refusals or []):
            if code not in REFUSALS:
                where = ("registrations", i, "expect", "refusals", j)
                bad(where, f"unknown refusal code '{code}'", code, case.id)


def run_registration_case(
    book: Rulebook, case: RegistrationCase, *, as_of: datetime
) -> tuple[list[str], list[str]]:
    """(failures, refusal codes produced) of one case."""
    assert book.registrations is not None  # check_registration_cases refused it otherwise
    verdict = assess(book.registrations, case.registration, registered_at=as_of)
    want, out = case.expect, []
    if want.eligible != verdict.eligible:
        out.append(f"eligible: expected {want.eligible}, got {verdict.eligible} {verdict.codes}")
    if want.refusals is not None and sorted(want.refusals) != sorted(verdict.codes):
        out.append(f"refusals: expected {sorted(want.refusals)}, got {sorted(verdict.codes)}")
    for name, moment in (
        ("protected_days", verdict.protected_until),
        ("expires_days", verdict.expires_at),
    ):
        expected = getattr(want, name)
        got = None if moment is None else (moment - as_of).days
        if expected is not None and expected != got:
            out.append(f"{name}: expected {expected}, got {got}")
    return out, verdict.codes


def uncovered_refusals(book: Rulebook, produced: set[str]) -> list[str]:
    """Refusal codes the rulebook can give that no case produced."""
    if book.registrations is None:
        return []
    return [code for code in REFUSALS if code not in produced]
