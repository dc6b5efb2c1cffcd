"""GET /v1/plans/{week} and POST /v1/actions/{id}/review over HTTP (TestClient)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.serving._db import BACKENDS, database_url, key_of, make_app, review_settings, seed_plan

WEEK = "2026-W48"


@pytest.fixture(params=BACKENDS)
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    with database_url(request.param, tmp_path) as url:
        seed_plan(url)
        with TestClient(make_app(review_settings(url, tmp_path))) as c:
            yield c


def _as(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key_of(name)}"}


def _plan(client: TestClient, who: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/v1/plans/{WEEK}", headers=_as(who), params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _first_action(client: TestClient, who: str) -> dict[str, Any]:
    action: dict[str, Any] = _plan(client, who)["actions"][0]
    return action


def test_a_manager_gets_only_their_own_actions(client: TestClient) -> None:
    body = _plan(client, "ann")
    assert body["manager_id"] == "m1"
    assert body["actions"] and {a["manager_id"] for a in body["actions"]} == {"m1"}
    assert [a["manager_rank"] for a in body["actions"]] == sorted(
        a["manager_rank"] for a in body["actions"]
    )


def test_an_admin_gets_every_managers_actions(client: TestClient) -> None:
    assert {a["manager_id"] for a in _plan(client, "root")["actions"]} == {"m1", "m2"}
    assert {a["manager_id"] for a in _plan(client, "root", manager_id="m2")["actions"]} == {"m2"}


def test_a_manager_asking_for_another_managers_plan_is_refused(client: TestClient) -> None:
    response = client.get(f"/v1/plans/{WEEK}", headers=_as("ann"), params={"manager_id": "m2"})
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")


def test_latest_is_the_newest_week(client: TestClient) -> None:
    assert client.get("/v1/plans/latest", headers=_as("ann")).json()["week"] == WEEK


@pytest.mark.parametrize(
    ("week", "status"), [("2026-W47", 404), ("2025-W53", 404), ("2026-48", 422)]
)
def test_unknown_or_malformed_weeks(client: TestClient, week: str, status: int) -> None:
    response = client.get(f"/v1/plans/{week}", headers=_as("ann"))
    assert response.status_code == status
    assert response.json()["status"] == status


@pytest.mark.parametrize(("headers", "status"), [({}, 401), (_as("prm"), 403)])
def test_no_key_or_a_scorer_key_may_not_read_plans(
    client: TestClient, headers: dict[str, str], status: int
) -> None:
    assert client.get(f"/v1/plans/{WEEK}", headers=headers).status_code == status


def test_review_updates_the_action_and_the_plan(client: TestClient) -> None:
    action = _first_action(client, "ann")
    response = client.post(
        f"/v1/actions/{action['id']}/review",
        headers=_as("ann"),
        json={"decision": "dismiss", "reason": "called yesterday"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "dismissed"
    again = next(a for a in _plan(client, "ann")["actions"] if a["id"] == action["id"])
    assert again["dismiss_reason"] == "called yesterday" and again["reviewed_by"] == "Ann"


def test_reviewing_another_managers_action_is_forbidden(client: TestClient) -> None:
    theirs = _first_action(client, "bob")
    response = client.post(
        f"/v1/actions/{theirs['id']}/review", headers=_as("ann"), json={"decision": "accept"}
    )
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    unchanged = next(a for a in _plan(client, "bob")["actions"] if a["id"] == theirs["id"])
    assert unchanged["status"] == "proposed"


def test_reviewing_an_unknown_action_is_not_found(client: TestClient) -> None:
    response = client.post(
        "/v1/actions/999999/review", headers=_as("root"), json={"decision": "accept"}
    )
    assert response.status_code == 404


def test_an_impossible_transition_is_a_conflict(client: TestClient) -> None:
    action = _first_action(client, "ann")
    url = f"/v1/actions/{action['id']}/review"
    assert client.post(url, headers=_as("ann"), json={"decision": "done"}).status_code == 200
    response = client.post(url, headers=_as("ann"), json={"decision": "accept"})
    assert response.status_code == 409
    assert "cannot become accepted" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"decision": "dismiss"}, "reason"),
        ({"decision": "snooze"}, "until"),
        ({"decision": "snooze", "until": "2020-01-01"}, "until"),
        ({"decision": "approve"}, "decision"),
        ({"decision": "accept", "extra": 1}, "extra"),
        ({"decision": "snooze", "until": "next week"}, "until"),
    ],
)
def test_invalid_reviews_are_422_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    action = _first_action(client, "ann")
    response = client.post(f"/v1/actions/{action['id']}/review", headers=_as("ann"), json=body)
    assert response.status_code == 422
    assert field in response.text


def test_an_action_id_beyond_a_database_integer_is_422_not_500(client: TestClient) -> None:
    body = {"decision": "accept"}
    r = client.post(f"/v1/actions/{2**63}/review", json=body, headers=_as("ann"))
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
