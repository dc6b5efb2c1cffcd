"""Deal registrations with a lifecycle over HTTP: eligibility with reasons, storage
(SQLite and PostgreSQL), retrieval, the join to the reported decision, and expiry."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from rules import load_rulebook
from serving.db import ScoredRegistration, get_engine, session_scope
from serving.service_state import Loaded, ServiceState
from tests.serving._db import BACKENDS, database_url
from tests.serving.conftest import MakeClient, headers, score_body

Frame = tuple[pd.DataFrame, datetime]
SCORE = "/v1/deal-registrations/score"
REGISTERED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def registration(frame: Frame, deal_id: str | None = "R1", **deal: Any) -> dict[str, Any]:
    features, as_of = frame
    body: dict[str, Any] = {
        "customer_id": "C042",
        "partner_features": score_body(features, as_of, row=3)["features"],
        "as_of": as_of.isoformat(),
        "registered_at": REGISTERED.isoformat(),
        "deal": {
            "amount": 40_000.0,
            "product": "core",
            "deal_kind": "new",
            "customer_has_open_direct_deal": False,
            "customer_is_existing": False,
            "customer_open_partner_deals": 0.0,
            "partner_customer_deals": 0.0,
            "partner_deals_in_flight": 1.0,
            **deal,
        },
    }
    if deal_id is not None:
        body["deal_id"] = deal_id
    return body


@pytest.fixture(params=BACKENDS)
def stored(
    request: pytest.FixtureRequest, make_client: MakeClient, tmp_path: Path
) -> Iterator[tuple[TestClient, str]]:
    with database_url(request.param, tmp_path) as url:
        yield make_client(database_url=url), url


def rows(url: str) -> list[ScoredRegistration]:
    with session_scope(get_engine(url)) as s:
        found = list(s.scalars(select(ScoredRegistration).order_by(ScoredRegistration.id)))
        s.expunge_all()
        return found


def test_an_open_direct_opportunity_is_refused_as_a_channel_conflict(
    client: TestClient, feature_frame: Frame
) -> None:
    body = registration(feature_frame, deal_id=None, customer_has_open_direct_deal=True)
    r = client.post(SCORE, json=body, headers=headers("scorer"))
    assert r.status_code == 200, r.text
    got = r.json()
    eligibility = got["eligibility"]
    assert eligibility["eligible"] is False and eligibility["assessed"] is True
    (reason,) = eligibility["reasons"]
    assert reason["code"] == "channel_conflict"
    assert reason["field"] == "customer_has_open_direct_deal" and reason["value"] is True
    assert reason["sentence"].startswith("C042 has an open direct opportunity")
    assert eligibility["protected_until"] is None and eligibility["expires_at"] is None
    assert 0 < got["acceptance_likelihood"] < 1 and got["stored"] is False


def test_an_eligible_registration_gets_its_protection_and_expiry(
    client: TestClient, feature_frame: Frame, loaded: Loaded
) -> None:
    r = client.post(
        SCORE, json=registration(feature_frame, deal_id=None), headers=headers("scorer")
    )
    got = r.json()["eligibility"]
    rules = loaded.rulebook.registrations
    assert rules is not None
    assert got["eligible"] is True and got["reasons"] == []
    assert [c["check"] for c in got["checks"]] == [
        "minimum_amount",
        "deal_kind",
        "channel_conflict",
    ]
    protected = pd.Timestamp(got["protected_until"]) - pd.Timestamp(REGISTERED)
    expires = pd.Timestamp(got["expires_at"]) - pd.Timestamp(REGISTERED)
    assert (protected.days, expires.days) == (rules.protection_days, rules.expiry_days)


def test_every_refusal_is_listed_with_the_value_that_decided(
    client: TestClient, feature_frame: Frame
) -> None:
    body = registration(
        feature_frame, deal_id=None, amount=900.0, deal_kind="renewal", customer_is_existing=True
    )
    got = client.post(SCORE, json=body, headers=headers("scorer")).json()["eligibility"]
    assert [(x["code"], x["value"]) for x in got["reasons"]] == [
        ("below_minimum", 900.0),
        ("kind_not_eligible", "renewal"),
    ]
    assert got["reasons"][0]["threshold"] == 2500.0


def test_a_scored_registration_is_stored_and_retrievable(
    stored: tuple[TestClient, str], feature_frame: Frame
) -> None:
    client, url = stored
    answer = client.post(SCORE, json=registration(feature_frame), headers=headers("scorer"))
    assert answer.status_code == 200 and answer.json()["stored"] is True
    got = client.get("/v1/deal-registrations/R1", headers=headers("scorer"))
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["status"] == "pending" and body["eligible"] is True and body["decision"] is None
    assert body["answer"] == answer.json()
    assert pd.Timestamp(body["registered_at"]) == pd.Timestamp(REGISTERED)
    [row] = rows(url)
    assert (row.deal_id, row.customer_id, row.times_scored) == ("R1", "C042", 1)
    assert row.acceptance_likelihood == pytest.approx(answer.json()["acceptance_likelihood"])


def test_the_stored_registration_joins_its_decision_and_outcome(
    stored: tuple[TestClient, str], feature_frame: Frame
) -> None:
    client, _ = stored
    client.post(SCORE, json=registration(feature_frame), headers=headers("scorer"))
    decided = {"decision": "accepted", "decided_at": "2026-11-03T10:00:00Z"}
    report = client.post(
        "/v1/deal-registrations/R1/decision", json=decided, headers=headers("scorer")
    )
    assert report.status_code == 200, report.text
    # registered 2026-11-02 with a 90-day expiry: unworked past 2027-01-31 → expired
    now = datetime.now(UTC)
    expected = "expired" if now >= REGISTERED + timedelta(days=90) else "accepted"
    got = client.get("/v1/deal-registrations/R1", headers=headers("scorer")).json()
    assert got["status"] == expected and got["decision"]["decision"] == "accepted"
    won = {**decided, "outcome": "won"}
    client.post("/v1/deal-registrations/R1/decision", json=won, headers=headers("scorer"))
    assert (
        client.get("/v1/deal-registrations/R1", headers=headers("scorer")).json()["status"] == "won"
    )


def test_an_accepted_registration_without_outcome_expires(
    stored: tuple[TestClient, str], feature_frame: Frame
) -> None:
    client, _ = stored
    body = registration(feature_frame, deal_id="OLD")
    body["registered_at"] = "2025-01-06T09:00:00Z"
    client.post(SCORE, json=body, headers=headers("scorer"))
    decided = {"decision": "accepted", "decided_at": "2025-01-07T10:00:00Z", "outcome": "open"}
    client.post("/v1/deal-registrations/OLD/decision", json=decided, headers=headers("scorer"))
    assert client.get("/v1/deal-registrations/OLD", headers=headers("scorer")).json()["status"] == (
        "expired"
    )


def test_rescoring_updates_and_a_new_rulebook_appends(
    make_client: MakeClient, loaded: Loaded, feature_frame: Frame, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'regs.db'}"
    client = make_client(database_url=url)
    body = registration(feature_frame)
    client.post(SCORE, json=body, headers=headers("scorer"))
    client.post(SCORE, json=body, headers=headers("scorer"))
    [row] = rows(url)
    assert row.times_scored == 2
    book_dir = tmp_path / "book"
    book_dir.mkdir()
    for f in Path(loaded.rulebook.source).glob("*.yaml"):
        text = f.read_text().replace("expiry_days: 90", "expiry_days: 30")
        (book_dir / f.name).write_text(text)
    stricter = dataclasses.replace(loaded, rulebook=load_rulebook(book_dir))
    state = ServiceState(client.app.state.settings)  # type: ignore[attr-defined]
    state.current = stricter
    other = make_client(state=state, database_url=url)
    other.post(SCORE, json=body, headers=headers("scorer"))
    first, second = rows(url)
    assert (first.times_scored, second.times_scored) == (2, 1)
    assert first.rulebook_hash != second.rulebook_hash
    got = other.get("/v1/deal-registrations/R1", headers=headers("scorer")).json()
    assert [v["rulebook_hash"] for v in got["versions"]] == [
        second.rulebook_hash,
        first.rulebook_hash,
    ]
    assert (pd.Timestamp(got["expires_at"]) - pd.Timestamp(REGISTERED)).days == 30


def test_registrations_without_a_deal_id_are_not_stored(
    make_client: MakeClient, feature_frame: Frame, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'regs.db'}"
    client = make_client(database_url=url)
    r = client.post(
        SCORE, json=registration(feature_frame, deal_id=None), headers=headers("scorer")
    )
    assert r.json()["stored"] is False
    with session_scope(get_engine(url)) as s:
        assert s.scalar(select(func.count()).select_from(ScoredRegistration)) == 0


def test_the_list_filters_by_partner_and_eligibility(
    make_client: MakeClient, feature_frame: Frame, tmp_path: Path
) -> None:
    client = make_client(database_url=f"sqlite:///{tmp_path / 'regs.db'}")
    client.post(SCORE, json=registration(feature_frame, "A"), headers=headers("scorer"))
    conflict = registration(feature_frame, "B", customer_has_open_direct_deal=True)
    client.post(SCORE, json=conflict, headers=headers("scorer"))
    listed = client.get("/v1/deal-registrations", headers=headers("scorer")).json()
    assert [x["deal_id"] for x in listed["registrations"]] == ["B", "A"]
    refused = client.get("/v1/deal-registrations?eligible=false", headers=headers("scorer")).json()
    assert [(x["deal_id"], x["status"], x["refusals"]) for x in refused["registrations"]] == [
        ("B", "refused", ["channel_conflict"])
    ]
    nobody = client.get("/v1/deal-registrations?partner_id=P-NONE", headers=headers("scorer"))
    assert nobody.json() == {"registrations": []}


def test_an_unknown_registration_is_404_and_managers_may_not_read(client: TestClient) -> None:
    r = client.get("/v1/deal-registrations/NEVER-SCORED", headers=headers("scorer"))
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["value"] == "NEVER-SCORED"
    assert client.get("/v1/deal-registrations/X", headers=headers("manager")).status_code == 403


def test_a_rulebook_without_registration_rules_assesses_nothing(
    make_client: MakeClient, loaded: Loaded, feature_frame: Frame, tmp_path: Path
) -> None:
    client = make_client(database_url=f"sqlite:///{tmp_path / 'regs.db'}")
    state = ServiceState(client.app.state.settings)  # type: ignore[attr-defined]
    state.current = dataclasses.replace(
        loaded, rulebook=dataclasses.replace(loaded.rulebook, registrations=None)
    )
    older = make_client(state=state, database_url=f"sqlite:///{tmp_path / 'regs.db'}")
    body = registration(feature_frame, customer_has_open_direct_deal=True)
    got = older.post(SCORE, json=body, headers=headers("scorer")).json()
    assert got["eligibility"] == {
        "eligible": True,
        "assessed": False,
        "reasons": [],
        "checks": [],
        "protected_until": None,
        "expires_at": None,
    }
    assert older.get("/v1/deal-registrations/R1", headers=headers("scorer")).json()["status"] == (
        "pending"
    )
