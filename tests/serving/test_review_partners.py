"""Partner pages of a real weekly plan: every page opens, and the gap is the stored decision's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from serving.db import TierDecision, get_engine, session_scope
from serving.weekly import run_week
from tests.serving._db import key_of, make_app, review_settings
from tests.serving._weekly import RULEBOOK, Recommender

WEEKS = ("2026-W48", "2026-W49")


@pytest.fixture(scope="module")
def signed_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    """An admin signed in to the review pages of two real weekly runs (real recommend_frame)."""
    from simulation.program import simulate, write_simulation

    folder = tmp_path_factory.mktemp("partner-pages")
    sim = simulate(partners=60, years=1.0, seed=11, end=datetime(2026, 12, 14, tzinfo=UTC))
    write_simulation(sim, folder / "data")
    url = f"sqlite:///{folder / 'tierwise.db'}"
    settings = review_settings(url, folder)
    for week in WEEKS:
        run_week(settings, data_dir=folder / "data", week=week, recommender=Recommender())
    with TestClient(make_app(settings)) as client:
        page = client.get("/review/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token is not None
        client.post("/review/login", data={"key": key_of("root"), "csrf": token[1]})
        yield client, url


def _latest(url: str) -> list[TierDecision]:
    with session_scope(get_engine(url)) as s:
        rows = s.scalars(select(TierDecision).where(TierDecision.week == WEEKS[-1])).all()
        s.expunge_all()
    return list(rows)


def _next_tier(track: str, tier: str) -> str | None:
    found = RULEBOOK.track(track)
    assert found is not None
    return found.by_rank.get(found.ranks[tier] + 1)


def test_every_partner_page_of_the_plan_opens(signed_in: tuple[TestClient, str]) -> None:
    client, url = signed_in
    decisions = _latest(url)
    assert decisions
    for d in decisions:
        response = client.get(f"/review/partners/{d.partner_id}")
        assert response.status_code == 200, (d.partner_id, response.text[:500])


def test_the_gap_is_to_the_tier_above_the_stored_one(signed_in: tuple[TestClient, str]) -> None:
    client, url = signed_in
    with_next = 0
    for d in _latest(url):
        expected = _next_tier(d.details["track"], d.tier)
        html = client.get(f"/review/partners/{d.partner_id}").text
        if expected is None:
            assert "Already at the top tier" in html
            continue
        with_next += 1
        assert f"Next tier: <b>{expected}</b>" in html, d.partner_id
        section = html.split("Gap to the next tier", 1)[1].split("</div>", 1)[0]
        assert "<li>" in section and "is unavailable" not in section
    assert with_next > 0


def test_a_stored_gap_is_shown_as_stored(signed_in: tuple[TestClient, str]) -> None:
    client, url = signed_in
    d = _latest(url)[0]
    with session_scope(get_engine(url)) as s:
        row = s.get(TierDecision, d.id)
        assert row is not None
        row.details = {**row.details, "next_tier": "Stored-Tier", "gap": ["stored gap item"]}
    html = client.get(f"/review/partners/{d.partner_id}").text
    with session_scope(get_engine(url)) as s:
        restored = s.get(TierDecision, d.id)
        assert restored is not None
        restored.details = d.details
    assert "Next tier: <b>Stored-Tier</b>" in html and "stored gap item" in html


def test_a_partner_never_evaluated_says_so(signed_in: tuple[TestClient, str]) -> None:
    from serving.partner_gap import stored_gap

    with session_scope(get_engine(signed_in[1])) as s:
        assert stored_gap(s, RULEBOOK, None).note == "No evaluation stored yet."


def test_a_partner_page_shows_its_earned_and_accruing_incentives(
    signed_in: tuple[TestClient, str],
) -> None:
    from serving.db.ledger import entries

    client, url = signed_in
    with session_scope(get_engine(url)) as s:
        ledger = entries(s)
    accruing = ledger.loc[ledger["status"] == "accruing"].iloc[0]
    html = client.get(f"/review/partners/{accruing['partner_id']}").text
    section = html.split('id="incentives"', 1)[1].split("</section>", 1)[0]
    mine = ledger.loc[ledger["partner_id"] == accruing["partner_id"]]
    assert section.count("<tr><td>") == len(mine)
    assert accruing["incentive_id"] in section and 'data-status="accruing"' in section
    assert f"${accruing['amount']:,.0f}" in section


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found[1]


def test_the_override_form_offers_the_tiers_of_the_partners_track(
    signed_in: tuple[TestClient, str],
) -> None:
    client, url = signed_in
    d = _latest(url)[0]
    track = RULEBOOK.track(d.details["track"])
    assert track is not None
    html = client.get(f"/review/partners/{d.partner_id}").text
    form = html.split('name="tier"', 1)[1].split("</select>", 1)[0]
    offered = re.findall(r'<option value="([^"]+)"', form)
    assert offered == [t.id for t in track.tiers]


@pytest.mark.parametrize(("typed", "status"), [("Diamond", 422), ("Ambassador", 422)])
def test_an_override_outside_the_track_is_refused_where_entered(
    signed_in: tuple[TestClient, str], typed: str, status: int
) -> None:
    client, url = signed_in
    resell = next(d for d in _latest(url) if d.details["track"] == "resell")
    page = client.get(f"/review/partners/{resell.partner_id}").text
    r = client.post(
        f"/review/partners/{resell.partner_id}/override",
        data={"tier": typed, "reason": "typo", "until": "2099-01-01", "csrf": _csrf(page)},
    )
    assert r.status_code == status
    assert "Platinum, Gold, Silver, Registered" in r.text


def test_an_override_in_another_case_is_stored_in_the_rulebooks_spelling(
    signed_in: tuple[TestClient, str],
) -> None:
    from serving.db import TierOverride

    client, url = signed_in
    resell = [d for d in _latest(url) if d.details["track"] == "resell"][-1]
    page = client.get(f"/review/partners/{resell.partner_id}").text
    r = client.post(
        f"/review/partners/{resell.partner_id}/override",
        data={"tier": "gold", "reason": "strategic", "until": "2099-01-01", "csrf": _csrf(page)},
    )
    assert r.status_code == 200, r.text
    with session_scope(get_engine(url)) as s:
        stored = s.get(TierOverride, resell.partner_id)
        assert stored is not None and stored.tier == "Gold"


def test_why_sentence_reads_like_a_sentence() -> None:
    from serving.digest import priority_text, why_sentence

    reasons = ["churn_risk >= 0.3 (actual 0.62)", "track == resell (actual resell)", "priority 1"]
    assert why_sentence(reasons) == (
        "Suggested because churn risk is 0.62 (at least 0.3); track is resell."
    )
    assert priority_text(1234567.891) == "1,234,568" and priority_text(0.01234) == "0.0123"
