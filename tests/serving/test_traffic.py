"""Traffic and traceability: request ids, rate limits, 415, gzip, the JSON access log."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from serving.service_state import Loaded, ServiceState
from tests.serving.conftest import MakeClient, headers, score_body
from tierwise.errors import NotReady
from tierwise.settings import Settings

SCORER = headers("scorer")
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_a_request_id_is_echoed_and_written_into_problems(client: TestClient) -> None:
    r = client.post("/v1/score", json={}, headers={**SCORER, "X-Request-ID": "prm-42"})
    assert r.status_code == 422
    assert r.headers["x-request-id"] == "prm-42"
    assert r.json()["request_id"] == "prm-42"


def test_a_request_id_is_generated_and_traceparent_echoed(client: TestClient) -> None:
    r = client.get("/healthz", headers={"traceparent": TRACEPARENT, "X-Request-ID": "bad id!"})
    assert len(r.headers["x-request-id"]) == 32 and r.headers["x-request-id"] != "bad id!"
    assert r.headers["traceparent"] == TRACEPARENT


def test_over_the_rate_limit_is_429_with_retry_after(make_client: MakeClient) -> None:
    c = make_client(rate_limit_per_minute=3)
    answers = [c.get("/v1/rules", headers=SCORER) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["ratelimit-remaining"] for a in answers[:3]] == ["2", "1", "0"]
    limited = answers[3]
    assert limited.headers["content-type"] == "application/problem+json"
    assert int(limited.headers["retry-after"]) >= 1
    assert "3 requests a minute" in limited.json()["detail"]
    other = c.get("/v1/rules", headers=headers("admin"))  # limits are per key
    assert other.status_code == 200


def test_guessing_keys_is_stopped(make_client: MakeClient) -> None:
    c = make_client(auth_failures_per_minute=5)
    codes = [c.get("/v1/rules", headers={"X-API-Key": f"guess-{i}"}).status_code for i in range(7)]
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]
    assert c.get("/healthz").status_code == 200


def test_a_body_that_is_not_json_is_415(client: TestClient) -> None:
    r = client.post(
        "/v1/score", content=b"partner_id=P1", headers={**SCORER, "Content-Type": "text/plain"}
    )
    assert r.status_code == 415
    assert r.json()["errors"][0]["loc"] == ["header", "Content-Type"]


def test_large_answers_are_gzipped(
    client: TestClient, feature_frame: tuple[pd.DataFrame, datetime]
) -> None:
    body = score_body(*feature_frame, row=3)
    r = client.post(
        "/v1/score?explain=true", json=body, headers={**SCORER, "Accept-Encoding": "gzip"}
    )
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip"
    assert int(r.headers["content-length"]) < len(r.content) / 2
    small = client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers


def test_every_request_is_one_json_access_line(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="tierwise.access"):
        client.get("/v1/rules", headers={**SCORER, "X-Request-ID": "log-me"})
    lines: list[dict[str, Any]] = [
        json.loads(r.getMessage()) for r in caplog.records if r.name == "tierwise.access"
    ]
    assert lines[-1]["request_id"] == "log-me"
    assert (lines[-1]["status"], lines[-1]["route"], lines[-1]["method"]) == (
        200,
        "/v1/rules",
        "GET",
    )
    assert lines[-1]["duration_ms"] > 0


def test_503_says_when_to_retry(make_client: MakeClient, settings: Settings) -> None:
    def no_models(_: Settings) -> Loaded:
        raise NotReady("no models here")

    c = make_client(state=ServiceState(settings, loader=no_models))
    r = c.post("/v1/score", json={}, headers=SCORER)
    assert r.status_code == 503
    assert r.headers["retry-after"] == "5"
