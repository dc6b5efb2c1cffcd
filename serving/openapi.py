"""The OpenAPI document a client generator can trust.

FastAPI builds the paths and schemas from the routes; this module adds what an integrator's
generator needs and FastAPI cannot know: readable operationIds, the two security schemes,
`servers`, the request limits, and the problem+json schema on every error answer (the
answers really sent: FastAPI's default 422 shape is replaced, since the service never sends it).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from serving import idempotency
from serving.problems import PROBLEM_JSON, ProblemDoc, problem_examples
from tierwise.settings import Settings

# route function name → operationId (camelCase, what generated clients call)
OPERATION_IDS = {
    "healthz": "getHealth",
    "readyz": "getReadiness",
    "metrics": "getMetrics",
    "score": "scorePartnerInline",
    "score_batch": "scoreBatch",
    "score_partner": "scorePartner",
    "score_deal_registration": "scoreDealRegistration",
    "report_deal_decision": "reportDealDecision",
    "get_deal_registration": "getDealRegistration",
    "list_deal_registrations": "listDealRegistrations",
    "rules": "getRules",
    "models": "getModels",
    "reload": "reloadModels",
    "list_weeks": "listPlanWeeks",
    "get_plan": "getPlan",
    "review": "reviewAction",
    "partner_tiers": "getPartnerTiers",
    "partner_incentives": "getPartnerIncentives",
    "list_events": "listEvents",
    "create_webhook": "createWebhook",
    "list_webhooks": "listWebhooks",
    "delete_webhook": "deleteWebhook",
    "webhook_deliveries": "listWebhookDeliveries",
}
SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"apiKeyHeader": []}]
SECURITY_SCHEMES = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "`Authorization: Bearer <key>` (keys from `tierwise keys new`)",
    },
    "apiKeyHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "The same key in `X-API-Key`",
    },
}
IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Retry-safe writes: a retry with the same key and body gets the first "
    "answer again; the same key with another body is 422. Kept "
    "`TIERWISE_IDEMPOTENCY_TTL_HOURS` (24 h).",
    # what serving.idempotency.KEY_PATTERN accepts: 1-255 visible ASCII characters
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
}
CACHEABLE = frozenset({"getRules", "getModels", "getPlan"})
ETAG_HEADER = {
    "description": "Tag of this answer (send it in If-None-Match)",
    "schema": {"type": "string"},
}
IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "The ETag of the answer you hold: 304 when it is still current",
    "schema": {"type": "string"},
}
NOT_MODIFIED = {
    "description": "Not modified: the answer is the one you hold",
    "headers": {"ETag": ETAG_HEADER},
}
NEVER_404 = frozenset({"reportDealDecision"})  # an upsert: any id is fine
PUBLIC_PATHS = ("/healthz", "/readyz", "/metrics")


def operation_id(route: APIRoute) -> str:
    """The operationId of a route: from OPERATION_IDS, else its function name in camelCase."""
    return OPERATION_IDS.get(route.name) or _camel(route.name)


def _camel(name: str) -> str:
    head, *rest = re.split(r"_+", name)
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def limits_text(settings: Settings) -> str:
    return (
        f"Limits: a request body holds at most {settings.max_body_bytes} bytes (413), a batch "
        f"at most {settings.max_batch} partners (422), an id at most 200 characters (422)."
    )


def build(app: FastAPI, settings: Settings) -> dict[str, Any]:
    """The whole document (FastAPI's, completed as described above)."""
    doc = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        description=f"{app.description}\n\n{limits_text(settings)}",
        routes=app.routes,
        servers=[{"url": public_url(settings), "description": "this Tierwise service"}],
    )
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(_problem_schemas())
    components["securitySchemes"] = SECURITY_SCHEMES
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            _complete(operation, secured=path.startswith("/v1/") and path not in PUBLIC_PATHS)
            if idempotency.applies(method.upper(), path):
                operation.setdefault("parameters", []).append(IDEMPOTENCY_PARAMETER)
                for status in ("409", "422"):  # still running / the key with another body
                    operation["responses"].setdefault(status, _problem(status))
            if operation.get("operationId") in CACHEABLE:
                operation.setdefault("parameters", []).append(IF_NONE_MATCH)
                operation["responses"]["304"] = NOT_MODIFIED
                operation["responses"]["200"]["headers"] = {"ETag": ETAG_HEADER}
    _drop_unreferenced(doc, ("HTTPValidationError", "ValidationError"))
    return doc


def public_url(settings: Settings) -> str:
    return settings.public_url or f"http://{settings.host}:{settings.port}"


def _problem_schemas() -> dict[str, Any]:
    schema = ProblemDoc.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    return {"Problem": schema, **defs}


def _complete(operation: dict[str, Any], *, secured: bool) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    statuses = {"500"}
    if secured:
        operation["security"] = SECURITY
        statuses |= {"401", "403", "429", "503"}
    if "requestBody" in operation:
        statuses |= {"400", "413", "415", "422"}
    if operation.get("parameters"):
        statuses.add("422")
    in_path = any(p.get("in") == "path" for p in operation.get("parameters", []))
    if in_path and operation.get("operationId") not in NEVER_404:
        statuses.add("404")  # an unknown id
    for status in statuses:
        responses.setdefault(status, {})
    examples = problem_examples()
    for status, response in responses.items():
        if not status.isdigit() or int(status) < 400:
            continue
        example = (response.get("content", {}).get(PROBLEM_JSON) or {}).get("example")
        if example is None:
            example = examples.get(int(status))
        media: dict[str, Any] = {"schema": {"$ref": "#/components/schemas/Problem"}}
        if example is not None:
            media["example"] = example
        response["content"] = {PROBLEM_JSON: media}
        response.setdefault("description", _DESCRIPTIONS.get(int(status), "Error"))
        if response["description"] in ("Validation Error", ""):
            response["description"] = _DESCRIPTIONS[422]
        if int(status) in (429, 503):
            response["headers"] = {
                "Retry-After": {
                    "description": "Seconds to wait before retrying",
                    "schema": {"type": "integer"},
                }
            }


_DESCRIPTIONS = {
    400: "Malformed JSON",
    401: "No API key or an unknown one",
    403: "The key's role may not do this",
    404: "Not found",
    409: "Conflict with the current state",
    412: "Precondition failed",
    413: "Request body too large",
    415: "The body is not application/json",
    422: "Invalid input: every bad field named",
    429: "Too many requests for this key",
    500: "Unexpected error (logged with the request id)",
    503: "Not ready: rulebook, models or database unavailable",
}


def _problem(status: str) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": {"$ref": "#/components/schemas/Problem"}}
    example = problem_examples().get(int(status))
    if example is not None:
        media["example"] = example
    return {"description": _DESCRIPTIONS[int(status)], "content": {PROBLEM_JSON: media}}


def _drop_unreferenced(doc: dict[str, Any], names: tuple[str, ...]) -> None:
    schemas = doc["components"]["schemas"]
    for name in names:
        if name not in schemas:
            continue
        rest = {k: v for k, v in schemas.items() if k != name}
        text = str({**doc, "components": {**doc["components"], "schemas": rest}})
        if f"#/components/schemas/{name}" not in text:
            schemas.pop(name)


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the completed document at /openapi.json (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app, settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
