"""Events of a stored week: plan.ready, partner.tier_changed, incentive.awarded — each once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from serving.db import Event, WebhookDelivery, WebhookSubscription, session_scope
from serving.db.events import feed, record_week
from serving.db.week import WeekData
from tests.serving._db import BACKENDS, make_week, upgraded_engine


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with upgraded_engine(request.param, tmp_path) as e:
        yield e


def _record(session: Session, week: WeekData) -> int:
    return record_week(
        session,
        week=week.week,
        as_of=week.as_of,
        decisions=week.decisions,
        awards=week.awards,
        summary=week.summary,
        versions={"rulebook_version": "test-1", "rulebook_hash": "abc"},
    )


def _promoted(week: str) -> WeekData:
    data = make_week(week)
    data.decisions["previous_tier"] = "Silver"
    data.decisions.loc[0, ["tier", "qualified_tier", "change"]] = ["Gold", "Gold", "promoted"]
    data.decisions["change"] = data.decisions["change"].where(
        data.decisions.index == 0, "unchanged"
    )
    return data


def test_a_week_tells_its_plan_tier_changes_and_awards(engine: Engine) -> None:
    with session_scope(engine) as s:
        assert _record(s, make_week("2026-W48")) == 3  # plan + 2 awards; every tier is new
        assert _record(s, _promoted("2026-W49")) == 4  # plan + 1 promotion + 2 awards
        events = feed(s)
    kinds = [e.type for e in events]
    assert kinds.count("plan.ready") == 2 and kinds.count("incentive.awarded") == 4
    [change] = [e for e in events if e.type == "partner.tier_changed"]
    assert change.partner_id == "P000"
    assert (change.data["previous_tier"], change.data["tier"]) == ("Silver", "Gold")
    assert change.data["change"] == "promoted" and change.data["as_of"].endswith("Z")
    assert [e.id for e in events] == sorted(e.id for e in events)


def test_rerunning_a_week_records_nothing_twice(engine: Engine) -> None:
    with session_scope(engine) as s:
        _record(s, _promoted("2026-W49"))
        assert _record(s, _promoted("2026-W49")) == 0
        assert len(feed(s)) == 4


def test_subscribers_are_owed_only_the_types_they_chose(engine: Engine) -> None:
    with session_scope(engine) as s:
        s.add(WebhookSubscription(url="http://a", secret="s" * 16, events=["partner.tier_changed"]))
        s.add(WebhookSubscription(url="http://b", secret="s" * 16, events=[]))
        s.flush()
        _record(s, _promoted("2026-W49"))
        owed = s.execute(
            select(WebhookSubscription.url, Event.type)
            .join(WebhookDelivery, WebhookDelivery.subscription_id == WebhookSubscription.id)
            .join(Event, Event.id == WebhookDelivery.event_id)
        ).all()
    assert [t for url, t in owed if url == "http://a"] == ["partner.tier_changed"]
    assert len([t for url, t in owed if url == "http://b"]) == 4


def test_the_feed_filters_by_type_and_pages(engine: Engine) -> None:
    with session_scope(engine) as s:
        _record(s, _promoted("2026-W49"))
        first = feed(s, limit=2)
        rest = feed(s, after=first[-1].id)
        awards = feed(s, types=["incentive.awarded"])
    assert len(first) == 2 and len(rest) == 2
    assert {e.type for e in awards} == {"incentive.awarded"}
