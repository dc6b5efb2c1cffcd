"""Deal-registration eligibility: the `registrations:` section of a rulebook, and its verdict.

```yaml
registrations:
  protection_days: 180         # an accepted registration protects the partner this long
  expiry_days: 90              # accepted, no outcome within this many days: it expires
  minimum_amount: {default: 2500, enterprise_suite: 10000}   # per product, program currency
  deal_kinds: {new: new_customer, cross_sell: expansion, upsell: expansion, renewal: never}
  channel_conflict: true       # refuse a customer with an open direct opportunity
  sentences: {below_minimum: "…{amount}… {minimum}…"}   # optional: override a sentence
```

`assess(rules, registration, registered_at=…)` is pure: every check, in a fixed order, each
a `Finding` (check, passed, field, value, threshold); a failed check carries a stable refusal
`code` (`REFUSALS`) and its sentence. Eligible = every check passed. A value the checks need
but the caller left out refuses with `missing_information` naming the field — a business
answer, not bad input.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from features import registry
from features.schema import DEAL_KINDS
from rules.checks import Checker

KindRule = Literal["new_customer", "expansion", "any", "never"]

REFUSALS: dict[str, tuple[str, ...]] = {
    # code → the fields its sentence may use, and the default sentence below
    "below_minimum": ("amount", "minimum", "product"),
    "kind_not_eligible": ("deal_kind",),
    "not_new_customer": ("deal_kind",),
    "not_an_expansion": ("deal_kind",),
    "channel_conflict": ("customer",),
    "missing_information": ("field",),
}
DEFAULT_SENTENCES: dict[str, str] = {
    "below_minimum": "{amount} is below the {minimum} minimum for a {product} registration",
    "kind_not_eligible": "{deal_kind} deals cannot be registered",
    "not_new_customer": "a {deal_kind} registration needs a new customer, and this one has "
    "already bought",
    "not_an_expansion": "a {deal_kind} registration needs an existing customer, and this one "
    "has never bought",
    "channel_conflict": "{customer} has an open direct opportunity: direct sales already works "
    "this customer",
    "missing_information": "eligibility needs {field}, which was not given",
}
CHECKS = ("minimum_amount", "deal_kind", "channel_conflict")
DEFAULT_KINDS: dict[str, KindRule] = {
    "new": "new_customer",
    "cross_sell": "expansion",
    "upsell": "expansion",
    "renewal": "never",
}


class RegistrationsSpec(BaseModel):
    """The YAML shape of `registrations:`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    protection_days: int = Field(180, ge=1, le=3650)
    expiry_days: int = Field(90, ge=1, le=3650)
    minimum_amount: dict[str, float] = Field(default_factory=lambda: {"default": 0.0})
    deal_kinds: dict[str, KindRule] = Field(default_factory=lambda: dict(DEFAULT_KINDS))
    channel_conflict: bool = True
    sentences: dict[str, str] = Field(default_factory=dict)


@dataclass(frozen=True)
class RegistrationRules:
    protection_days: int
    expiry_days: int
    minimum_amount: dict[str, float]  # product → minimum; "default" for the others
    deal_kinds: dict[str, KindRule]
    channel_conflict: bool
    sentences: dict[str, str]

    def minimum(self, product: str | None) -> float:
        return self.minimum_amount.get(product or "", self.minimum_amount.get("default", 0.0))


@dataclass(frozen=True)
class Finding:
    check: str
    passed: bool
    field: str
    value: Any
    threshold: Any = None
    code: str | None = None  # the refusal code when it failed
    sentence: str = ""


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    findings: tuple[Finding, ...]
    protected_until: datetime | None = None
    expires_at: datetime | None = None

    @property
    def refusals(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if not f.passed)

    @property
    def codes(self) -> list[str]:
        return [f.code for f in self.refusals if f.code]


@dataclass
class _Verdicts:
    rules: RegistrationRules
    customer: str
    found: list[Finding] = field(default_factory=list)

    def add(self, check: str, name: str, value: Any, ok: bool, code: str, **extra: Any) -> None:
        values = {"customer": self.customer, name: value, **extra}
        sentence = "" if ok else _fill(self.rules.sentences[code], **values)
        threshold = extra.get("minimum")
        self.found.append(
            Finding(check, ok, name, value, threshold, None if ok else code, sentence)
        )

    def missing(self, check: str, name: str) -> None:
        self.add(check, name, None, False, "missing_information", field=name)


def assess(
    rules: RegistrationRules, registration: Mapping[str, Any], *, registered_at: datetime
) -> Eligibility:
    """Every eligibility check on one registration, and its protection and expiry dates."""
    v = _Verdicts(rules, str(registration.get("customer_id") or "the customer"))
    _check_amount(v, registration)
    _check_kind(v, registration)
    if rules.channel_conflict:
        conflict = _known(registration.get("customer_has_open_direct_deal"))
        name = "customer_has_open_direct_deal"
        if conflict is None:
            v.missing("channel_conflict", name)
        else:
            v.add("channel_conflict", name, bool(conflict), not conflict, "channel_conflict")
    eligible = all(f.passed for f in v.found)
    return Eligibility(
        eligible,
        tuple(v.found),
        registered_at + timedelta(days=rules.protection_days) if eligible else None,
        registered_at + timedelta(days=rules.expiry_days) if eligible else None,
    )


def _check_amount(v: _Verdicts, registration: Mapping[str, Any]) -> None:
    amount, product = _known(registration.get("amount")), registration.get("product")
    if amount is None:
        v.missing("minimum_amount", "amount")
        return
    minimum = v.rules.minimum(product)
    v.add(
        "minimum_amount",
        "amount",
        float(amount),
        float(amount) >= minimum,
        "below_minimum",
        minimum=minimum,
        product=product or "any product",
    )


def _check_kind(v: _Verdicts, registration: Mapping[str, Any]) -> None:
    kind = registration.get("deal_kind")
    if kind is None:
        v.missing("deal_kind", "deal_kind")
        return
    rule = v.rules.deal_kinds.get(str(kind), "never")
    if rule in ("never", "any"):
        v.add("deal_kind", "deal_kind", kind, rule == "any", "kind_not_eligible", deal_kind=kind)
        return
    existing = _known(registration.get("customer_is_existing"))
    if existing is None:
        v.missing("deal_kind", "customer_is_existing")
        return
    if rule == "new_customer":
        v.add(
            "deal_kind",
            "customer_is_existing",
            bool(existing),
            not existing,
            "not_new_customer",
            deal_kind=kind,
        )
    else:
        v.add(
            "deal_kind",
            "customer_is_existing",
            bool(existing),
            bool(existing),
            "not_an_expansion",
            deal_kind=kind,
        )


def _known(value: Any) -> Any:
    return None if value is None or value != value else value  # None or NaN: not given


def _fill(template: str, **values: Any) -> str:
    shown = {k: _show(k, v) for k, v in values.items()}
    return template.format_map(_Blank(shown))


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "unknown"


def _show(name: str, value: Any) -> str:
    if name in ("amount", "minimum", "value") and isinstance(value, int | float):
        return f"${value:,.0f}"
    return "unknown" if value is None else str(value)


# --- loading: the section, validated with the YAML line of every problem ---------------------


def build_registrations(check: Checker, data: Mapping[str, Any]) -> RegistrationRules | None:
    """The `registrations:` section (None when the rulebook has none: nothing is checked)."""
    if "registrations" not in data:
        return None
    raw = data["registrations"]
    if not isinstance(raw, dict):
        check.add(("registrations",), "'registrations' must be a mapping", value=str(raw))
        return None
    spec = check.model(RegistrationsSpec, raw, ("registrations",))
    if spec is None:
        return None
    problems = len(check.problems)
    base = ("registrations",)
    if spec.expiry_days > spec.protection_days:
        check.add(
            (*base, "expiry_days"),
            f"expiry_days ({spec.expiry_days}) must not exceed protection_days "
            f"({spec.protection_days}): a registration cannot expire after its protection ends",
            value=spec.expiry_days,
        )
    for product, minimum in spec.minimum_amount.items():
        if minimum < 0 or minimum != minimum:
            check.add(
                (*base, "minimum_amount", product), "a minimum must be 0 or more", value=minimum
            )
    for kind in spec.deal_kinds:
        if kind not in DEAL_KINDS:
            _unknown(check, (*base, "deal_kinds", kind), "deal kind", kind, list(DEAL_KINDS))
    sentences = {**DEFAULT_SENTENCES}
    for code, text in spec.sentences.items():
        if code not in REFUSALS:
            _unknown(check, (*base, "sentences", code), "refusal code", code, list(REFUSALS))
            continue
        if _check_sentence(check, (*base, "sentences", code), code, text):
            sentences[code] = text
    if len(check.problems) > problems:
        return None
    return RegistrationRules(
        spec.protection_days,
        spec.expiry_days,
        {**{"default": 0.0}, **spec.minimum_amount},
        {**dict.fromkeys(DEAL_KINDS, "never"), **spec.deal_kinds},
        spec.channel_conflict,
        sentences,
    )


def _check_sentence(check: Checker, path: tuple[str, ...], code: str, text: str) -> bool:
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        check.add(path, f"sentence of '{code}' is not a valid template: {exc}", value=text)
        return False
    allowed = REFUSALS[code]
    bad = [n for n in names if n not in allowed]
    for name in bad:
        check.add(
            path,
            f"sentence of '{code}' uses '{{{name}}}'; it may use "
            + ", ".join(f"{{{a}}}" for a in allowed),
            value=name,
        )
    return not bad


def _unknown(check: Checker, path: tuple[str, ...], what: str, name: str, known: list[str]) -> None:
    hint = registry.closest(name, known)
    suffix = f" (did you mean '{hint}'?)" if hint else f" (one of {', '.join(known)})"
    check.add(path, f"unknown {what} '{name}'{suffix}", value=name)


def content(rules: RegistrationRules) -> dict[str, Any]:
    """What the rulebook's content hash covers of this section."""
    return {
        "protection_days": rules.protection_days,
        "expiry_days": rules.expiry_days,
        "minimum_amount": rules.minimum_amount,
        "deal_kinds": rules.deal_kinds,
        "channel_conflict": rules.channel_conflict,
        "sentences": rules.sentences,
    }
