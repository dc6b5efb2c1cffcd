"""The app factory: `create_app(settings)` wires state, auth, problem+json, metrics and routes."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from serving import openapi, problems, webhooks
from serving.idempotency import IdempotencyMiddleware
from serving.metrics import Metrics
from serving.middleware import ServiceMiddleware
from serving.service_state import ServiceState
from serving.snapshots import PartnerLookup
from serving.traffic import GZipWhenAsked, TrafficMiddleware
from tierwise.errors import ConfigurationError, Problem
from tierwise.settings import Settings, get_settings, session_secret_problem

log = logging.getLogger(__name__)

OWN_ROUTERS = (
    "health",
    "score",
    "deals",
    "deal_decisions",
    "registrations",
    "admin",
    "tiers",
    "events",
)
# the weekly plan, review pages and the incentive ledger
OTHER_ROUTERS = ("plans", "review", "review_partners", "incentives")

DESCRIPTION = """Tierwise scores channel partners: tier and incentives from the active
rulebook, churn risk and deal-acceptance likelihood from the registered models, and a ranked
list of recommended actions. Every answer carries the rulebook version + hash, the model
versions and the features' `as_of`. Authenticate with `Authorization: Bearer <key>` or
`X-API-Key: <key>`. Errors are `application/problem+json`."""


def create_app(settings: Settings | None = None, *, state: ServiceState | None = None) -> FastAPI:
    """A ready-to-serve app; `state` lets tests inject an already-loaded (or empty) state."""
    settings = settings or get_settings()
    refuse_weak_secret(settings)
    metrics = state.metrics if state is not None and state.metrics is not None else Metrics()
    if state is None:
        state = ServiceState(settings, metrics=metrics)
    state.metrics = metrics
    load_at_start = state.current is None
    if not load_at_start:
        state.settled.set()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = []
        if load_at_start and state.current is None:
            # in the background: /healthz answers at once, /readyz says "loading"
            tasks.append(asyncio.create_task(_load_at_start(state, settings)))
        else:
            _loaded(state)
        if settings.reload_interval_s > 0:
            tasks.append(
                asyncio.create_task(_periodic_reload(state, settings, settings.reload_interval_s))
            )
        if settings.webhook_interval_s > 0:
            tasks.append(asyncio.create_task(webhooks.deliver_periodically(settings)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(
        title="Tierwise",
        version=_package_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=openapi.operation_id,
    )
    app.state.settings = settings
    app.state.service = state
    app.state.metrics = metrics
    app.state.partners = PartnerLookup(settings)
    if settings is not get_settings():
        # routes that ask for Depends(get_settings) get this app's settings; only when they
        # differ from the process-wide ones, as any override makes FastAPI re-inspect every
        # dependency on every request (~1 ms). My own routes read request.app.state.settings.
        app.dependency_overrides[get_settings] = lambda: settings
    problems.install(app)
    openapi.install(app, settings)
    # outermost last: traffic (ids, limits, log) → gzip → body limit + metrics → idempotency
    app.add_middleware(IdempotencyMiddleware, settings=settings)  # sees whole bodies
    app.add_middleware(
        ServiceMiddleware,
        max_body_bytes=settings.max_body_bytes,
        metrics=metrics,
        max_batch=settings.max_batch,
    )
    app.add_middleware(GZipWhenAsked, minimum_size=settings.gzip_min_bytes)
    app.add_middleware(TrafficMiddleware, settings=settings)
    for name in OWN_ROUTERS:
        app.include_router(importlib.import_module(f"serving.routes.{name}").router)
    for name in OTHER_ROUTERS:
        try:
            module = importlib.import_module(f"serving.routes.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"serving.routes.{name}":
                raise
            log.debug("serving.routes.%s not present; its routes are off", name)
            continue
        app.include_router(module.router)
    problems.document_bodies(app)
    return app


def refuse_weak_secret(settings: Settings) -> None:
    """The service does not start with an empty or default session secret."""
    problem = session_secret_problem(settings.session_secret)
    if problem is not None:
        raise ConfigurationError(
            f"{problem}: set it to a long random value, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`",
            [Problem(problem, column="TIERWISE_SESSION_SECRET")],
        )


async def _load_at_start(state: ServiceState, settings: Settings) -> None:
    await run_in_threadpool(state.start)
    if state.current is not None:
        await run_in_threadpool(webhooks.record_models, settings, state.current)
    _loaded(state)


def _loaded(state: ServiceState) -> None:
    state.publish()
    gc.freeze()  # start-up objects (models, libraries) leave the collector's scans


async def _periodic_reload(state: ServiceState, settings: Settings, interval: float) -> None:
    """Check the registry and rulebook every `interval` seconds; swap in what changed."""
    while True:
        await asyncio.sleep(interval)
        try:
            if await run_in_threadpool(state.reload_if_changed):
                await run_in_threadpool(webhooks.record_models, settings, state.current)
        except Exception:  # the loop must survive anything
            log.exception("periodic reload check failed")


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tierwise")
    except PackageNotFoundError:
        return "0"
