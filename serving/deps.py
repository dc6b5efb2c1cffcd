"""Dependencies the routes share: the service state and the loaded rulebook + models.

All async: FastAPI runs a sync dependency in its thread pool, a hop on every request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from serving.auth import settings_of
from serving.metrics import Metrics
from serving.state import Loaded, ServiceState
from tierwise.settings import Settings


async def service_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


async def loaded(request: Request) -> Loaded:
    """The active rulebook + models; 503 problem+json while the service is not ready."""
    state: ServiceState = request.app.state.service
    return state.require()


async def metrics(request: Request) -> Metrics:
    found: Metrics = request.app.state.metrics
    return found


async def app_settings(request: Request) -> Settings:
    return settings_of(request)


StateDep = Annotated[ServiceState, Depends(service_state)]
LoadedDep = Annotated[Loaded, Depends(loaded)]
MetricsDep = Annotated[Metrics, Depends(metrics)]
SettingsDep = Annotated[Settings, Depends(app_settings)]
