"""What is loaded (rulebook, models) and swapping in new ones."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from rules.registrations import content as registrations_content
from serving.auth import Principal, require_role
from serving.deps import LoadedDep, SettingsDep, StateDep
from serving.etag import json_answer
from serving.problems import responses
from serving.schemas import (
    ModelOut,
    ModelsOut,
    RegistrationRulesOut,
    ReloadOut,
    RulesOut,
    RuleSummary,
)
from serving.webhooks import record_models

router = APIRouter(prefix="/v1", tags=["rules and models"])

Anyone = Annotated[Principal, Depends(require_role("scorer", "integration", "manager", "admin"))]
_VERSIONS = {
    "rulebook": "2026.1",
    "rulebook_hash": "3f2a9c…",
    "tierwise-churn": "4",
    "tierwise-deal-acceptance": "2",
}


def _ok(example: Any) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {"application/json": {"example": example}}}}


@router.get(
    "/rules",
    response_model=RulesOut,
    responses={
        **_ok(
            {
                "version": "2026.1",
                "content_hash": "3f2a9c…",
                "features_needed": ["revenue_won_365d"],
                "tracks": [{"id": "resell", "description": "Resell partners"}],
                "incentives": [{"id": "first_win_bonus", "description": "First won deal"}],
                "actions": [{"id": "retention_call", "description": "Call a partner at risk"}],
                "max_actions_per_partner": 3,
                "deal_routing": {"fast_track": 0.75, "likely_reject": 0.3},
                "registrations": {
                    "protection_days": 180,
                    "expiry_days": 90,
                    "minimum_amount": {"default": 2500.0, "enterprise_suite": 10000.0},
                    "deal_kinds": {
                        "new": "new_customer",
                        "cross_sell": "expansion",
                        "upsell": "expansion",
                        "renewal": "never",
                    },
                    "channel_conflict": True,
                    "sentences": {"channel_conflict": "{customer} has an open direct …"},
                },
            }
        ),
        **responses(401, 403, 503),
    },
)
async def rules(request: Request, loaded: LoadedDep, _: Anyone) -> Response:
    """The active rulebook: version, content hash, tracks, incentives and actions."""
    book = loaded.rulebook
    answer = RulesOut(
        version=book.version,
        content_hash=book.content_hash,
        features_needed=sorted(book.features_needed),
        tracks=[RuleSummary(id=t.id, description=t.description) for t in book.tracks],
        incentives=[RuleSummary(id=i.id, description=i.description) for i in book.incentives],
        actions=[RuleSummary(id=a.id, description=a.description) for a in book.actions],
        max_actions_per_partner=book.max_actions_per_partner,
        deal_routing={
            "fast_track": book.deal_routing.fast_track,
            "likely_reject": book.deal_routing.likely_reject,
        },
        registrations=(
            None
            if book.registrations is None
            else RegistrationRulesOut(**registrations_content(book.registrations))
        ),
    )
    return json_answer(request, answer)


@router.get(
    "/models",
    response_model=ModelsOut,
    responses={
        **_ok(
            {
                "models": [
                    {
                        "name": "tierwise-churn",
                        "alias": "champion",
                        "version": "4",
                        "features": ["tenure_days", "revenue_won_365d"],
                    }
                ],
                "tracking_uri": "sqlite:///data/mlflow.db",
            }
        ),
        **responses(401, 403, 503),
    },
)
async def models(
    request: Request, loaded: LoadedDep, who: Anyone, settings: SettingsDep
) -> Response:
    """The loaded models: registry name, alias, version and the features each reads.

    The tracking URI (which may embed credentials) is shown to admins only, redacted.
    """
    m = loaded.models
    answer = ModelsOut(
        models=[
            ModelOut(name=i.name, alias=i.alias, version=i.version, features=s.features)
            for i, s in zip(m.infos(), [s for s in (m.churn, m.deal) if s is not None], strict=True)
        ],
        tracking_uri=redact_uri(settings.mlflow_tracking_uri) if who.is_admin else None,
    )
    return json_answer(request, answer)


def redact_uri(uri: str) -> str:
    """The URI without user name, password or query string (tokens hide there too)."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc and not parts.query:
        return uri
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=host, query=""))


@router.post(
    "/admin/reload",
    response_model=ReloadOut,
    dependencies=[Depends(require_role("admin"))],
    responses={**_ok({"reloaded": True, "versions": _VERSIONS}), **responses(401, 403, 422, 503)},
)
async def reload(state: StateDep) -> ReloadOut:
    """Reload rulebook and models atomically; on failure the previous ones keep serving."""
    loaded = await run_in_threadpool(state.reload)
    await run_in_threadpool(record_models, state.settings, loaded)
    return ReloadOut(reloaded=True, versions=state.versions())
