"""A tier change planned by the weekly job shows in the score answer, /tiers and as an event.

Two real weekly runs (real rulebook, the session's trained models, SQLite) eighteen weeks
apart; then the API is asked about a partner the second run promoted or demoted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select

from serving.db import TierDecision, get_engine, session_scope
from serving.recommend import recommend_frame
from serving.service_state import Loaded
from serving.weekly import run_week
from tests.serving.conftest import MakeClient, headers

pytestmark = pytest.mark.slow
WEEKS = ("2026-W30", "2026-W48")


@pytest.fixture(scope="module")
def planned(
    served_dir: Path, loaded: Loaded, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, dict[str, Any]]:
    """The database URL after both runs, and one decision of the second that changed tier."""
    from tierwise.settings import Settings

    url = f"sqlite:///{tmp_path_factory.mktemp('weekly') / 'service.db'}"
    settings = Settings(data_dir=served_dir, database_url=url, reload_interval_s=0)

    def recommend(frame: pd.DataFrame, **kw: Any) -> Any:
        return recommend_frame(frame, rulebook=loaded.rulebook, models=loaded.models, **kw)

    for week in WEEKS:
        run_week(settings, data_dir=served_dir, week=week, recommender=recommend)
    with session_scope(get_engine(url)) as s:
        moved = s.scalars(
            select(TierDecision)
            .where(TierDecision.week == WEEKS[1], TierDecision.change.in_(("promoted", "demoted")))
            .order_by(TierDecision.partner_id)
        ).first()
        assert moved is not None, "the second run changed no tier"
        found = {c: getattr(moved, c) for c in ("partner_id", "previous_tier", "tier", "change")}
    return url, found


def test_the_score_answer_reports_the_change(
    planned: tuple[str, dict[str, Any]], make_client: MakeClient
) -> None:
    url, moved = planned
    c = make_client(database_url=url)
    r = c.post(f"/v1/partners/{moved['partner_id']}/score", headers=headers("scorer"))
    assert r.status_code == 200, r.text
    tier = r.json()["tier"]
    assert (tier["tier"], tier["change"]) == (moved["tier"], moved["change"])


def test_the_tier_history_shows_the_change(
    planned: tuple[str, dict[str, Any]], make_client: MakeClient
) -> None:
    url, moved = planned
    c = make_client(database_url=url)
    r = c.get(f"/v1/partners/{moved['partner_id']}/tiers", headers=headers("scorer"))
    assert r.status_code == 200, r.text
    latest, first = r.json()["evaluations"]
    assert (latest["week"], latest["change"], latest["tier"]) == (
        WEEKS[1],
        moved["change"],
        moved["tier"],
    )
    assert latest["previous_tier"] == first["tier"] == moved["previous_tier"]
    assert first["change"] == "new" and latest["rulebook_hash"]
    assert moved["change"] in latest["reason"]


def test_the_change_is_a_partner_tier_changed_event(
    planned: tuple[str, dict[str, Any]], make_client: MakeClient
) -> None:
    url, moved = planned
    c = make_client(database_url=url)
    r = c.get(
        "/v1/events",
        params={"type": "partner.tier_changed", "limit": 1000},
        headers=headers("scorer"),
    )
    assert r.status_code == 200, r.text
    mine = [e for e in r.json()["events"] if e["partner_id"] == moved["partner_id"]]
    assert [(e["data"]["previous_tier"], e["data"]["tier"]) for e in mine] == [
        (moved["previous_tier"], moved["tier"])
    ]
    ready = c.get("/v1/events", params={"type": "plan.ready"}, headers=headers("scorer"))
    assert [e["data"]["week"] for e in ready.json()["events"]] == list(WEEKS)
