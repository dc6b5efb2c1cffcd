"""Liveness, readiness and Prometheus metrics (no API key needed)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from serving.deps import MetricsDep, StateDep
from serving.metrics import CONTENT_TYPE
from serving.problems import PROBLEM_JSON
from serving.schemas import Health, Readiness

router = APIRouter(tags=["health"])

_NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {
        "description": "No rulebook or model loaded",
        "content": {
            PROBLEM_JSON: {
                "example": {
                    "type": "https://tierwise.dev/problems/service-not-ready",
                    "title": "Service not ready",
                    "status": 503,
                    "detail": "Not ready: ModelError: model tierwise-churn@champion not found",
                    "instance": "/readyz",
                }
            }
        },
    }
}
_METRICS_EXAMPLE = (
    "# HELP tierwise_requests_total HTTP requests answered\n"
    'tierwise_requests_total{method="POST",route="/v1/score",status="200"} 42.0\n'
)


@router.get(
    "/healthz",
    response_model=Health,
    responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
)
async def healthz() -> Health:
    """The process is alive (says nothing about models)."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "ready": True,
                        "versions": {
                            "rulebook": "2026.1",
                            "rulebook_hash": "3f2a…",
                            "tierwise-churn": "3",
                            "tierwise-deal-acceptance": "2",
                        },
                    }
                }
            }
        },
        **_NOT_READY,
    },
)
async def readyz(state: StateDep) -> Readiness:
    """Ready when a rulebook and both models are loaded (503 problem+json while loading or
    when nothing could be loaded); `detail` says when the last reload failed."""
    state.require()
    return Readiness(ready=True, detail=state.degraded(), versions=state.versions())


@router.get(
    "/metrics",
    response_class=Response,
    response_model=None,
    responses={200: {"content": {"text/plain": {"example": _METRICS_EXAMPLE}}}},
)
async def metrics(registry: MetricsDep) -> Response:
    """Prometheus metrics: requests, latency, errors, loaded versions, reloads."""
    return Response(registry.render(), media_type=CONTENT_TYPE)
