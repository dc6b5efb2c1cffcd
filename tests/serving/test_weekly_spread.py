"""The weekly plan spreads a manager's slots and speaks in sentences (issue 18)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from markupsafe import escape

from serving.db import get_engine, queries, session_scope
from serving.schemas.plans import PlanActionPublic
from serving.weekly import run_week
from serving.weekly_plan import allocate_capacity
from tests.serving._weekly import Recommender
from tierwise.settings import Settings

WEEK = "2026-W48"
OWNERS = pd.DataFrame({"partner_id": ["p1", "p2", "p3"], "manager_id": ["a", "a", "a"]})


def actions(*rows: tuple[str, str, float]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["partner_id", "action_id", "priority"])


def test_a_partner_takes_one_slot_and_its_next_action_waits_in_overflow() -> None:
    plan = allocate_capacity(
        actions(("p1", "call", 9.0), ("p1", "nudge", 8.0), ("p2", "call", 7.0)),
        owners=OWNERS,
        capacity=2,
    )
    kept = plan.loc[~plan["overflow"], "partner_id"].tolist()
    assert kept == ["p1", "p2"]
    assert plan.loc[plan["overflow"], "manager_rank"].tolist() == [2]  # kept in order


def test_slots_per_partner_and_action_caps_come_from_the_caller() -> None:
    rows = actions(("p1", "cert", 9.0), ("p1", "call", 8.0), ("p2", "cert", 7.0), ("p3", "x", 1))
    plan = allocate_capacity(rows, owners=OWNERS, capacity=3, per_partner=2, caps={"cert": 1})
    kept = plan.loc[~plan["overflow"], ["partner_id", "action_id"]].values.tolist()
    assert kept == [["p1", "cert"], ["p1", "call"], ["p3", "x"]]


def test_a_reviewed_action_holds_its_partners_slot_on_a_rerun() -> None:
    reviewed = pd.DataFrame(
        {
            "partner_id": ["p1"],
            "action_id": ["call"],
            "manager_id": ["a"],
            "priority": [9.0],
            "overflow": [False],
        }
    )
    plan = allocate_capacity(
        actions(("p1", "nudge", 8.0), ("p2", "call", 7.0)),
        owners=OWNERS,
        capacity=3,
        reviewed=reviewed,
    )
    assert plan.set_index("partner_id")["overflow"].to_dict() == {"p1": True, "p2": False}


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from simulation.program import simulate, write_simulation

    folder = tmp_path_factory.mktemp("program")
    sim = simulate(partners=120, years=1.0, seed=5, end=datetime(2026, 12, 14, tzinfo=UTC))
    write_simulation(sim, folder)
    return folder


def test_a_real_week_gives_no_partner_two_slots_and_every_action_a_sentence(
    program: Path, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, manager_capacity=10)
    run = run_week(
        settings, data_dir=program, week=WEEK, out_dir=tmp_path / "out", recommender=Recommender()
    )
    with session_scope(get_engine(settings.db_url)) as s:
        plan = queries.plan_actions(s, week=WEEK, include_overflow=True)
    slots = plan.loc[~plan["overflow"].astype(bool)]
    assert len(slots) > 10 and not slots.duplicated(["manager_id", "partner_id"]).any()
    assert plan["overflow"].astype(bool).any()
    assert plan["title"].notna().all() and plan["sentence"].notna().all()
    assert slots["sentence"].str.len().min() > 20
    public = PlanActionPublic.model_validate(plan.iloc[0].to_dict())
    assert public.title and public.sentence
    row = slots.iloc[0]
    html = next(p for p in run.digest if p.name == f"{row['manager_id']}.html").read_text()
    assert str(escape(row["title"])) in html and str(escape(row["sentence"])) in html
    csv = next(p for p in run.digest if p.name == f"{row['manager_id']}.csv").read_text()
    assert "title,sentence" in csv.splitlines()[0]
