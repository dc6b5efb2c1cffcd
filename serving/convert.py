"""Converting between the API schemas and the domain: results → response models, requests →
rules inputs, and the request checks that need the loaded rulebook."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from features import registry
from rules.explain import checks_from
from rules.model import Rulebook, TierState
from rules.registrations import Eligibility
from serving import schemas
from serving.deal_scoring import DealResult
from serving.recommend import PartnerRecommendation
from serving.service_state import Loaded
from tierwise.errors import InvalidInput, Problem

TIER_SECTIONS = ("track", "tier")


def versions_out(versions: dict[str, Any]) -> schemas.Versions:
    return schemas.Versions(
        rulebook_version=versions["rulebook_version"],
        rulebook_hash=versions["rulebook_hash"],
        models=[schemas.ModelVersion(**m) for m in versions["models"]],
        feature_registry=versions["feature_registry"],
        as_of=versions.get("as_of"),
    )


def partner_score(
    rec: PartnerRecommendation,
    *,
    explain: bool = False,
    warnings: Sequence[dict[str, Any]] = (),
) -> schemas.PartnerScore:
    """The API answer, validated in one pass (a nested dict: cheaper than model by model)."""
    d = rec.decision
    checks = (
        d.checks
        if explain
        else checks_from(d.log, [span for span in d.spans if span[0] in TIER_SECTIONS])
    )
    state = d.state
    scores = dict(d.scores)
    overall = scores.pop("overall", None)
    return schemas.PartnerScore.model_validate(
        {
            "partner_id": rec.partner_id,
            "churn_risk": rec.churn_risk,
            "deal_acceptance": None if math.isnan(rec.deal_acceptance) else rec.deal_acceptance,
            "lifecycle_status": rec.lifecycle_status,
            "tier": {
                "track": d.track,
                "tier": d.tier,
                "evaluated_tier": d.evaluated_tier,
                "change": d.tier_change,
                "basis": d.tier_basis,
                "missed_evaluations": state.missed_evaluations,
                "override_tier": state.override_tier,
                "override_reason": state.override_reason,
                "override_until": state.override_until,
                "benefits": d.benefits,
                "next_tier": d.next_tier,
                "next_review": d.next_review,
                "on_course_for": d.on_course_for,
                "gap_to_next": [g._asdict() for g in d.gap],
                "checks": [c._asdict() for c in checks],
            },
            "incentives": [a._asdict() for a in d.incentives],
            "scorecard": {"components": scores, "overall": overall},
            "actions": [a.__dict__ for a in rec.actions],
            "suppressed": [x._asdict() for x in rec.suppressed],
            "versions": rec.versions,
            "warnings": list(warnings),
        }
    )


def eligibility(verdict: Eligibility | None) -> schemas.Eligibility:
    """The eligibility answer (`verdict` None: the rulebook has no registration rules)."""
    if verdict is None:
        return schemas.Eligibility(eligible=True, assessed=False, reasons=[], checks=[])
    checks = [
        schemas.EligibilityCheck(
            check=f.check, passed=f.passed, field=f.field, value=f.value, threshold=f.threshold
        )
        for f in verdict.findings
    ]
    reasons = [
        schemas.EligibilityReason(**c.model_dump(), code=f.code, sentence=f.sentence)
        for c, f in zip(checks, verdict.findings, strict=True)
        if not f.passed
    ]
    return schemas.Eligibility(
        eligible=verdict.eligible,
        assessed=True,
        reasons=reasons,
        checks=checks,
        protected_until=verdict.protected_until,
        expires_at=verdict.expires_at,
    )


def deal_score(
    result: DealResult,
    *,
    request: schemas.DealScoreRequest,
    partner_exited: bool,
    versions: dict[str, Any],
    verdict: Eligibility | None = None,
    registered_at: datetime | None = None,
) -> schemas.DealScore:
    warnings = []
    if partner_exited:
        warnings.append("the partner has exited the program: registrations are not protected")
    return schemas.DealScore(
        deal_id=request.deal_id,
        customer_id=request.customer_id,
        partner_id=request.partner_id,
        currency=request.currency,
        partner_exited=partner_exited,
        warnings=warnings,
        acceptance_likelihood=result.acceptance_likelihood,
        routing=result.routing,
        bands=result.bands,
        reasons=[schemas.DealReason(**r.__dict__) for r in result.reasons],
        registered_at=registered_at,
        eligibility=eligibility(verdict),
        versions=versions_out(versions),
    )


# --- request checks against the loaded rulebook ------------------------------------------

FEATURE_NAMES = tuple(registry.FEATURES)


def feature_warnings(features: BaseModel, loaded: Loaded) -> list[dict[str, Any]]:
    """What was not sent (left out, or everything null) and what that does to the answer."""
    sent = features.model_fields_set
    if len(sent) == len(FEATURE_NAMES) and any(v is not None for v in features.__dict__.values()):
        return []  # the usual case, decided in a few µs
    missing = [n for n in FEATURE_NAMES if n not in sent]
    if all(getattr(features, n) is None for n in FEATURE_NAMES):
        message = (
            "no feature has a value: every rule condition counts as not met (lowest tier, "
            "no incentives) and the models score a partner they know nothing about"
        )
        return [{"code": "no_features", "message": message, "features": missing}]
    if not missing:
        return []
    rules = [n for n in missing if n in loaded.rulebook.features_needed]
    deal = loaded.models.deal
    read = set(loaded.models.churn.features) | set(deal.features if deal is not None else ())
    models = [n for n in missing if n in read]
    shown = ", ".join(missing[:8]) + (" …" if len(missing) > 8 else "")
    message = (
        f"{len(missing)} of {len(FEATURE_NAMES)} features not sent ({shown}): treated as "
        f"missing. The rules read {len(rules)} of them (conditions on a missing feature are "
        f"not met, so tier, incentives and actions can come out lower than with full data); "
        f"the models read {len(models)} of them as missing values."
    )
    return [{"code": "features_missing", "message": message, "features": missing}]


def previous_state(prev: schemas.TierStateIn | None) -> TierState | None:
    if prev is None:
        return None
    return TierState(
        prev.tier,
        prev.missed_evaluations,
        prev.override_tier,
        prev.override_reason,
        prev.override_until,
    )


def history_map(items: Sequence[schemas.ActionHistoryIn]) -> dict[str, datetime]:
    out: dict[str, datetime] = {}
    for item in items:
        last = out.get(item.action_id)
        if last is None or item.last_done_or_dismissed_at > last:
            out[item.action_id] = item.last_done_or_dismissed_at
    return out


def request_problems(req: schemas.ScoreRequest, rulebook: Rulebook, at: str) -> list[Problem]:
    """Tiers and actions the rulebook does not know (they would otherwise be ignored)."""
    problems = []
    tiers = set(rulebook.tier_names)
    if req.previous is not None:
        for name in ("tier", "override_tier"):
            value = getattr(req.previous, name)
            if value is not None and value not in tiers:
                problems.append(
                    Problem(
                        f"unknown tier (known: {', '.join(sorted(tiers))})",
                        column=f"{at}.previous.{name}",
                        value=value,
                    )
                )
    actions = {a.id for a in rulebook.actions}
    for i, item in enumerate(req.history):
        if item.action_id not in actions:
            problems.append(
                Problem(
                    f"unknown action (known: {', '.join(sorted(actions))})",
                    column=f"{at}.history.{i}.action_id",
                    value=item.action_id,
                )
            )
    return problems


def deal_problems(req: schemas.DealScoreRequest, loaded: Loaded, *, currency: str) -> list[Problem]:
    """A product the deal model does not know, an amount in another currency."""
    problems = []
    deal = loaded.models.deal
    catalogue = deal.spec.categories.get("product", ()) if deal is not None else ()
    product = getattr(req.deal, "product", None)
    if product is not None and catalogue and product not in catalogue:
        problems.append(
            Problem(
                f"unknown product (the catalogue: {', '.join(catalogue)})",
                column="body.deal.product",
                value=product,
            )
        )
    if req.currency != currency:
        problems.append(
            Problem(
                f"amounts are in {currency}: convert the deal amount first",
                column="body.currency",
                value=req.currency,
            )
        )
    return problems


def raise_if(problems: list[Problem]) -> None:
    if problems:
        s = "s" if len(problems) != 1 else ""
        raise InvalidInput(f"{len(problems)} invalid field{s} in the request", problems)


def located(exc: InvalidInput, at: str) -> InvalidInput:
    """The same error with every problem's column placed under `at` (e.g. body.partners.3)."""
    problems = [
        Problem(
            p.message,
            column=f"{at}.{p.column}" if p.column else at,
            value=p.value,
            rule_id=p.rule_id,
        )
        for p in exc.problems
    ]
    return type(exc)(f"{at}: {exc.detail}", problems)
