"""Store reads, the week's persistence and review decisions — on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from serving.db import AuditEntry, PlanAction, TierDecision, WeeklyPlan, queries, session_scope
from serving.db.reviews import review_action, set_tier_override
from serving.db.week import save_week
from tests.serving._db import BACKENDS, make_week, upgraded_engine
from tierwise.errors import Conflict, Forbidden, InvalidInput, NotFound


@dataclass(frozen=True)
class Who:
    role: str
    manager_id: str | None = None
    name: str = ""


ANN = Who("manager", "m1", "Ann")
BOB = Who("manager", "m2", "Bob")
ADMIN = Who("admin", None, "Root")
SCORER = Who("scorer", None, "prm")
WEEK = "2026-W48"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with upgraded_engine(request.param, tmp_path) as eng:
        with session_scope(eng) as session:
            save_week(session, make_week(WEEK))
        yield eng


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with session_scope(engine) as s:
        yield s


def _action(session: Session, partner: str, action: str = "action_0") -> PlanAction:
    stmt = select(PlanAction).where(
        PlanAction.partner_id == partner, PlanAction.action_id == action
    )
    return session.scalars(stmt).one()


def _plan_rows(engine: Engine) -> list[tuple[object, ...]]:
    with session_scope(engine) as s:
        stmt = select(
            PlanAction.partner_id,
            PlanAction.action_id,
            PlanAction.manager_rank,
            PlanAction.overflow,
            PlanAction.status,
            PlanAction.priority,
        ).order_by(PlanAction.partner_id, PlanAction.action_id)
        return [tuple(r) for r in s.execute(stmt)]


# --- reads the scoring service relies on -------------------------------------------------


def test_latest_snapshot_returns_the_newest_row(engine: Engine) -> None:
    with session_scope(engine) as s:
        save_week(s, make_week("2026-W49"))
    with session_scope(engine) as s:
        features, as_of = queries.latest_snapshot(s, "P001")  # type: ignore[misc]
    assert as_of == datetime(2026, 11, 30, tzinfo=UTC)
    assert features["revenue_won_365d"] == 2000.0


def test_latest_snapshot_stores_missing_values_as_none(session: Session) -> None:
    features, _ = queries.latest_snapshot(session, "P000")  # type: ignore[misc]
    assert features["satisfaction_latest"] is None
    assert "partner_id" not in features and "manager_id" not in features


def test_latest_snapshot_of_an_unknown_partner_is_none(session: Session) -> None:
    assert queries.latest_snapshot(session, "nobody") is None


def test_tier_states_has_one_row_per_evaluated_partner(session: Session) -> None:
    states = queries.tier_states(session, ["P000", "P001", "nobody"])
    assert list(states.columns) == list(queries.TIER_STATE_COLUMNS)
    assert states["partner_id"].tolist() == ["P000", "P001"]
    assert states["tier"].tolist() == ["Silver", "Silver"]


def test_tier_states_takes_the_latest_decision_before_a_date(engine: Engine) -> None:
    later = make_week("2026-W49")
    later.decisions["tier"] = "Gold"
    later.decisions["missed_evaluations"] = 0
    with session_scope(engine) as s:
        save_week(s, later)
    with session_scope(engine) as s:
        now_state = queries.tier_states(s, ["P002"])
        before = queries.tier_states(s, ["P002"], before=later.as_of)
    assert now_state["tier"].tolist() == ["Gold"]
    assert before["tier"].tolist() == ["Silver"]


def test_tier_states_carries_the_override(session: Session) -> None:
    until = date(2027, 1, 1)
    set_tier_override(
        session,
        partner_id="P000",
        tier="Gold",
        reason="strategic",
        until=until,
        reviewer=ANN,
        now=NOW,
    )
    states = queries.tier_states(session, ["P000"])
    assert states.loc[0, "override_tier"] == "Gold"
    assert states.loc[0, "override_until"] == pd.Timestamp("2027-01-01", tz="UTC")


def test_tier_states_of_nobody_is_an_empty_typed_frame(session: Session) -> None:
    states = queries.tier_states(session, ["nobody"])
    assert states.empty
    assert str(states["override_until"].dtype).startswith("datetime64")


def test_tier_states_reads_many_ids_in_chunks(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queries, "CHUNK", 2)
    states = queries.tier_states(session, ["P000", "P001", "P002", "P003", "P000"])
    assert states["partner_id"].tolist() == ["P000", "P001", "P002", "P003"]


def test_action_history_counts_only_done_and_dismissed(session: Session) -> None:
    review_action(
        session, action_id=_action(session, "P000").id, reviewer=ANN, decision="done", now=NOW
    )
    review_action(
        session,
        action_id=_action(session, "P002").id,
        reviewer=ANN,
        decision="dismiss",
        reason="not now",
        now=NOW,
    )
    review_action(
        session, action_id=_action(session, "P001").id, reviewer=BOB, decision="accept", now=NOW
    )
    history = queries.action_history(session)
    assert list(history.columns) == list(queries.HISTORY_COLUMNS)
    assert history[["partner_id", "action_id"]].values.tolist() == [
        ["P000", "action_0"],
        ["P002", "action_0"],
    ]
    assert (history["last_done_or_dismissed_at"] == pd.Timestamp(NOW)).all()


def test_action_history_places_late_reviews_inside_the_plan_week(session: Session) -> None:
    late = NOW + timedelta(days=60)
    review_action(
        session, action_id=_action(session, "P000").id, reviewer=ANN, decision="done", now=late
    )
    history = queries.action_history(session, ["P000"])
    start = pd.Timestamp("2026-11-23", tz="UTC")
    decided = pd.Timestamp(history["last_done_or_dismissed_at"].iloc[0])
    assert start <= decided < start + pd.Timedelta(days=7)
    assert queries.action_history(session, ["P000"], before=start.to_pydatetime()).empty


def test_partner_owner(session: Session) -> None:
    assert queries.partner_owner(session, "P001") == "m2"
    assert queries.partner_owner(session, "nobody") is None


# --- the week's persistence --------------------------------------------------------------


def test_saving_the_same_week_twice_leaves_the_same_plan(engine: Engine) -> None:
    first = _plan_rows(engine)
    with session_scope(engine) as s:
        save_week(s, make_week(WEEK))
    assert _plan_rows(engine) == first
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(WeeklyPlan)) == 1
        assert s.scalar(select(func.count()).select_from(TierDecision)) == 4


def test_a_rerun_keeps_reviewed_actions_as_they_are(engine: Engine) -> None:
    with session_scope(engine) as s:
        action_id = _action(s, "P000").id
        review_action(
            s,
            action_id=action_id,
            reviewer=ANN,
            decision="dismiss",
            reason="already called",
            now=NOW,
        )
    week = make_week(WEEK)
    pinned = (week.plan["partner_id"] == "P000") & (week.plan["action_id"] == "action_0")
    week.plan = week.plan.loc[~pinned]  # plan_week leaves reviewed actions out
    with session_scope(engine) as s:
        save_week(s, week)
    with session_scope(engine) as s:
        kept = s.get(PlanAction, action_id)
        assert kept is not None and kept.status == "dismissed"
        assert kept.dismiss_reason == "already called"
        count = s.scalar(select(func.count()).select_from(PlanAction))
    assert count == 8


def test_incentive_cost_is_the_sum_of_the_awards(session: Session) -> None:
    plan = queries.get_plan(session, WEEK)
    assert plan is not None and plan.incentive_cost == 750.0
    assert queries.incentive_awards(session, week=WEEK)["amount"].sum() == 750.0


def test_a_failure_inside_the_transaction_leaves_the_database_as_it_was(engine: Engine) -> None:
    before = _plan_rows(engine)
    changed = make_week(WEEK)
    changed.plan["priority"] = 1.0
    with pytest.raises(RuntimeError), session_scope(engine) as s:
        save_week(s, changed)
        raise RuntimeError("killed half-way")
    assert _plan_rows(engine) == before


def test_plan_actions_are_filtered_by_manager(session: Session) -> None:
    mine = queries.plan_actions(session, week=WEEK, manager_id="m1")
    assert set(mine["manager_id"]) == {"m1"}
    assert set(mine["partner_id"]) == {"P000", "P002"}
    assert mine["partner_name"].tolist()[0] == "Partner 0"


# --- review decisions ---------------------------------------------------------------------


def test_accept_then_done_is_audited_with_before_and_after(session: Session) -> None:
    action_id = _action(session, "P000").id
    review_action(session, action_id=action_id, reviewer=ANN, decision="accept", now=NOW)
    review_action(session, action_id=action_id, reviewer=ANN, decision="done", now=NOW)
    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(e.what, e.before["status"], e.after["status"]) for e in entries] == [
        ("accept", "proposed", "accepted"),
        ("done", "accepted", "done"),
    ]
    assert entries[0].actor == "Ann" and entries[0].target_id == str(action_id)


def test_snooze_keeps_the_until_date(session: Session) -> None:
    action_id = _action(session, "P000").id
    action = review_action(
        session,
        action_id=action_id,
        reviewer=ANN,
        decision="snooze",
        until=date(2026, 12, 14),
        now=NOW,
    )
    assert action.status == "snoozed"
    assert action.snooze_until == datetime(2026, 12, 14, tzinfo=UTC)
    snoozed = queries.snoozed_actions(session, at=datetime(2026, 12, 7, tzinfo=UTC))
    assert snoozed[["partner_id", "action_id"]].values.tolist() == [["P000", "action_0"]]
    assert queries.snoozed_actions(session, at=datetime(2026, 12, 14, tzinfo=UTC)).empty


def test_admin_may_review_any_managers_action(session: Session) -> None:
    action = review_action(
        session, action_id=_action(session, "P001").id, reviewer=ADMIN, decision="accept", now=NOW
    )
    assert action.status == "accepted" and action.reviewed_by == "Root"


@pytest.mark.parametrize("who", [BOB, SCORER], ids=["other-manager", "scorer"])
def test_others_may_not_review(session: Session, who: Who) -> None:
    action_id = _action(session, "P000").id
    with pytest.raises(Forbidden):
        review_action(session, action_id=action_id, reviewer=who, decision="accept", now=NOW)
    assert session.get(PlanAction, action_id).status == "proposed"  # type: ignore[union-attr]
    assert session.scalars(select(AuditEntry)).all() == []


def test_unknown_action_is_not_found(session: Session) -> None:
    with pytest.raises(NotFound):
        review_action(session, action_id=99999, reviewer=ADMIN, decision="accept", now=NOW)


@pytest.mark.parametrize(
    ("decision", "reason", "until", "message"),
    [
        ("approve", None, None, "Unknown decision"),
        ("dismiss", None, None, "needs a reason"),
        ("dismiss", "   ", None, "needs a reason"),
        ("snooze", None, None, "needs an until date"),
        ("snooze", None, date(2026, 11, 1), "not after the plan's week start"),
        ("dismiss", "x" * 501, None, "longer than"),
    ],
)
def test_invalid_review_input_is_refused(
    session: Session, decision: str, reason: str | None, until: date | None, message: str
) -> None:
    action_id = _action(session, "P000").id
    with pytest.raises(InvalidInput, match=message):
        review_action(
            session,
            action_id=action_id,
            reviewer=ANN,
            decision=decision,
            reason=reason,
            until=until,
            now=NOW,
        )


@pytest.mark.parametrize("first", ["done", "dismiss"])
def test_a_closed_action_cannot_change_again(session: Session, first: str) -> None:
    action_id = _action(session, "P000").id
    review_action(session, action_id=action_id, reviewer=ANN, decision=first, reason="no", now=NOW)
    with pytest.raises(Conflict, match="cannot become accepted"):
        review_action(session, action_id=action_id, reviewer=ANN, decision="accept", now=NOW)


@pytest.mark.parametrize(
    ("decision", "extra"),
    [
        ("accept", {}),
        ("done", {}),
        ("dismiss", {"reason": "called last week"}),
        ("snooze", {"until": date(2026, 12, 14)}),
    ],
)
def test_the_same_decision_twice_changes_nothing_and_audits_once(
    session: Session, decision: str, extra: dict[str, object]
) -> None:
    action_id = _action(session, "P000").id
    for _ in range(2):
        review_action(
            session, action_id=action_id, reviewer=ANN, decision=decision, now=NOW, **extra
        )
    audited = session.scalars(select(AuditEntry).where(AuditEntry.target_id == str(action_id)))
    assert len(audited.all()) == 1


def test_a_different_snooze_date_is_a_new_decision(session: Session) -> None:
    action_id = _action(session, "P000").id
    for until in (date(2026, 12, 14), date(2026, 12, 21)):
        review_action(
            session, action_id=action_id, reviewer=ANN, decision="snooze", until=until, now=NOW
        )
    audited = session.scalars(select(AuditEntry).where(AuditEntry.target_id == str(action_id)))
    assert len(audited.all()) == 2


def test_override_of_another_managers_partner_is_forbidden(session: Session) -> None:
    with pytest.raises(Forbidden):
        set_tier_override(
            session,
            partner_id="P001",
            tier="Gold",
            reason="x",
            until=date(2027, 1, 1),
            reviewer=ANN,
            now=NOW,
        )


def test_override_in_the_past_is_refused(session: Session) -> None:
    with pytest.raises(InvalidInput, match="future"):
        set_tier_override(
            session,
            partner_id="P000",
            tier="Gold",
            reason="x",
            until=date(2026, 1, 1),
            reviewer=ANN,
            now=NOW,
        )


# --- JSON encoding of the bulk writes ------------------------------------------------------


def test_json_records_is_one_object_per_row_even_with_boundary_like_text() -> None:
    import json

    from serving.db.week import json_records

    frame = pd.DataFrame(
        {
            "a": [1.5, float("nan"), float("inf")],
            "b": ['x},{"a":1', "é/\n", None],
            "c": [True, False, True],
        }
    )
    docs = json_records(frame)
    assert [json.loads(d) for d in docs] == [
        {"a": 1.5, "b": 'x},{"a":1', "c": True},
        {"a": None, "b": "é/\n", "c": False},
        {"a": None, "b": None, "c": True},
    ]
    assert json_records(frame.iloc[:0]) == []
    assert json_records(pd.DataFrame(index=[0, 1])) == ["{}", "{}"]


def test_json_lines_encodes_nested_documents_like_jsonable() -> None:
    import json

    import numpy as np

    from serving.db.types import jsonable
    from serving.db.week import json_lines

    values: list[object] = [
        ["a/b", 'say "hi"'],
        [],
        [{"x": 1}, {"v": np.float64(2.5)}],  # `},{"v":` inside: the slower split is used
        {"k": [1, {"v": float("nan")}], "n": np.int64(3)},
        {"when": pd.Timestamp("2026-11-23", tz="UTC")},
    ]
    docs = json_lines(values)
    assert len(docs) == len(values)
    decoded = [json.loads(d) for d in docs]
    assert decoded[:4] == [jsonable(v) for v in values[:4]]
    assert decoded[4]["when"].startswith("2026-11-23T00:00:00")
    assert json_lines([]) == []
