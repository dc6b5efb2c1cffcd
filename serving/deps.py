"""Dependencies the routes share: the service state and the loaded rulebook + models."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from serving.metrics import Metrics
from serving.state import Loaded, ServiceState


def service_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


def loaded(state: Annotated[ServiceState, Depends(service_state)]) -> Loaded:
    """The active rulebook + models; 503 problem+json while the service is not ready."""
    return state.require()


def metrics(request: Request) -> Metrics:
    found: Metrics = request.app.state.metrics
    return found


StateDep = Annotated[ServiceState, Depends(service_state)]
LoadedDep = Annotated[Loaded, Depends(loaded)]
MetricsDep = Annotated[Metrics, Depends(metrics)]
