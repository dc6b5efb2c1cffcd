"""Schemathesis against the ASGI app, with each role's key: every operation, all checks.

Generated requests (valid ones, and invalid ones in negative mode) must get answers the
OpenAPI document declares — status codes, content types, bodies — and never a 500.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from serving.service_state import Loaded, ServiceState
from tests.serving.conftest import KEYS
from tierwise.settings import Settings

pytestmark = pytest.mark.slow

ROLES = ("scorer", "manager", "admin")
EXAMPLES = 8
SKIPPED = ("POST /v1/admin/reload",)  # swaps the models mid-run; tested on its own


def _runner(
    operation: schemathesis.APIOperation, mode: GenerationMode, key: str
) -> Callable[[], None]:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers={"Authorization": f"Bearer {key}"})

    return run


def _describe(exc: BaseException) -> str:
    inner = getattr(exc, "exceptions", None)
    parts = [str(exc)] + [_describe(e) for e in inner or ()]
    return "\n".join(parts)[:3000]


@pytest.mark.parametrize("role", ROLES)
def test_the_api_answers_what_its_openapi_declares(
    role: str, settings: Settings, loaded: Loaded
) -> None:
    from serving.app import create_app

    # thousands of requests with made-up keys: the key-guessing lockout (tested in
    # test_traffic) would answer 429 where this run checks the 401/403 of each request
    settings = settings.model_copy(update={"auth_failures_per_minute": 10**9})
    state = ServiceState(settings)
    state.current = loaded
    app = create_app(settings, state=state)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    tested = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label in SKIPPED or operation.path.startswith(("/review", "/static")):
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            tested += 1
            try:
                _runner(operation, mode, KEYS[role][0])()
            except Unsatisfiable:  # no parameters to make invalid: nothing to test negatively
                continue
            except (Exception, BaseExceptionGroup) as exc:  # collect each failure, then report
                failures.append(f"{operation.label} ({mode.value}): {_describe(exc)}")
    assert tested >= 20
    assert not failures, "\n\n".join(failures)
