"""Plans for machines: pages with a cursor, filters, the list of weeks, ETag, integration role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving.auth import hash_key
from tests.serving._db import database_url, key_of, make_app, review_settings, seed_plan
from tierwise.settings import ApiKey

WEEK = "2026-W48"
ROOT = {"Authorization": f"Bearer {key_of('root')}"}
INTEGRATION = {"X-API-Key": "integration-key"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with database_url("sqlite", tmp_path) as url:
        seed_plan(url)
        base = review_settings(url, tmp_path)
        keys = [*base.api_keys, ApiKey(key_sha256=hash_key("integration-key"), role="integration")]
        with TestClient(make_app(base.model_copy(update={"api_keys": keys}))) as c:
            yield c


def _get(client: TestClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    r = client.get(f"/v1/plans/{WEEK}", headers=headers, params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _ids(body: dict[str, Any]) -> list[int]:
    return [a["id"] for a in body["actions"]]


def test_pages_with_a_cursor_add_up_to_the_whole_plan(client: TestClient) -> None:
    whole = _ids(_get(client, ROOT, include_overflow=True))
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"include_overflow": True, "limit": 5}
        if cursor:
            params["cursor"] = cursor
        page = _get(client, ROOT, **params)
        seen += _ids(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(page["actions"]) == 5
    assert seen == whole and len(whole) == 12


def test_filters_by_partner_action_and_status(client: TestClient) -> None:
    assert {a["partner_id"] for a in _get(client, ROOT, partner_id="P001")["actions"]} == {"P001"}
    assert {a["action_id"] for a in _get(client, ROOT, action_id="action_1")["actions"]} == {
        "action_1"
    }
    first = _get(client, ROOT)["actions"][0]
    r = client.post(f"/v1/actions/{first['id']}/review", json={"decision": "accept"}, headers=ROOT)
    assert r.status_code == 200
    accepted = _get(client, ROOT, status="accepted")
    assert _ids(accepted) == [first["id"]]
    since = _get(client, ROOT, updated_since=r.json()["reviewed_at"])
    assert _ids(since) == [first["id"]]


def test_the_list_of_weeks(client: TestClient) -> None:
    r = client.get("/v1/plans", headers=INTEGRATION)
    assert r.status_code == 200, r.text
    [week] = r.json()["weeks"]
    assert (week["week"], week["actions"], week["partners_scored"]) == (WEEK, 12, 6)


def test_an_unchanged_plan_page_is_304(client: TestClient) -> None:
    first = client.get(f"/v1/plans/{WEEK}", headers=ROOT)
    again = client.get(
        f"/v1/plans/{WEEK}", headers={**ROOT, "If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304


def test_the_integration_role_reads_every_plan_and_administers_nothing(
    client: TestClient,
) -> None:
    plan = _get(client, INTEGRATION)
    assert {a["manager_id"] for a in plan["actions"]} == {"m1", "m2"}
    action = plan["actions"][0]["id"]
    review = client.post(
        f"/v1/actions/{action}/review", json={"decision": "accept"}, headers=INTEGRATION
    )
    assert review.status_code == 403
    assert client.post("/v1/admin/reload", headers=INTEGRATION).status_code == 403
    assert client.get("/v1/webhooks", headers=INTEGRATION).status_code == 403


def test_a_cursor_not_from_this_api_is_422(client: TestClient) -> None:
    r = client.get(f"/v1/plans/{WEEK}", headers=ROOT, params={"cursor": "not-a-cursor"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["query", "cursor"]
