"""Webhooks against a real local receiver: signed, retried with backoff, replays refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from serving.auth import hash_key
from serving.webhooks import Deliverer, SignatureError, backoff, sign, verify
from tests.serving._db import database_url, key_of, make_app, review_settings, seed_plan
from tests.serving.webhook_receiver import Receiver
from tierwise.settings import ApiKey, Settings

SECRET = "whsec_test_secret_0123456789"
WEEK = "2026-W48"


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    with database_url("sqlite", tmp_path) as url:
        seed_plan(url)
        base = review_settings(url, tmp_path)
        keys = [*base.api_keys, ApiKey(key_sha256=hash_key("int-key"), role="integration")]
        yield base.model_copy(
            update={
                "api_keys": keys,
                "webhook_interval_s": 0,
                "webhook_backoff_s": 10,
                "webhook_max_attempts": 3,
            }
        )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(make_app(settings)) as c:
        yield c


def _as(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key_of(name)}"}


def subscribe(client: TestClient, url: str, events: list[str] | None = None) -> dict[str, Any]:
    body = {"url": url, "events": events or ["action.reviewed"], "secret": SECRET}
    r = client.post("/v1/webhooks", json=body, headers=_as("root"))
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def review_one(client: TestClient) -> int:
    plan = client.get(f"/v1/plans/{WEEK}", headers=_as("ann")).json()
    action = int(plan["actions"][0]["id"])
    r = client.post(f"/v1/actions/{action}/review", json={"decision": "accept"}, headers=_as("ann"))
    assert r.status_code == 200, r.text
    return action


def deliveries(client: TestClient, webhook: int) -> list[dict[str, Any]]:
    r = client.get(f"/v1/webhooks/{webhook}/deliveries", headers=_as("root"))
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()
    return found


def test_a_signed_event_reaches_a_real_receiver(client: TestClient, settings: Settings) -> None:
    with Receiver(SECRET) as receiver:
        hook = subscribe(client, receiver.url)
        action = review_one(client)
        report = Deliverer(settings).run_due()
    assert report.delivered == 1 and receiver.refused == []
    event = receiver.received[0]
    assert event["type"] == "action.reviewed"
    assert event["data"]["plan_action_id"] == action and event["data"]["status"] == "accepted"
    assert event["occurred_at"].endswith("Z")
    headers, _ = receiver.raw[0]
    assert headers["tierwise-event-id"] == event["id"]
    [log] = deliveries(client, hook["id"])
    assert (log["status"], log["attempts"], log["response_status"]) == ("delivered", 1, 200)


def test_receiver_down_then_up_is_retried_with_backoff(
    client: TestClient, settings: Settings
) -> None:
    with Receiver(SECRET) as receiver:
        port, url = receiver.port, receiver.url
    hook = subscribe(client, url)  # the receiver is down now
    review_one(client)
    now = datetime.now(UTC)
    deliverer = Deliverer(settings)
    assert deliverer.run_due(now=now).retrying == 1
    [log] = deliveries(client, hook["id"])
    assert log["status"] == "pending" and "ConnectError" in log["last_error"]
    assert deliverer.run_due(now=now + timedelta(seconds=5)).retrying == 0  # not yet due
    with Receiver(SECRET, port=port) as receiver:
        report = deliverer.run_due(now=now + timedelta(seconds=10))
    assert report.delivered == 1 and len(receiver.received) == 1
    [log] = deliveries(client, hook["id"])
    assert (log["status"], log["attempts"], log["last_error"]) == ("delivered", 2, None)


def test_a_failing_receiver_gets_doubling_waits_then_the_delivery_fails(
    client: TestClient, settings: Settings
) -> None:
    with Receiver(SECRET) as receiver:
        receiver.fail_next = 10
        hook = subscribe(client, receiver.url)
        review_one(client)
        now = datetime.now(UTC)
        deliverer = Deliverer(settings)
        assert deliverer.run_due(now=now).retrying == 1
        assert deliverer.run_due(now=now + timedelta(seconds=10)).retrying == 1
        assert deliverer.run_due(now=now + timedelta(seconds=29)).retrying == 0
        assert deliverer.run_due(now=now + timedelta(seconds=30)).failed == 1
    [log] = deliveries(client, hook["id"])
    assert (log["status"], log["attempts"], log["response_status"]) == ("failed", 3, 500)
    assert len(receiver.raw) == 3
    assert [backoff(n, base_s=10).seconds for n in (1, 2, 3)] == [10, 20, 40]


def test_a_replayed_or_forged_delivery_is_refused(client: TestClient, settings: Settings) -> None:
    with Receiver(SECRET) as receiver:
        subscribe(client, receiver.url)
        review_one(client)
        Deliverer(settings).run_due()
        headers, body = receiver.raw[0]
        send = {k: v for k, v in headers.items() if k.startswith(("tierwise", "content-type"))}
        again = httpx.post(receiver.url, content=body, headers=send)
        assert again.status_code == 409  # the same event id: already handled
        old = int(datetime.now(UTC).timestamp()) - 3600
        stale = {**send, "tierwise-signature": sign(SECRET, body, timestamp=old)}
        assert httpx.post(receiver.url, content=body, headers=stale).status_code == 401
        tampered = body.replace(b"accepted", b"dismissed")
        assert httpx.post(receiver.url, content=tampered, headers=send).status_code == 401
    assert len(receiver.received) == 1


def test_verify_names_what_is_wrong() -> None:
    body, now = b'{"id":"1"}', 1_764_489_600
    good = sign(SECRET, body, timestamp=now)
    assert verify(SECRET, good, body, now=now + 10) == now
    for header, message in [
        ("v1=abc", "malformed"),
        (sign("another-secret-0000", body, timestamp=now), "mismatch"),
        (good, "replay"),
    ]:
        with pytest.raises(SignatureError, match=message):
            verify(SECRET, header, body, now=now + 301)


def test_the_event_feed_pages_with_a_cursor(client: TestClient) -> None:
    review_one(client)
    headers = {"X-API-Key": "int-key"}
    page = client.get("/v1/events", params={"after": "0", "limit": 1}, headers=headers).json()
    assert [e["type"] for e in page["events"]] == ["action.reviewed"]
    after = page["next_cursor"]
    rest = client.get("/v1/events", params={"after": after}, headers=headers).json()
    assert rest == {"events": [], "next_cursor": after}
    bad = client.get("/v1/events", params={"after": "yesterday"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["value"] == "yesterday"
    assert client.get("/v1/events", headers=_as("ann")).status_code == 403


def test_only_admins_manage_webhooks_and_secrets_are_shown_once(client: TestClient) -> None:
    hook = subscribe(client, "http://127.0.0.1:9/hooks", ["plan.ready"])
    assert hook["secret"] == SECRET
    listed = client.get("/v1/webhooks", headers=_as("root")).json()
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]
    for who in ("ann", "prm"):
        assert client.get("/v1/webhooks", headers=_as(who)).status_code == 403
    assert client.get("/v1/webhooks", headers={"X-API-Key": "int-key"}).status_code == 403
    bad = client.post(
        "/v1/webhooks", json={"url": "ftp://x", "events": ["nope"]}, headers=_as("root")
    )
    assert bad.status_code == 422
    assert {tuple(e["loc"][:2]) for e in bad.json()["errors"]} == {
        ("body", "url"),
        ("body", "events"),
    }
    assert client.delete(f"/v1/webhooks/{hook['id']}", headers=_as("root")).status_code == 204
    assert client.delete(f"/v1/webhooks/{hook['id']}", headers=_as("root")).status_code == 404
