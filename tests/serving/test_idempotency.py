"""Idempotency-Key on writes: a retry gets the first answer; a different body is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from serving.db import AuditEntry, IdempotencyRecord, get_engine, session_scope
from tests.serving._db import BACKENDS, database_url, key_of, make_app, review_settings, seed_plan

WEEK = "2026-W48"


@pytest.fixture(params=BACKENDS)
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    with database_url(request.param, tmp_path) as url:
        seed_plan(url)
        with TestClient(make_app(review_settings(url, tmp_path))) as c:
            yield c, url


def _as(name: str, key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {key_of(name)}"}
    return {**headers, "Idempotency-Key": key} if key else headers


def _action_id(client: TestClient, who: str) -> int:
    plan = client.get(f"/v1/plans/{WEEK}", headers=_as(who)).json()
    return int(plan["actions"][0]["id"])


def _audits(url: str) -> int:
    with session_scope(get_engine(url)) as session:
        return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def _review(client: TestClient, action: int, body: dict[str, Any], **headers: str) -> Any:
    return client.post(f"/v1/actions/{action}/review", json=body, headers=headers)


def test_a_retried_snooze_returns_the_first_answer_and_audits_once(
    env: tuple[TestClient, str],
) -> None:
    client, url = env
    action = _action_id(client, "ann")
    body = {"decision": "snooze", "until": "2026-12-14"}
    first = _review(client, action, body, **_as("ann", "retry-1"))
    second = _review(client, action, body, **_as("ann", "retry-1"))
    assert first.status_code == second.status_code == 200, first.text
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert _audits(url) == 1


def test_the_same_key_with_another_body_is_422(env: tuple[TestClient, str]) -> None:
    client, url = env
    action = _action_id(client, "ann")
    _review(client, action, {"decision": "accept"}, **_as("ann", "k-2"))
    r = _review(client, action, {"decision": "done"}, **_as("ann", "k-2"))
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert _audits(url) == 1


def test_keys_belong_to_the_api_key_that_used_them(env: tuple[TestClient, str]) -> None:
    client, _ = env
    ann_action, bob_action = _action_id(client, "ann"), _action_id(client, "bob")
    assert _review(client, ann_action, {"decision": "accept"}, **_as("ann", "k")).status_code == 200
    r = _review(client, bob_action, {"decision": "accept"}, **_as("bob", "k"))
    assert r.status_code == 200 and r.json()["id"] == bob_action
    assert "idempotent-replayed" not in r.headers


def test_a_refusal_is_not_kept_so_the_retry_runs_again(env: tuple[TestClient, str]) -> None:
    client, url = env
    bob_action = _action_id(client, "bob")
    refused = _review(client, bob_action, {"decision": "accept"}, **_as("ann", "k3"))
    assert refused.status_code == 403
    with session_scope(get_engine(url)) as session:
        assert session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0


def test_without_a_key_the_same_decision_again_is_200_and_not_audited_twice(
    env: tuple[TestClient, str],
) -> None:
    client, url = env
    action = _action_id(client, "ann")
    for _ in range(2):
        assert _review(client, action, {"decision": "accept"}, **_as("ann")).status_code == 200
    assert _audits(url) == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "spaces are not allowed"])
def test_a_malformed_key_is_refused(env: tuple[TestClient, str], key: str) -> None:
    client, _ = env
    action = _action_id(client, "ann")
    headers = {"Authorization": f"Bearer {key_of('ann')}", "Idempotency-Key": key}
    r = _review(client, action, {"decision": "accept"}, **headers)
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]
