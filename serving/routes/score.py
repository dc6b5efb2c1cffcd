"""Scoring partners: inline features, batches, and known partners by id."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from rules.model import TierState
from serving import batch, convert, deps
from serving.auth import Principal, ensure_owner, require_role
from serving.deps import LoadedDep, SettingsDep
from serving.overrides import partner_track, track_tiers, without_override
from serving.problems import json_body, parse_body, responses
from serving.recommend import recommend_one
from serving.schemas import (
    EXAMPLE_SCORE_REQUEST,
    BatchScoreRequest,
    BatchScoreResponse,
    PartnerScore,
    ScoreRequest,
)
from serving.service_state import Loaded
from serving.snapshots import PartnerLookup, StoredPartner
from tierwise.errors import InvalidInput, NotFound, Problem

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["score"])

_scorer_only = require_role("scorer", "integration", "admin")
Scorer = Annotated[Principal, Depends(_scorer_only)]
Anyone = Annotated[Principal, Depends(require_role("scorer", "integration", "manager", "admin"))]
Explain = Annotated[bool, Query(description="Include every condition checked (all rules)")]
PartnerId = Annotated[str, Path(min_length=1, max_length=200, examples=["P000123"])]


def _example_score() -> dict[str, Any]:
    return {
        "partner_id": "P000123",
        "churn_risk": 0.62,
        "deal_acceptance": 0.71,
        "tier": {
            "track": "resell",
            "tier": "Silver",
            "evaluated_tier": "Silver",
            "change": "unchanged",
            "basis": "rules",
            "missed_evaluations": 0,
            "benefits": {"commission_rate": 0.12},
            "next_tier": "Gold",
            "gap_to_next": [
                {
                    "feature": "revenue_won_365d",
                    "op": ">=",
                    "threshold": 250000,
                    "actual": 208000,
                    "shortfall": 42000,
                    "alternative": False,
                    "text": "$42,000 more revenue_won_365d",
                }
            ],
            "checks": [],
        },
        "incentives": [
            {
                "incentive_id": "tiered_commission",
                "reward_type": "commission",
                "amount": 24960.0,
                "unit": "USD",
            }
        ],
        "scorecard": {"components": {"contribution": 61.0, "capability": 40.0}, "overall": 55.0},
        "actions": [
            {
                "action_id": "retention_call",
                "description": "Call the partner",
                "rank": 1,
                "priority": 129000.0,
                "propensity": 0.62,
                "value": 208000.0,
                "weight": 1.0,
                "reasons": [
                    "churn_risk >= 0.3 (actual 0.62)",
                    "priority 1.29e+05 = propensity 0.620 "
                    "(churn_risk) × value $208,000 "
                    "(revenue_won_365d) × weight 1",
                ],
            }
        ],
        "suppressed": [],
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


def _ok(example: Any) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {"application/json": {"example": example}}}}


def score_request(req: ScoreRequest, loaded: Loaded, *, at: str = "body") -> Any:
    convert.raise_if(convert.request_problems(req, loaded.rulebook, at))
    try:
        return recommend_one(
            req.features.__dict__,
            rulebook=loaded.rulebook,
            models=loaded.models,
            previous=convert.previous_state(req.previous),
            history=convert.history_map(req.history),
            as_of=req.as_of,
            partner_id=req.partner_id,
        )
    except InvalidInput as exc:
        raise convert.located(exc, at) from exc


@router.post(
    "/score",
    response_model=PartnerScore,
    responses={**_ok(_example_score()), **responses(400, 401, 403, 413, 422, 503)},
    openapi_extra=json_body(ScoreRequest),
)
async def score(request: Request, explain: Explain = False) -> Response:
    """Score one partner from inline features: tier, incentives, 6Cs, churn risk, actions."""
    # The hot path: readiness and the key are checked inline, in the order the dependencies
    # of the other routes use (503 before 401/403); two FastAPI dependencies cost ~30–60 µs.
    loaded = await deps.loaded(request)
    await _scorer_only(request)
    body = parse_body(ScoreRequest, await request.body())
    answer = convert.partner_score(
        score_request(body, loaded),
        explain=explain,
        warnings=convert.feature_warnings(body.features, loaded),
    )
    return Response(answer.model_dump_json(), media_type="application/json")


@router.post(
    "/score/batch",
    response_model=BatchScoreResponse,
    responses={
        **_ok(
            {
                "results": [
                    {"index": 0, "partner_id": "P000123", "status": 200, "score": _example_score()}
                ],
                "scored": 1,
                "failed": 0,
                "versions": _example_score()["versions"],
            }
        ),
        **responses(400, 401, 403, 413, 422, 503),
    },
    openapi_extra=json_body(BatchScoreRequest),
)
async def score_batch(
    request: Request, loaded: LoadedDep, _: Scorer, settings: SettingsDep, explain: Explain = False
) -> Response:
    """Score up to `max_batch` partners in one call: a result per item, in request order.

    Lean by default (as /v1/score without condition checks and gap; vectorized); an invalid
    item gets its own 422 problem and the others are still scored.
    """
    items = batch.parse_items(await request.body(), max_batch=settings.max_batch)

    def one(req: ScoreRequest, at: str) -> PartnerScore:
        return convert.partner_score(score_request(req, loaded, at=at), explain=True)

    def run() -> str:
        result = batch.score_items(items, loaded, explain=explain, score_one=one)
        return result.model_dump_json()

    return Response(await run_in_threadpool(run), media_type="application/json")


async def partner_lookup(request: Request) -> PartnerLookup:
    lookup: PartnerLookup = request.app.state.partners
    return lookup


@router.post(
    "/partners/{partner_id}/score",
    response_model=PartnerScore,
    responses={**_ok(_example_score()), **responses(401, 403, 404, 422, 503)},
)
async def score_partner(
    partner_id: PartnerId,
    loaded: LoadedDep,
    principal: Anyone,
    lookup: Annotated[PartnerLookup, Depends(partner_lookup)],
    explain: Explain = False,
) -> PartnerScore:
    """Score a known partner from the latest snapshot the weekly job stored (404 if none)."""
    stored = await run_in_threadpool(lookup.find, partner_id)
    if stored is None:
        raise NotFound(
            f"Unknown partner '{partner_id}'",
            [
                Problem(
                    "no stored snapshot (the weekly job stores them)",
                    column="path.partner_id",
                    value=partner_id,
                )
            ],
        )
    ensure_owner(principal, partner_id, stored.manager_id)
    rec = recommend_one(
        stored.features,
        rulebook=loaded.rulebook,
        models=loaded.models,
        previous=usable_state(loaded, stored),
        history=stored.history,
        as_of=stored.as_of,
        partner_id=partner_id,
    )
    return convert.partner_score(rec, explain=explain)


def usable_state(loaded: Loaded, stored: StoredPartner) -> TierState | None:
    """The stored tier state, without an override that names a tier outside the partner's
    track (the weekly job ignores it too): a manager's typo never makes the partner a 422."""
    state = stored.previous
    if state is None or not state.override_active(stored.as_of):
        return state
    track = partner_track(loaded.rulebook, stored.features, as_of=stored.as_of)
    if state.override_tier in track_tiers(loaded.rulebook, track):
        return state
    log.warning(
        "ignoring the override of %s: '%s' is not a tier of track '%s'",
        stored.partner_id,
        state.override_tier,
        track,
    )
    return without_override(state)


__all__ = ["EXAMPLE_SCORE_REQUEST", "router"]
