"""Dependencies the routes share: service state, rulebook + models, settings, DB session.

All async: FastAPI runs a sync dependency in its thread pool, a hop on every request.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from serving.auth import settings_of
from serving.db import ready_engine, session_scope
from serving.metrics import Metrics
from serving.service_state import Loaded, ServiceState
from tierwise.settings import Settings, get_settings


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


def db_session(settings: Annotated[Settings, Depends(get_settings)]) -> Iterator[Session]:
    """A unit of work on the service database (upgraded on first use)."""
    with session_scope(ready_engine(settings.db_url)) as session:
        yield session


StateDep = Annotated[ServiceState, Depends(service_state)]
LoadedDep = Annotated[Loaded, Depends(loaded)]
MetricsDep = Annotated[Metrics, Depends(metrics)]
SettingsDep = Annotated[Settings, Depends(app_settings)]
SessionDep = Annotated[Session, Depends(db_session, scope="function")]  # commit, then respond
