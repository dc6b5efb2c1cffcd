"""Scoring deal registrations: acceptance likelihood, top reasons, routing band."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from serving import convert
from serving.auth import Principal, ensure_owner, require_role
from serving.deal_scoring import score_deal
from serving.deps import LoadedDep
from serving.problems import responses
from serving.recommend import versions
from serving.routes.score import partner_lookup
from serving.schemas import DealScore, DealScoreRequest
from serving.snapshots import PartnerLookup
from tierwise.errors import Forbidden, ModelError, NotFound, Problem

router = APIRouter(prefix="/v1", tags=["deal registrations"])

Caller = Annotated[Principal, Depends(require_role("scorer", "integration", "manager", "admin"))]

PROGRAM_CURRENCY = "USD"  # the currency of every amount in the data contract
_EXAMPLE: dict[str, Any] = {
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
        200: {"content": {"application/json": {"example": _EXAMPLE}}},
        **responses(400, 401, 403, 404, 413, 422, 503),
    },
)
async def score_deal_registration(
    body: DealScoreRequest,
    loaded: LoadedDep,
    principal: Caller,
    lookup: Annotated[PartnerLookup, Depends(partner_lookup)],
) -> DealScore:
    """Acceptance likelihood of a deal registration, its top reasons and its routing band."""
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
    result = score_deal(
        body.deal.__dict__, partner, rulebook=loaded.rulebook, model=loaded.models.deal
    )
    return convert.deal_score(
        result,
        request=body,
        partner_exited=bool(partner.get("exited")),
        versions=versions(loaded.rulebook, loaded.models, as_of),
    )
