"""Scoring deal registrations: acceptance likelihood, top reasons, routing band."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from rules.registrations import assess
from serving import convert
from serving.auth import Principal, ensure_owner, require_role
from serving.db import registrations as stored_registrations
from serving.deal_scoring import score_deal
from serving.deps import LoadedDep, SessionDep
from serving.problems import responses
from serving.recommend import versions
from serving.routes.score import partner_lookup
from serving.schemas import DealScore, DealScoreRequest
from serving.snapshots import PartnerLookup
from tierwise.errors import Forbidden, ModelError, NotFound, Problem

router = APIRouter(prefix="/v1", tags=["deal registrations"])

Caller = Annotated[Principal, Depends(require_role("scorer", "integration", "manager", "admin"))]

PROGRAM_CURRENCY = "USD"  # the currency of every amount in the data contract
EXAMPLE_ANSWER: dict[str, Any] = {
    "deal_id": "D0001234",
    "customer_id": "C004711",
    "partner_id": "P000123",
    "currency": "USD",
    "partner_exited": False,
    "warnings": [],
    "acceptance_likelihood": 0.81,
    "routing": "fast_track",
    "bands": {"fast_track": 0.75, "likely_reject": 0.3},
    "reasons": [
        {
            "feature": "customer_has_open_direct_deal",
            "value": False,
            "contribution": 0.42,
            "direction": "raises",
        },
        {
            "feature": "acceptance_rate_365d",
            "value": 0.9,
            "contribution": 0.31,
            "direction": "raises",
        },
        {"feature": "amount", "value": 48000.0, "contribution": -0.12, "direction": "lowers"},
    ],
    "registered_at": "2026-11-23T09:00:00Z",
    "eligibility": {
        "eligible": True,
        "assessed": True,
        "reasons": [],
        "checks": [
            {
                "check": "minimum_amount",
                "passed": True,
                "field": "amount",
                "value": 48000.0,
                "threshold": 2500.0,
            },
            {
                "check": "deal_kind",
                "passed": True,
                "field": "customer_is_existing",
                "value": False,
                "threshold": None,
            },
            {
                "check": "channel_conflict",
                "passed": True,
                "field": "customer_has_open_direct_deal",
                "value": False,
                "threshold": None,
            },
        ],
        "protected_until": "2027-05-22T09:00:00Z",
        "expires_at": "2027-02-21T09:00:00Z",
    },
    "stored": True,
    "versions": {
        "rulebook_version": "2026.1",
        "rulebook_hash": "3f2a9c…",
        "models": [
            {"name": "tierwise-churn", "alias": "champion", "version": "3"},
            {"name": "tierwise-deal-acceptance", "alias": "champion", "version": "2"},
        ],
        "feature_registry": "a1b2c3d4e5f6",
        "as_of": "2026-11-23T00:00:00Z",
    },
}


@router.post(
    "/deal-registrations/score",
    response_model=DealScore,
    responses={
        200: {"content": {"application/json": {"example": EXAMPLE_ANSWER}}},
        **responses(400, 401, 403, 404, 413, 422, 503),
    },
)
async def score_deal_registration(
    body: DealScoreRequest,
    loaded: LoadedDep,
    principal: Caller,
    lookup: Annotated[PartnerLookup, Depends(partner_lookup)],
    session: SessionDep,
) -> DealScore:
    """Eligibility of a deal registration (with reasons), its acceptance likelihood, top
    reasons and routing band; stored when it has a deal_id."""
    convert.raise_if(convert.deal_problems(body, loaded, currency=PROGRAM_CURRENCY))
    if body.partner_id is not None:
        stored = await run_in_threadpool(lookup.find, body.partner_id)
        if stored is None:
            raise NotFound(
                f"Unknown partner '{body.partner_id}'",
                [
                    Problem(
                        "no stored snapshot (the weekly job stores them)",
                        column="body.partner_id",
                        value=body.partner_id,
                    )
                ],
            )
        ensure_owner(principal, body.partner_id, stored.manager_id)
        partner: Mapping[str, Any] = stored.features
        as_of: datetime | None = stored.as_of
    else:
        if principal.role == "manager":
            raise Forbidden("Managers score deals of their own partners by partner_id")
        partner, as_of = body.partner_features.__dict__, body.as_of
    if loaded.models.deal is None:
        raise ModelError("no deal-acceptance model is registered (its data had no rejections)")
    deal = body.deal.__dict__
    result = score_deal(deal, partner, rulebook=loaded.rulebook, model=loaded.models.deal)
    now = datetime.now(UTC)
    registered_at = body.registered_at or now
    rules = loaded.rulebook.registrations
    verdict = (
        None
        if rules is None
        else assess(rules, {**deal, "customer_id": body.customer_id}, registered_at=registered_at)
    )
    answer = convert.deal_score(
        result,
        request=body,
        partner_exited=bool(partner.get("exited")),
        versions=versions(loaded.rulebook, loaded.models, as_of),
        verdict=verdict,
        registered_at=registered_at,
    )
    if body.deal_id is not None:
        answer.stored = True
        await run_in_threadpool(_store, session, answer, deal, loaded.models.deal.version, now)
    return answer


def _store(
    session: Session, answer: DealScore, deal: dict[str, Any], model_version: str, now: datetime
) -> None:
    assert answer.deal_id is not None and answer.eligibility is not None
    assert answer.registered_at is not None
    stored_registrations.record(
        session,
        values={
            "deal_id": answer.deal_id,
            "partner_id": answer.partner_id,
            "customer_id": answer.customer_id,
            "registered_at": answer.registered_at,
            "eligible": answer.eligibility.eligible,
            "refusals": [r.code for r in answer.eligibility.reasons],
            "acceptance_likelihood": answer.acceptance_likelihood,
            "routing": answer.routing,
            "protected_until": answer.eligibility.protected_until,
            "expires_at": answer.eligibility.expires_at,
            "rulebook_version": answer.versions.rulebook_version,
            "rulebook_hash": answer.versions.rulebook_hash,
            "model_version": model_version,
            "deal": deal,
            "answer": answer.model_dump(mode="json"),
        },
        now=now,
    )
