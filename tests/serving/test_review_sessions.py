"""Review sessions a copied config cannot mint: server-side, revocable, CSRF bound to them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer

from serving.auth import hash_key
from tests.serving._db import key_of, make_app, review_settings, seed_plan
from tests.serving.test_review_page import PLAN, csrf_of, sign_in
from tierwise.settings import Settings


@pytest.fixture
def url(tmp_path: Path) -> str:
    found = f"sqlite:///{tmp_path / 'tierwise.db'}"
    seed_plan(found)
    return found


@pytest.fixture
def settings(url: str, tmp_path: Path) -> Settings:
    return review_settings(url, tmp_path)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(make_app(settings)) as c:
        yield c


def test_the_secret_and_the_key_hashes_cannot_mint_an_admin_session(
    client: TestClient, settings: Settings
) -> None:
    """What the issue did: sign the old cookie format with the (copied) secret and hashes."""
    admin_hash = hash_key(key_of("root"))
    for salt in ("tierwise-review", "tierwise-review-session"):
        serializer = URLSafeTimedSerializer(settings.session_secret, salt=salt)
        for payload in ({"k": admin_hash, "c": "mine"}, admin_hash, "any-session-id"):
            client.cookies.set("tw_review", serializer.dumps(payload))
            assert client.get(PLAN, follow_redirects=False).status_code == 303


def test_the_session_id_is_random_and_stored_hashed(client: TestClient, url: str) -> None:
    from sqlalchemy import select

    from serving.db import ReviewSession, get_engine, session_scope

    sign_in(client, "ann")
    cookie = client.cookies.get("tw_review")
    assert cookie is not None and hash_key(key_of("ann")) not in cookie
    with session_scope(get_engine(url)) as s:
        rows = list(s.scalars(select(ReviewSession)))
    assert len(rows) == 1 and rows[0].manager_id == "m1"
    session_id = URLSafeTimedSerializer("x").loads_unsafe(cookie)[1]
    assert rows[0].id_sha256 == hashlib.sha256(str(session_id).encode()).hexdigest()


def test_logout_revokes_the_session_a_copied_cookie_stops_working(
    client: TestClient, settings: Settings
) -> None:
    csrf = sign_in(client, "ann")
    copied = client.cookies.get("tw_review")
    assert client.post("/review/logout", data={"csrf": csrf}).status_code == 200
    with TestClient(make_app(settings)) as thief:
        thief.cookies.set("tw_review", copied or "")
        assert thief.get(PLAN, follow_redirects=False).status_code == 303


def test_removing_the_key_ends_its_sessions(client: TestClient, settings: Settings) -> None:
    sign_in(client, "ann")
    cookie = client.cookies.get("tw_review") or ""
    without_ann = settings.model_copy(
        update={"api_keys": [k for k in settings.api_keys if k.name != "Ann"]}
    )
    with TestClient(make_app(without_ann)) as after:
        after.cookies.set("tw_review", cookie)
        assert after.get(PLAN, follow_redirects=False).status_code == 303
    with TestClient(make_app(settings)) as restored:  # the key comes back: still ended
        restored.cookies.set("tw_review", cookie)
        assert restored.get(PLAN, follow_redirects=False).status_code == 303


def test_a_session_expires(client: TestClient, settings: Settings) -> None:
    from serving.db import ReviewSession, get_engine, session_scope

    sign_in(client, "ann")
    assert client.get(PLAN, follow_redirects=False).status_code == 200
    with session_scope(get_engine(settings.db_url)) as s:  # its lifetime passes
        for row in s.query(ReviewSession):
            row.expires_at = row.created_at
    assert client.get(PLAN, follow_redirects=False).status_code == 303


def test_the_csrf_token_is_the_sessions_not_the_cookie_holders(client: TestClient) -> None:
    sign_in(client, "ann")
    page = client.get(PLAN).text
    action = int(page.split('data-action-id="', 1)[1].split('"', 1)[0])
    forged = client.post(f"/review/actions/{action}", data={"decision": "accept", "csrf": "mine"})
    assert forged.status_code == 403
    ok = client.post(
        f"/review/actions/{action}", data={"decision": "accept", "csrf": csrf_of(page)}
    )
    assert ok.status_code == 200


@pytest.mark.parametrize("configured", [True, False])
def test_secure_cookies_are_configurable_behind_a_tls_proxy(
    settings: Settings, configured: bool
) -> None:
    app = make_app(settings.model_copy(update={"cookie_secure": configured}))
    with TestClient(app, base_url="https://testserver") as c:  # a TLS proxy in front
        page = c.get("/review/login")
        token = csrf_of(page.text)
        assert ("secure" in page.headers["set-cookie"].lower()) is configured
        r = c.post(
            "/review/login",
            data={"key": key_of("ann"), "csrf": token},
            follow_redirects=False,
        )
        assert ("secure" in r.headers["set-cookie"].lower()) is configured


def test_pages_send_csp_and_frame_ancestors(client: TestClient) -> None:
    sign_in(client, "ann")
    for path in ("/review/login", PLAN):
        headers = client.get(path).headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "script-src 'self'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
