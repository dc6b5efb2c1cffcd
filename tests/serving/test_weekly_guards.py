"""The weekly job's guards: a bad stored override, a program that shrank, a killed run."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from serving.db import JobRun, Partner, TierDecision, TierOverride, get_engine, session_scope
from serving.weekly import run_week
from tests.serving._weekly import Recommender
from tierwise.errors import InvalidInput
from tierwise.settings import Settings

WEEKS = ("2026-W48", "2026-W49")


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from simulation.program import simulate, write_simulation

    folder = tmp_path_factory.mktemp("guarded")
    sim = simulate(partners=60, years=1.0, seed=5, end=datetime(2026, 12, 14, tzinfo=UTC))
    write_simulation(sim, folder)
    return folder


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'db.sqlite'}")


def _runs(settings: Settings) -> list[tuple[str | None, str]]:
    with session_scope(get_engine(settings.db_url)) as s:
        rows = s.execute(select(JobRun.week, JobRun.status).order_by(JobRun.id)).all()
    return [(r[0], r[1]) for r in rows]


def test_a_bad_stored_override_is_reported_and_the_partner_planned_without_it(
    settings: Settings, program: Path
) -> None:
    run_week(settings, data_dir=program, week=WEEKS[0], recommender=Recommender())
    engine = get_engine(settings.db_url)
    with session_scope(engine) as s:
        pid = s.scalars(select(Partner.partner_id).order_by(Partner.partner_id)).first()
        s.add(
            TierOverride(
                partner_id=pid,
                tier="Diamond",
                reason="typo",
                until=datetime(2099, 1, 1, tzinfo=UTC),
                set_by="ann",
            )
        )
    run = run_week(settings, data_dir=program, week=WEEKS[1], recommender=Recommender())
    assert [i["partner_id"] for i in run.summary["overrides_ignored"]] == [pid]
    assert run.summary["overrides_ignored"][0]["override_tier"] == "Diamond"
    with session_scope(engine) as s:
        decision = s.scalars(
            select(TierDecision).where(
                TierDecision.partner_id == pid, TierDecision.week == WEEKS[1]
            )
        ).one()
        assert decision.tier != "Diamond" and decision.change != "override"
    assert _runs(settings) == [(WEEKS[0], "succeeded"), (WEEKS[1], "succeeded")]


def test_a_program_that_shrank_sharply_is_refused_unless_allowed(
    settings: Settings, program: Path, tmp_path: Path
) -> None:
    run_week(settings, data_dir=program, week=WEEKS[0], recommender=Recommender())
    shrunk = tmp_path / "shrunk"
    shutil.copytree(program, shrunk)
    deals = pd.read_parquet(shrunk / "deals.parquet")
    deals.head(len(deals) // 10).to_parquet(shrunk / "deals.parquet")  # 90% gone
    with pytest.raises(InvalidInput, match="--allow-shrink") as info:
        run_week(settings, data_dir=shrunk, week=WEEKS[1], recommender=Recommender())
    assert [p.table for p in info.value.problems] == ["deals"]
    assert _runs(settings)[-1] == (WEEKS[1], "failed")
    run_week(settings, data_dir=shrunk, week=WEEKS[1], recommender=Recommender(), allow_shrink=True)
    assert _runs(settings)[-1] == (WEEKS[1], "succeeded")


def test_a_run_is_recorded_as_running_before_it_works(settings: Settings, program: Path) -> None:
    seen: list[list[tuple[str | None, str]]] = []

    class Watching(Recommender):
        def __call__(self, frame: pd.DataFrame, **kw: object):  # type: ignore[no-untyped-def,override]
            seen.append(_runs(settings))  # what a kill -9 here would leave behind
            return super().__call__(frame, **kw)  # type: ignore[arg-type]

    run_week(settings, data_dir=program, week=WEEKS[0], recommender=Watching())
    assert seen == [[(WEEKS[0], "running")]]
    assert _runs(settings) == [(WEEKS[0], "succeeded")]
