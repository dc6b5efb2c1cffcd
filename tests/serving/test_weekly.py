"""The weekly plan: the pure core (weeks, capacity, tier classification) and the job."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from serving import week_steps, weekly
from serving.db import IncentiveAward, JobRun, PlanAction, TierDecision, get_engine, session_scope
from serving.db.models import Accrual
from serving.db.reviews import review_action
from serving.weekly import run_week
from serving.weekly_plan import allocate_capacity, tier_decisions
from serving.weeks import next_week, week_of, week_start
from tests.serving._db import BACKENDS, database_url
from tests.serving._weekly import RULEBOOK, Recommender
from tierwise.errors import InvalidInput
from tierwise.settings import Settings

WEEK = "2026-W48"

# --- weeks ---------------------------------------------------------------------------------


def test_week_start_is_monday_midnight_utc() -> None:
    assert week_start("2026-W48") == datetime(2026, 11, 23, tzinfo=UTC)
    assert week_start("2026-W01") == datetime(2025, 12, 29, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["2026-48", "2026-W54", "2025-W53", "W48", "2026-W00", ""])
def test_a_bad_week_names_the_value(bad: str) -> None:
    with pytest.raises(InvalidInput) as info:
        week_start(bad)
    assert info.value.problems[0].value == bad


def test_week_of_and_next_week_round_trip() -> None:
    assert week_of(week_start(WEEK) + timedelta(days=6, hours=23)) == WEEK
    assert next_week("2026-W52") == "2026-W53"
    assert next_week("2026-W53") == "2027-W01"


# --- capacity ------------------------------------------------------------------------------


def _actions(*rows: tuple[str, str, float]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["partner_id", "action_id", "priority"])


OWNERS = pd.DataFrame({"partner_id": ["p1", "p2", "p3", "p4"], "manager_id": ["a", "a", "a", "b"]})


def _keys(frame: pd.DataFrame, overflow: bool) -> list[tuple[str, str]]:
    rows = frame.loc[frame["overflow"] == overflow, ["partner_id", "action_id"]]
    return [tuple(r) for r in rows.to_numpy()]


def test_each_manager_keeps_the_highest_priorities_up_to_capacity() -> None:
    actions = _actions(("p1", "x", 1.0), ("p2", "x", 9.0), ("p3", "x", 5.0), ("p4", "x", 0.5))
    plan = allocate_capacity(actions, owners=OWNERS, capacity=2)
    assert _keys(plan, overflow=False) == [("p2", "x"), ("p3", "x"), ("p4", "x")]
    assert _keys(plan, overflow=True) == [("p1", "x")]
    assert plan.loc[plan["manager_id"] == "a", "manager_rank"].tolist() == [1, 2, 3]


def test_ties_are_broken_the_same_way_every_time() -> None:
    actions = _actions(("p2", "x", 1.0), ("p1", "y", 1.0), ("p1", "x", 1.0))
    first = allocate_capacity(actions, owners=OWNERS, capacity=1)
    again = allocate_capacity(actions.iloc[::-1], owners=OWNERS, capacity=1)
    assert _keys(first, overflow=False) == [("p1", "x")]
    pd.testing.assert_frame_equal(first, again)


def test_reviewed_actions_are_left_out_and_use_up_capacity() -> None:
    actions = _actions(("p1", "x", 9.0), ("p2", "x", 5.0), ("p3", "x", 1.0))
    reviewed = pd.DataFrame(
        {
            "partner_id": ["p1"],
            "action_id": ["x"],
            "manager_id": ["a"],
            "priority": [9.0],
            "overflow": [False],
        }
    )
    plan = allocate_capacity(actions, owners=OWNERS, capacity=2, reviewed=reviewed)
    assert ("p1", "x") not in _keys(plan, False) + _keys(plan, True)
    assert _keys(plan, overflow=False) == [("p2", "x")]
    assert plan["manager_rank"].tolist() == [2, 3]


def test_same_input_and_pins_give_the_plan_of_the_first_run() -> None:
    actions = _actions(("p1", "x", 9.0), ("p2", "x", 5.0), ("p3", "x", 1.0))
    first = allocate_capacity(actions, owners=OWNERS, capacity=2)
    pins = first.iloc[[1]][["partner_id", "action_id", "manager_id", "priority", "overflow"]]
    second = allocate_capacity(actions, owners=OWNERS, capacity=2, reviewed=pins)
    pd.testing.assert_frame_equal(first.drop(index=1).reset_index(drop=True), second[first.columns])


def test_snoozed_actions_are_not_planned() -> None:
    actions = _actions(("p1", "x", 9.0), ("p1", "y", 5.0))
    snoozed = pd.DataFrame({"partner_id": ["p1"], "action_id": ["x"]})
    plan = allocate_capacity(actions, owners=OWNERS, capacity=5, snoozed=snoozed)
    assert plan["action_id"].tolist() == ["y"]


def test_an_action_for_a_partner_without_manager_is_an_error() -> None:
    with pytest.raises(InvalidInput, match="without a channel manager") as info:
        allocate_capacity(_actions(("ghost", "x", 1.0)), owners=OWNERS, capacity=1)
    assert info.value.problems[0].value == "ghost"


def test_capacity_must_be_positive() -> None:
    with pytest.raises(InvalidInput, match="capacity"):
        allocate_capacity(_actions(("p1", "x", 1.0)), owners=OWNERS, capacity=0)


# --- tier decisions ------------------------------------------------------------------------


def test_tier_changes_are_classified() -> None:
    decisions = pd.DataFrame(
        {
            "partner_id": ["up", "down", "held", "pinned", "fresh"],
            "evaluated_tier": ["Gold", "Registered", "Registered", "Silver", "Silver"],
            "tier": ["Gold", "Registered", "Silver", "Platinum", "Silver"],
            "tier_change": ["promoted", "demoted", "unchanged", "unchanged", "new"],
            "tier_basis": ["rules", "rules", "grace", "override", "rules"],
            "missed_evaluations": [0, 0, 1, 0, 0],
            "override_tier": [None, None, None, "Platinum", None],
            "override_reason": [None, None, None, "strategic", None],
            "override_until": pd.to_datetime(
                pd.Series([None, None, None, "2027-01-01", None]), utc=True
            ),
            "overall": [80.0, 10.0, 30.0, 50.0, 40.0],
            "churn_risk": [0.1, 0.2, 0.3, 0.4, 0.5],
            "track": ["resell"] * 5,
        }
    )
    previous = pd.DataFrame(
        {
            "partner_id": ["up", "down", "held", "pinned"],
            "tier": ["Silver", "Silver", "Silver", "Platinum"],
        }
    )
    out = tier_decisions(decisions, previous)
    assert out["change"].tolist() == ["promoted", "demoted", "grace", "override", "new"]
    assert out["previous_tier"].tolist()[:4] == ["Silver", "Silver", "Silver", "Platinum"]
    assert out["qualified_tier"].tolist()[2] == "Registered"
    assert out["details"].iloc[0] == {"tier_basis": "rules", "track": "resell"}


# --- the job -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from simulation.program import simulate, write_simulation

    folder = tmp_path_factory.mktemp("program")
    sim = simulate(partners=60, years=1.0, seed=11, end=datetime(2026, 12, 14, tzinfo=UTC))
    sim.tables.partners.loc[0, "name"] = "<script>alert('x')</script> & Co"
    write_simulation(sim, folder)
    return folder


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    with database_url(request.param, tmp_path) as url:
        yield Settings(data_dir=tmp_path, database_url=url, manager_capacity=3)


def _run(
    settings: Settings,
    program: Path,
    rec: Recommender,
    week: str = WEEK,
    out: Path | None = None,
) -> weekly.WeekRun:
    return run_week(settings, data_dir=program, week=week, out_dir=out, recommender=rec)


def _plan(engine: Engine, week: str = WEEK) -> list[tuple[Any, ...]]:
    with session_scope(engine) as s:
        stmt = (
            select(
                PlanAction.partner_id,
                PlanAction.action_id,
                PlanAction.manager_id,
                PlanAction.manager_rank,
                PlanAction.overflow,
                PlanAction.status,
                PlanAction.priority,
            )
            .where(PlanAction.week == week)
            .order_by(PlanAction.partner_id, PlanAction.action_id)
        )
        return [tuple(r) for r in s.execute(stmt)]


def test_run_week_caps_every_manager_and_reports_it(settings: Settings, program: Path) -> None:
    run = _run(settings, program, Recommender())
    plan = pd.DataFrame(
        _plan(get_engine(settings.db_url)),
        columns=["p", "a", "m", "rank", "overflow", "status", "prio"],
    )
    planned = plan.loc[~plan["overflow"]]
    assert planned.groupby("m").size().max() == 3
    assert run.summary["actions_planned"] == len(planned)
    assert run.summary["actions_overflow"] == int(plan["overflow"].sum())
    assert sum(run.summary["actions_per_type"].values()) == len(planned)
    assert (plan["status"] == "proposed").all()
    assert run.summary["partners_scored"] > 0
    with session_scope(get_engine(settings.db_url)) as s:
        stored = s.scalars(select(IncentiveAward.amount)).all()
        accrued = s.scalars(select(Accrual.amount).where(Accrual.week == WEEK)).all()
    assert run.summary["incentive_awards"] == len(stored) > 0
    assert run.summary["incentive_cost"] == pytest.approx(sum(accrued))  # the ledger's


def test_the_plan_is_computed_as_of_the_week_start(settings: Settings, program: Path) -> None:
    rec = Recommender()
    _run(settings, program, rec)
    assert rec.calls[0]["as_of"] == datetime(2026, 11, 23, tzinfo=UTC)


def test_running_a_week_twice_gives_the_same_plan(settings: Settings, program: Path) -> None:
    _run(settings, program, Recommender())
    first = _plan(get_engine(settings.db_url))
    _run(settings, program, Recommender())
    assert _plan(get_engine(settings.db_url)) == first


def test_a_rerun_neither_overwrites_nor_duplicates_reviewed_actions(
    settings: Settings, program: Path
) -> None:
    _run(settings, program, Recommender())
    engine = get_engine(settings.db_url)
    reviewer = _Who("admin", None, "root")
    with session_scope(engine) as s:
        first = s.scalars(select(PlanAction).where(PlanAction.overflow.is_(False))).first()
        assert first is not None
        review_action(
            s,
            action_id=first.id,
            reviewer=reviewer,
            decision="dismiss",
            reason="met them yesterday",
            now=datetime.now(UTC),
        )
    before = _plan(engine)
    _run(settings, program, Recommender())
    assert _plan(engine) == before
    with session_scope(engine) as s:
        kept = s.get(PlanAction, first.id)
        assert kept is not None and kept.dismiss_reason == "met them yesterday"


def test_a_run_that_fails_half_way_leaves_the_database_as_it_was(
    settings: Settings, program: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(settings, program, Recommender())
    engine = get_engine(settings.db_url)
    before = _plan(engine)
    real_save = week_steps.save_week

    def save_then_die(session: Any, data: Any) -> Any:
        real_save(session, data)
        raise RuntimeError("killed after writing")

    monkeypatch.setattr(week_steps, "save_week", save_then_die)
    with pytest.raises(RuntimeError, match="killed"):
        _run(settings, program, Recommender(), week="2026-W49")
    assert _plan(engine, "2026-W49") == []
    assert _plan(engine) == before
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).where(TierDecision.week == "2026-W49")) == 0
        runs = s.execute(select(JobRun.week, JobRun.status).order_by(JobRun.id)).all()
    assert [tuple(r) for r in runs] == [(WEEK, "succeeded"), ("2026-W49", "failed")]


def test_reviews_and_tiers_feed_the_next_week(settings: Settings, program: Path) -> None:
    _run(settings, program, Recommender())
    engine = get_engine(settings.db_url)
    with session_scope(engine) as s:
        action = s.scalars(select(PlanAction).order_by(PlanAction.id)).first()
        assert action is not None
        review_action(
            s,
            action_id=action.id,
            reviewer=_Who("admin", None, "root"),
            decision="done",
            now=datetime.now(UTC),
        )
    rec = Recommender()
    _run(settings, program, rec, week="2026-W49")
    history, previous = rec.calls[0]["history"], rec.calls[0]["previous"]
    assert [tuple(r) for r in history[["partner_id", "action_id"]].to_numpy()] == [
        (action.partner_id, action.action_id)
    ]
    assert set(previous["tier"]) <= set(RULEBOOK.tier_names) and len(previous) > 0
    assert (action.partner_id, action.action_id) not in {
        (p, a) for p, a, *_ in _plan(engine, "2026-W49")
    }
    with session_scope(engine) as s:
        changes = s.scalars(select(TierDecision.change).where(TierDecision.week == "2026-W49"))
        assert "new" not in set(changes)


def test_exited_partners_get_no_plan(settings: Settings, program: Path) -> None:
    from features.io import load_tables

    partners = load_tables(program).partners
    exited = set(partners.loc[partners["exited_at"] < week_start(WEEK), "partner_id"])
    _run(settings, program, Recommender())
    planned = {p for p, *_ in _plan(get_engine(settings.db_url))}
    assert planned and not planned & exited


def test_the_digest_has_a_csv_and_an_html_page_per_manager(
    settings: Settings, program: Path, tmp_path: Path
) -> None:
    run = _run(settings, program, Recommender(hostile=True), out=tmp_path / "digest")
    plan = pd.DataFrame(
        _plan(get_engine(settings.db_url)),
        columns=["p", "a", "m", "rank", "overflow", "status", "prio"],
    )
    managers = sorted(plan["m"].unique())
    folder = tmp_path / "digest" / WEEK
    assert sorted(p.name for p in run.digest) == sorted(
        [f"{m}.csv" for m in managers] + [f"{m}.html" for m in managers]
    )
    csv = pd.read_csv(folder / f"{managers[0]}.csv")
    assert len(csv) == int((~plan.loc[plan["m"] == managers[0], "overflow"]).sum())
    html = "".join(p.read_text() for p in folder.glob("*.html"))
    assert "<script>alert" not in html and "<b>" not in html
    assert "&lt;b&gt;retention_call&lt;/b&gt;" in html


def test_the_digest_matches_what_the_review_page_shows(
    settings: Settings, program: Path, tmp_path: Path
) -> None:
    from markupsafe import escape

    from serving.db import queries
    from serving.digest import plan_csv

    run = _run(settings, program, Recommender(), out=tmp_path / "digest")
    with session_scope(get_engine(settings.db_url)) as s:
        awards = queries.incentive_awards(s, week=WEEK)
        for path in (p for p in run.digest if p.suffix == ".csv"):
            mine = queries.plan_actions(s, week=WEEK, manager_id=path.stem, include_overflow=False)
            assert path.read_text(encoding="utf-8") == plan_csv(mine)
            html = path.with_suffix(".html").read_text(encoding="utf-8")
            assert f"{len(mine)} action(s) this week" in html
            for name in awards.loc[awards["manager_id"] == path.stem, "partner_name"]:
                assert str(escape(name)) in html


def test_a_failing_recommender_records_a_failed_run(settings: Settings, program: Path) -> None:
    with pytest.raises(RuntimeError, match="model exploded"):
        _run(settings, program, Recommender(fail=True))
    with session_scope(get_engine(settings.db_url)) as s:
        run = s.scalars(select(JobRun)).one()
    assert run.status == "failed" and "model exploded" in (run.error or "")


@dataclass(frozen=True)
class _Who:
    role: str
    manager_id: str | None
    name: str


def test_the_real_recommend_frame_plugs_into_the_job(tmp_path: Path, program: Path) -> None:
    rulebook, recommend = RULEBOOK, Recommender()
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'db.sqlite'}")
    first = run_week(settings, data_dir=program, week=WEEK, recommender=recommend)
    second = run_week(settings, data_dir=program, week="2026-W49", recommender=recommend)
    assert first.summary["actions_planned"] > 0
    assert second.summary["partners_scored"] >= first.summary["partners_scored"]
    engine = get_engine(settings.db_url)
    with session_scope(engine) as s:
        tiers = set(s.scalars(select(TierDecision.tier)))
        reasons = s.scalars(select(PlanAction.reasons).limit(1)).one()
        seen = set(s.scalars(select(TierDecision.partner_id).where(TierDecision.week == WEEK)))
        later = s.execute(
            select(TierDecision.partner_id, TierDecision.change).where(
                TierDecision.week == "2026-W49"
            )
        ).all()
    assert tiers <= set(rulebook.tier_names)
    assert any("priority" in r for r in reasons)
    assert seen and all(change != "new" for pid, change in later if pid in seen)
