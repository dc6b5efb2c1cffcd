"""POST /v1/deal-registrations/{id}/decision: the vendor's decision reported back, stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from serving.db import DealDecision, get_engine, session_scope
from tests.serving._db import database_url, key_of, make_app, review_settings, seed_plan

PRM = {"Authorization": f"Bearer {key_of('prm')}"}
URL = "/v1/deal-registrations/D0001234/decision"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    with database_url("sqlite", tmp_path) as url:
        seed_plan(url)
        with TestClient(make_app(review_settings(url, tmp_path))) as c:
            yield c, url


def test_a_decision_is_stored_and_a_later_outcome_replaces_it(
    env: tuple[TestClient, str],
) -> None:
    client, url = env
    body = {"decision": "accepted", "outcome": "open", "decided_at": "2026-11-24T16:00:00+01:00"}
    first = client.post(URL, json={**body, "partner_id": "P001"}, headers=PRM)
    assert first.status_code == 200, first.text
    assert first.json()["decided_at"] == "2026-11-24T15:00:00Z"
    later = client.post(URL, json={**body, "outcome": "won", "amount": 48000.0}, headers=PRM)
    assert later.json()["outcome"] == "won" and later.json()["partner_id"] == "P001"
    with session_scope(get_engine(url)) as s:
        [row] = s.query(DealDecision).all()
        assert (row.decision, row.outcome, row.amount) == ("accepted", "won", 48000.0)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"decision": "maybe", "decided_at": "2026-11-24T15:00:00Z"}, "decision"),
        ({"decision": "accepted", "decided_at": "2026-11-24T15:00:00"}, "decided_at"),
        ({"decision": "rejected", "outcome": "won", "decided_at": "2026-11-24T15:00:00Z"}, None),
        (
            {"decision": "accepted", "currency": "usd", "decided_at": "2026-11-24T15:00:00Z"},
            "currency",
        ),
    ],
)
def test_bad_reports_are_422_naming_the_field(
    env: tuple[TestClient, str], body: dict[str, str], field: str | None
) -> None:
    client, _ = env
    r = client.post(URL, json=body, headers=PRM)
    assert r.status_code == 422
    if field:
        assert r.json()["errors"][0]["loc"] == ["body", field]


def test_managers_do_not_report_deal_decisions(env: tuple[TestClient, str]) -> None:
    client, _ = env
    body = {"decision": "accepted", "decided_at": "2026-11-24T15:00:00Z"}
    r = client.post(URL, json=body, headers={"Authorization": f"Bearer {key_of('ann')}"})
    assert r.status_code == 403
