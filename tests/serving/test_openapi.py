"""The OpenAPI document: problem+json on every error, security schemes, operationIds, limits."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving.openapi import OPERATION_IDS


@pytest.fixture(scope="module")
def doc(client: TestClient) -> dict[str, Any]:
    found: dict[str, Any] = client.get("/openapi.json").json()
    return found


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, ops in doc["paths"].items() for m, op in ops.items()]


def test_every_error_answer_is_a_problem_schema(doc: dict[str, Any]) -> None:
    for method, path, op in operations(doc):
        for status, response in op["responses"].items():
            if int(status) >= 400:
                content = response["content"]
                assert list(content) == ["application/problem+json"], (method, path, status)
                schema = content["application/problem+json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}, (path, status)
    assert "HTTPValidationError" not in doc["components"]["schemas"]


def test_operation_ids_are_readable_and_unique(doc: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in operations(doc)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][A-Za-z]+", i) for i in ids), ids
    assert {"scorePartner", "scoreBatch", "getPlan", "reviewAction"} <= set(ids)
    assert set(ids) <= set(OPERATION_IDS.values())


def test_security_schemes_guard_every_v1_operation(doc: dict[str, Any]) -> None:
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["apiKeyHeader"]["name"] == "X-API-Key"
    for _, path, op in operations(doc):
        assert ("security" in op) == path.startswith("/v1/"), path
        if path.startswith("/v1/"):
            assert {"401", "403", "429"} <= set(op["responses"]), path


def test_servers_and_limits_are_declared(doc: dict[str, Any], client: TestClient) -> None:
    settings = client.app.state.settings  # type: ignore[attr-defined]
    assert doc["servers"][0]["url"].startswith("http")
    partners = doc["components"]["schemas"]["BatchScoreRequest"]["properties"]["partners"]
    assert partners["maxItems"] == settings.max_batch
    assert f"at most {settings.max_batch} partners" in doc["info"]["description"]


def test_examples_use_the_tier_names_answers_use(doc: dict[str, Any]) -> None:
    text = str(doc["paths"]["/v1/score"])
    assert "'Silver'" in text and "'silver'" not in text


def test_malformed_json_is_400_problem(client: TestClient) -> None:
    r = client.post(
        "/v1/score",
        content=b'{"partner_id": ',
        headers={"X-API-Key": "scorer-key", "Content-Type": "application/json"},
    )
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["title"] == "Malformed JSON"
