"""The weekly job's shared steps: plan.parquet, the parquet sink, a review during compute."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from serving.db import JobRun, PlanAction, get_engine, session_scope
from serving.db.reviews import review_action
from serving.recommend import Recommendations
from serving.week_steps import PLAN_FILE_COLUMNS
from serving.weekly import run_week
from tests.serving._weekly import Recommender
from tierwise.errors import Conflict
from tierwise.settings import Settings
from tierwise.shell.cli import app

WEEK = "2026-W48"


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from simulation.program import simulate, write_simulation

    folder = tmp_path_factory.mktemp("program")
    sim = simulate(partners=60, years=1.0, seed=11, end=datetime(2026, 12, 14, tzinfo=UTC))
    return write_simulation(sim, folder)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    url = f"sqlite:///{tmp_path / 'tierwise.db'}"
    return Settings(data_dir=tmp_path, database_url=url, manager_capacity=3)


def _proposed(settings: Settings) -> pd.DataFrame:
    with session_scope(get_engine(settings.db_url)) as s:
        stmt = select(
            PlanAction.manager_id, PlanAction.partner_id, PlanAction.action_id, PlanAction.priority
        ).where(PlanAction.week == WEEK, PlanAction.overflow.is_(False))
        rows = [tuple(r) for r in s.execute(stmt)]
    return pd.DataFrame(rows, columns=["manager_id", "partner_id", "action_id", "priority"])


def test_plan_parquet_has_one_row_per_planned_action(
    settings: Settings, program: Path, tmp_path: Path
) -> None:
    run = run_week(
        settings, data_dir=program, week=WEEK, out_dir=tmp_path / "out", recommender=Recommender()
    )
    assert run.plan_file == tmp_path / "out" / "plan.parquet"
    plan = pd.read_parquet(run.plan_file)
    assert list(plan.columns) == PLAN_FILE_COLUMNS
    assert len(plan) == run.summary["actions_planned"] > 0
    assert (plan["week"] == WEEK).all()
    assert (
        plan.groupby("manager_id")["manager_rank"].apply(lambda r: r.is_monotonic_increasing).all()
    )
    stored = _proposed(settings)
    keys = ["manager_id", "partner_id", "action_id"]
    assert (
        plan[keys].sort_values(keys).values.tolist()
        == stored[keys].sort_values(keys).values.tolist()
    )
    assert all(len(r) > 0 for r in plan["reasons"])


def test_the_parquet_sink_leaves_the_database_alone(
    settings: Settings, program: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    run = run_week(
        settings,
        data_dir=program,
        week=WEEK,
        out_dir=out,
        recommender=Recommender(),
        sink="parquet",
    )
    decisions = pd.read_parquet(out / "decisions.parquet")
    awards = pd.read_parquet(out / "awards.parquet")
    assert len(decisions) == run.summary["partners_scored"]
    assert len(awards) == run.summary["incentive_awards"]
    assert decisions["details"].str.startswith("{").all()  # JSON text
    assert _proposed(settings).empty and run.digest == []
    with session_scope(get_engine(settings.db_url)) as s:
        assert s.scalars(select(JobRun.status)).all() == ["succeeded"]


def test_the_parquet_sink_needs_an_output_folder(settings: Settings, program: Path) -> None:
    with pytest.raises(Exception, match="--sink parquet needs an output folder"):
        run_week(settings, data_dir=program, week=WEEK, recommender=Recommender(), sink="parquet")


class _ReviewsWhileComputing(Recommender):
    """Recommends, then a manager reviews one of the week's actions before the job persists."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings

    def __call__(self, frame: pd.DataFrame, **kwargs: Any) -> Recommendations:
        recs = super().__call__(frame, **kwargs)
        with session_scope(get_engine(self.settings.db_url)) as s:
            stmt = select(PlanAction).where(
                PlanAction.week == WEEK, PlanAction.status == "proposed"
            )
            action = s.scalars(stmt.order_by(PlanAction.id)).first()
            assert action is not None
            who = type("Who", (), {"role": "admin", "manager_id": None, "name": "root"})()
            review_action(s, action_id=action.id, reviewer=who, decision="accept", now=_NOW)
        return recs


_NOW = datetime(2026, 11, 24, tzinfo=UTC)


def test_a_review_during_compute_refuses_the_run(settings: Settings, program: Path) -> None:
    run_week(settings, data_dir=program, week=WEEK, recommender=Recommender())
    before = _proposed(settings)
    with pytest.raises(Conflict, match="reviewed while the week was computed"):
        run_week(
            settings, data_dir=program, week=WEEK, recommender=_ReviewsWhileComputing(settings)
        )
    after = _proposed(settings)
    assert len(after) == len(before)  # the earlier plan stands, with the new review
    with session_scope(get_engine(settings.db_url)) as s:
        assert s.scalars(select(JobRun.status).order_by(JobRun.id)).all() == ["succeeded", "failed"]
    run_week(settings, data_dir=program, week=WEEK, recommender=Recommender())  # run again: fine


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--engine", "dask"], "--engine must be pandas or spark"),
        (["--table-prefix", "db.t_"], "need --engine spark"),
        (["--engine", "spark", "--conf", "executor.memory=4g"], "expected spark.<name>=<value>"),
    ],
)
def test_weekly_engine_options_are_checked(
    extra: list[str], message: str, program: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tierwise.settings import get_settings

    monkeypatch.setenv("TIERWISE_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["weekly", "--data", str(program), "--week", WEEK, *extra])
    get_settings.cache_clear()
    assert result.exit_code != 0
    assert message in result.output + str(result.exception)
