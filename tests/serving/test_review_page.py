"""The review pages over HTTP: sign-in, scoping, CSRF, escaping, review forms, CSV, partner page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.serving._db import BACKENDS, database_url, key_of, make_app, review_settings, seed_plan

WEEK = "2026-W48"
PLAN = f"/review/plans/{WEEK}"


@pytest.fixture(params=BACKENDS)
def app_client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    with database_url(request.param, tmp_path) as url:
        seed_plan(url)
        with TestClient(make_app(review_settings(url, tmp_path))) as c:
            yield c


def sign_in(client: TestClient, who: str) -> str:
    """Sign in through the form; returns the session's CSRF token."""
    page = client.get("/review/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    response = client.post("/review/login", data={"key": key_of(who), "csrf": token[1]})
    assert response.status_code == 200 and response.url.path == PLAN, response.text
    return csrf_of(client.get(PLAN).text)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found[1]


def action_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'data-action-id="(\d+)"', html)]


def test_pages_need_a_signed_in_reviewer(app_client: TestClient) -> None:
    response = app_client.get(PLAN, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/review/login"


@pytest.mark.parametrize("who", ["prm", "nobody"])
def test_scorer_or_unknown_keys_cannot_sign_in(app_client: TestClient, who: str) -> None:
    page = app_client.get("/review/login")
    response = app_client.post(
        "/review/login", data={"key": key_of(who), "csrf": csrf_of(page.text)}
    )
    assert response.status_code == 401
    assert "tw_review" not in response.cookies


def test_sign_in_without_the_login_token_is_refused(app_client: TestClient) -> None:
    response = app_client.post("/review/login", data={"key": key_of("ann"), "csrf": "forged"})
    assert response.status_code == 403


def test_a_forged_cookie_is_not_a_session(app_client: TestClient) -> None:
    app_client.cookies.set("tw_review", "eyJrIjoiMTIzIn0.forged.signature")
    assert app_client.get(PLAN, follow_redirects=False).status_code == 303


def test_a_manager_sees_only_their_partners(app_client: TestClient) -> None:
    sign_in(app_client, "ann")
    html = app_client.get(PLAN).text
    assert "Partner 2" in html and "Partner 4" in html
    assert "Partner 1<" not in html and "Partner 3" not in html and "Partner 5" not in html


def test_the_plan_page_shows_titles_and_sentences_with_the_codes_behind(
    app_client: TestClient,
) -> None:
    sign_in(app_client, "ann")
    html = app_client.get(PLAN).text
    assert '<strong class="action-title">Title of action 0</strong>' in html
    assert "needs action 0 &lt;b&gt;now&lt;/b&gt;" in html  # a sentence stays text
    assert '<details class="explanation">' in html and "churn_risk &gt;= 0.3" in html


def test_a_manager_cannot_ask_for_another_managers_plan(app_client: TestClient) -> None:
    sign_in(app_client, "ann")
    assert app_client.get(PLAN, params={"manager": "m2"}).status_code == 403


def test_an_admin_sees_everyone_and_can_pick_a_manager(app_client: TestClient) -> None:
    sign_in(app_client, "root")
    everyone = app_client.get(PLAN).text
    assert "Partner 1" in everyone and "Partner 2" in everyone
    only_m2 = app_client.get(PLAN, params={"manager": "m2"}).text
    assert "Partner 1" in only_m2 and "Partner 2" not in only_m2


def test_names_are_escaped(app_client: TestClient) -> None:
    sign_in(app_client, "ann")
    html = app_client.get(PLAN).text
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#39;pwn&#39;)&lt;/script&gt; Ltd" in html


def test_filters_narrow_the_list(app_client: TestClient) -> None:
    sign_in(app_client, "ann")
    all_ids = action_ids(app_client.get(PLAN).text)
    only = action_ids(app_client.get(PLAN, params={"action": "action_1"}).text)
    by_region = app_client.get(PLAN, params={"region": "NA"}).text
    assert 0 < len(only) < len(all_ids)
    assert "Partner 0" not in by_region or "EMEA" not in by_region


def test_accept_and_dismiss_are_kept_after_reload(app_client: TestClient) -> None:
    csrf = sign_in(app_client, "ann")
    first, second = action_ids(app_client.get(PLAN).text)[:2]
    app_client.post(f"/review/actions/{first}", data={"decision": "accept", "csrf": csrf})
    app_client.post(
        f"/review/actions/{second}",
        data={"decision": "dismiss", "reason": "partner on holiday", "csrf": csrf},
    )
    html = app_client.get(PLAN).text
    assert re.search(rf'id="action-{first}".*?data-status="accepted"', html, re.S)
    assert re.search(rf'id="action-{second}".*?data-status="dismissed"', html, re.S)
    assert "partner on holiday" in html


def test_a_review_without_the_csrf_token_is_refused(app_client: TestClient) -> None:
    sign_in(app_client, "ann")
    action = action_ids(app_client.get(PLAN).text)[0]
    response = app_client.post(f"/review/actions/{action}", data={"decision": "accept"})
    assert response.status_code == 403
    assert "CSRF" in response.text
    assert re.search(
        rf'id="action-{action}".*?data-status="proposed"', app_client.get(PLAN).text, re.S
    )


def test_a_manager_cannot_change_another_managers_action(app_client: TestClient) -> None:
    csrf = sign_in(app_client, "root")
    theirs = action_ids(app_client.get(PLAN, params={"manager": "m2"}).text)[0]
    app_client.post("/review/logout", data={"csrf": csrf})
    csrf = sign_in(app_client, "ann")
    response = app_client.post(
        f"/review/actions/{theirs}", data={"decision": "accept", "csrf": csrf}
    )
    assert response.status_code == 403
    assert "another channel manager" in response.text


def test_invalid_review_shows_the_problem(app_client: TestClient) -> None:
    csrf = sign_in(app_client, "ann")
    action = action_ids(app_client.get(PLAN).text)[0]
    response = app_client.post(
        f"/review/actions/{action}", data={"decision": "snooze", "until": "soon", "csrf": csrf}
    )
    assert response.status_code == 422 and "is not a date" in response.text


def test_redirects_stay_inside_the_review_pages(app_client: TestClient) -> None:
    csrf = sign_in(app_client, "ann")
    action = action_ids(app_client.get(PLAN).text)[0]
    response = app_client.post(
        f"/review/actions/{action}",
        data={"decision": "accept", "csrf": csrf, "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert response.headers["location"] == PLAN


def test_csv_export_has_the_managers_actions_only(app_client: TestClient) -> None:
    sign_in(app_client, "ann")
    response = app_client.get(f"{PLAN}/export.csv")
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text.strip().splitlines()
    assert lines[0].startswith("manager_rank,partner_id")
    assert len(lines) - 1 == len(action_ids(app_client.get(PLAN).text))
    assert all(",P001," not in line for line in lines)


def test_the_plan_page_draws_its_charts_inline(app_client: TestClient) -> None:
    sign_in(app_client, "ann")
    html = app_client.get(PLAN).text
    assert html.count("<svg") == 3
    assert "Actions by type" in html and "Churn risk" in html and "Tier movement" in html
    assert "http://" not in html and "https://" not in html  # no CDN


def test_partner_page_shows_history_and_refuses_others(app_client: TestClient) -> None:
    sign_in(app_client, "ann")
    page = app_client.get("/review/partners/P000")
    assert page.status_code == 200
    assert "2026-W48" in page.text and "&lt;script&gt;" in page.text
    assert app_client.get("/review/partners/P001").status_code == 403
    assert app_client.get("/review/partners/nobody").status_code == 404


def test_logout_ends_the_session(app_client: TestClient) -> None:
    csrf = sign_in(app_client, "ann")
    app_client.post("/review/logout", data={"csrf": csrf})
    assert app_client.get(PLAN, follow_redirects=False).status_code == 303
