"""The one mapping from errors to `application/problem+json` (RFC 9457).

Every 4xx/5xx the service sends goes through here: Tierwise's typed errors (their `.status`),
pydantic request validation (422, every bad field named by its location), Starlette's HTTP
errors (404 route, 405 method) and, as a last resort, unexpected exceptions (500, logged).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from features.registry import closest
from tierwise.errors import Problem, TierwiseError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://tierwise.dev/problems/"


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_JSON


def problem_body(
    status: int, title: str, detail: str, *, instance: str, errors: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    slug = title.lower().replace(" ", "-")
    body: dict[str, Any] = {
        "type": TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if errors:
        body["errors"] = list(errors)
    return body


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    instance: str,
    errors: Sequence[Mapping[str, Any]] = (),
    headers: Mapping[str, str] | None = None,
) -> ProblemResponse:
    body = problem_body(status, title, detail, instance=instance, errors=errors)
    return ProblemResponse(body, status_code=status, headers=dict(headers or {}))


def jsonable(value: Any) -> Any:
    """A value safe for strict JSON (NaN/Infinity and objects become strings)."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in list(value.items())[:20]}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value[:20]]
    return repr(value)


def problem_errors(problems: Iterable[Problem]) -> list[dict[str, Any]]:
    out = []
    for p in problems:
        item = {k: jsonable(v) for k, v in p.to_dict().items()}
        column = [int(c) if c.isdigit() else c for c in p.column.split(".")] if p.column else []
        item["loc"] = [x for x in (p.file, p.table, p.row) if x is not None] + column
        out.append(item)
    return out


def validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """pydantic errors → [{loc, message, type, value}], with "did you mean" for unknown names."""
    out = []
    for err in errors:
        loc = list(err.get("loc", ()))
        message = err.get("msg", "invalid")
        if err.get("type") == "extra_forbidden" and loc:
            message = f"unknown field '{loc[-1]}'"
            hint = closest(str(loc[-1]))
            if hint:
                message += f" (did you mean '{hint}'?)"
        item: dict[str, Any] = {"loc": loc, "message": message, "type": err.get("type")}
        if "input" in err and err.get("type") != "missing":
            item["value"] = jsonable(err["input"])
        out.append(item)
    return out


async def _tierwise_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, TierwiseError)
    if exc.status >= 500:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return problem_response(
        exc.status,
        exc.title,
        exc.detail,
        instance=request.url.path,
        errors=problem_errors(exc.problems),
        headers=headers,
    )


async def _validation_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    errors = validation_errors(exc.errors())
    detail = f"{len(errors)} invalid field{'s' if len(errors) != 1 else ''} in the request"
    return problem_response(422, "Invalid input", detail, instance=request.url.path, errors=errors)


async def _http_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    titles = {404: "Not found", 405: "Method not allowed", 400: "Bad request"}
    title = titles.get(exc.status_code, "HTTP error")
    return problem_response(
        exc.status_code,
        title,
        str(exc.detail),
        instance=request.url.path,
        headers=getattr(exc, "headers", None),
    )


async def _unexpected(request: Request, exc: Exception) -> ProblemResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(
        500, "Internal error", "An unexpected error occurred", instance=request.url.path
    )


def document_bodies(app: FastAPI) -> None:
    """Put the schemas of self-parsed request bodies (`json_body`) into the OpenAPI
    components, where their `$ref`s point."""
    from pydantic.json_schema import models_json_schema

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = generate()
        _, defs = models_json_schema(
            [(m, "validation") for m in BODY_MODELS],
            ref_template="#/components/schemas/{model}",
        )
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        for name, schema in defs.get("$defs", {}).items():
            schemas.setdefault(name, schema)
        current = getattr(getattr(app.state, "service", None), "current", None)
        if current is not None:
            _rulebook_enums(schemas, current.rulebook)
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
    service = getattr(app.state, "service", None)
    if service is not None:  # a reload may bring other tiers and actions
        service.on_load.append(lambda: setattr(app, "openapi_schema", None))


def _rulebook_enums(schemas: dict[str, Any], rulebook: Any) -> None:
    """Tier and action names the loaded rulebook knows, as enums (others are refused)."""
    tiers = sorted(rulebook.tier_names)
    actions = [a.id for a in rulebook.actions]
    fields = {
        "TierStateIn": {"tier": tiers, "override_tier": tiers},
        "ActionHistoryIn": {"action_id": actions},
    }
    for model, names in fields.items():
        properties = schemas.get(model, {}).get("properties", {})
        for name, allowed in names.items():
            prop = properties.get(name)
            if prop is None:
                continue
            if "anyOf" in prop:  # optional: [string, null]
                for option in prop["anyOf"]:
                    if option.get("type") == "string":
                        option["enum"] = allowed
            else:
                prop["enum"] = allowed


def install(app: FastAPI) -> None:
    """Register the problem+json handlers on an app."""
    app.add_exception_handler(TierwiseError, _tierwise_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


_EXAMPLES: dict[int, tuple[str, str, list[dict[str, Any]]]] = {
    400: ("Bad request", "There was an error parsing the body", []),
    401: ("Unauthorized", "The API key is not valid", []),
    403: ("Forbidden", "Role 'manager' may not call this endpoint (needs scorer or admin)", []),
    404: (
        "Not found",
        "Unknown partner 'P999999'",
        [
            {
                "loc": ["path", "partner_id"],
                "message": "no stored snapshot (the weekly job stores them)",
                "value": "P999999",
            }
        ],
    ),
    413: (
        "Payload too large",
        "The request body exceeds 2000000 bytes",
        [{"loc": ["body"], "message": "at most 2000000 bytes"}],
    ),
    422: (
        "Invalid input",
        "2 invalid fields in the request",
        [
            {
                "loc": ["body", "features", "revenue_won_365"],
                "type": "extra_forbidden",
                "message": "unknown field 'revenue_won_365' (did you mean 'revenue_won_365d'?)",
                "value": 1200.0,
            },
            {
                "loc": ["body", "features", "deals_won_90d"],
                "type": "greater_than_equal",
                "message": "Input should be greater than or equal to 0",
                "value": -3.0,
            },
        ],
    ),
    503: ("Service not ready", "Not ready: the rulebook and models are not loaded yet", []),
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation (with an example) of the problem+json answers of a route."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        title, detail, errors = _EXAMPLES[status]
        example = problem_body(status, title, detail, instance="/v1/score", errors=errors)
        out[status] = {"description": title, "content": {PROBLEM_JSON: {"example": example}}}
    return out


M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M], raw: bytes) -> M:
    """Validate a JSON body straight from bytes (pydantic parses and validates in one pass).

    For the hot path: the same errors, located under "body", as FastAPI's own body handling.
    """
    try:
        return model.model_validate_json(raw or b"null")
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        raise RequestValidationError(errors) from exc


BODY_MODELS: list[type[BaseModel]] = []  # request bodies the routes parse themselves


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI for a route that validates its JSON body itself (with `parse_body`)."""
    if model not in BODY_MODELS:
        BODY_MODELS.append(model)
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        }
    }
