"""The weekly job's reviews feed the next fit of P(the action works), and the answers say
which propensity they used (issue 18). Real SQLite service database, real MLflow store."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from features.io import load_tables
from features.snapshot import build_features
from serving.db import PlanAction, get_engine, session_scope
from serving.db.queries import plan_actions
from serving.db.reviews import review_action
from serving.propensity_history import review_history
from serving.recommend import Recommendations, recommend_frame, recommend_one
from serving.weekly import run_week
from serving.weeks import week_start
from tests.serving._weekly import RULEBOOK, STUB_MODELS, Recommender, _StubScorer
from tierwise.settings import Settings
from training.propensity import ALL, responded
from training.propensity_registry import load_propensities
from training.propensity_train import train_propensity

FIRST, LATER = "2026-W44", "2026-W49"  # five weeks apart: the four-week window has closed


class Stub(_StubScorer):
    """The weekly tests' stub model, for one partner too."""

    def encode(self, rows: list[dict[str, object]]) -> np.ndarray:
        return self.encode_frame(pd.DataFrame(rows))


MODELS = dataclasses.replace(STUB_MODELS, churn=Stub(), deal=Stub())  # type: ignore[arg-type]


@dataclasses.dataclass(frozen=True)
class Admin:
    role: str = "admin"
    manager_id: str | None = None
    name: str = "root"


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from simulation.program import simulate, write_simulation

    folder = tmp_path_factory.mktemp("program")
    sim = simulate(partners=80, years=1.0, seed=5, end=datetime(2026, 12, 14, tzinfo=UTC))
    write_simulation(sim, folder)
    return folder


@pytest.fixture(autouse=True)
def own_tracking_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    """Training points MLflow (and MLFLOW_TRACKING_URI) at the test's store: undone after."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", "")  # set_registry_uri writes it too
    monkeypatch.delenv("MLFLOW_REGISTRY_URI")


@pytest.fixture(scope="module")
def reviewed(program: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict]:
    """Two weekly runs five weeks apart; every planned action of the first reviewed between
    them (alternately done and dismissed)."""
    tmp = tmp_path_factory.mktemp("served")
    settings = Settings(data_dir=tmp, database_url=f"sqlite:///{tmp / 'db.sqlite'}")
    run_week(settings, data_dir=program, week=FIRST, recommender=Recommender())
    decided: dict[tuple[str, str], str] = {}
    with session_scope(get_engine(settings.db_url)) as s:
        rows = s.scalars(select(PlanAction).where(~PlanAction.overflow).order_by(PlanAction.id))
        for i, row in enumerate(rows.all()):
            decision = "done" if i % 2 == 0 else "dismiss"
            review_action(
                s,
                action_id=row.id,
                reviewer=Admin(),
                decision=decision,
                reason=None if decision == "done" else "not this quarter",
                now=datetime.now(UTC),
            )
            decided[(row.partner_id, row.action_id)] = row.status
    run_week(settings, data_dir=program, week=LATER, recommender=Recommender())
    return settings, decided


def test_the_history_pairs_each_decision_with_the_snapshots_around_it(
    reviewed: tuple[Settings, dict],
) -> None:
    settings, decided = reviewed
    with session_scope(get_engine(settings.db_url)) as s:
        history = review_history(s, window_days=28)
    got = dict(
        zip(
            zip(history.decisions["partner_id"], history.decisions["action_id"], strict=True),
            history.decisions["status"],
            strict=True,
        )
    )
    assert got == decided and len(decided) > 5
    assert (history.decisions["elapsed_days"] == 35.0).all()
    assert len(history.before) == len(history.after) == len(decided)
    with session_scope(get_engine(settings.db_url)) as s:
        assert len(review_history(s, window_days=60).decisions) == (
            sum(v == "dismissed" for v in decided.values())  # done: their window is still open
        )


def test_the_fit_counts_what_was_done_and_answered(reviewed: tuple[Settings, dict]) -> None:
    settings, decided = reviewed
    fit = train_propensity(settings)
    with session_scope(get_engine(settings.db_url)) as s:
        history = review_history(s, window_days=28)
    works = (
        responded(
            history.decisions["action_id"].tolist(),
            history.before,
            history.after,
            elapsed_days=history.decisions["elapsed_days"].to_numpy(),
        )
        & (history.decisions["status"] == "done").to_numpy()
    )
    pooled = fit.table.loc[fit.table["segment"] == ALL].set_index("action_id")
    assert fit.decisions == len(decided) == int(pooled["n"].sum())
    assert int(pooled["successes"].sum()) == int(works.sum())
    loaded = load_propensities(tracking_uri=settings.mlflow_tracking_uri)
    assert loaded.version == fit.version
    assert loaded.counts == {
        (a, s): (n, k)
        for a, s, n, k in fit.table[["action_id", "segment", "n", "successes"]].to_numpy()
    }


def test_both_paths_draw_the_same_learned_propensity(
    reviewed: tuple[Settings, dict], program: Path
) -> None:
    settings, _ = reviewed
    train_propensity(settings)
    models = dataclasses.replace(
        MODELS, propensity=load_propensities(tracking_uri=settings.mlflow_tracking_uri)
    )
    as_of = week_start(LATER)
    frame = build_features(load_tables(program), as_of=as_of)
    recs = recommend_frame(frame, rulebook=RULEBOOK, models=models, as_of=as_of)
    learned = recs.actions.loc[recs.actions["propensity_source"].str.startswith("learned")]
    assert len(learned) > 0
    assert set(recs.actions["propensity_source"]) <= {"prior"} | set(learned["propensity_source"])
    row = learned.iloc[0]
    features = frame.loc[frame["partner_id"] == row["partner_id"]].iloc[0].to_dict()
    one = recommend_one(
        features, rulebook=RULEBOOK, models=models, as_of=as_of, partner_id=row["partner_id"]
    )
    same = next(a for a in one.actions if a.action_id == row["action_id"])
    assert (same.propensity, same.propensity_source) == (
        row["propensity"],
        row["propensity_source"],
    )
    assert f"({row['propensity_source']}) × value" in same.reasons[-1]
    assert same.reasons[-1] == row["reasons"][-1]
    without = recommend_one(
        features, rulebook=RULEBOOK, models=MODELS, as_of=as_of, partner_id=row["partner_id"]
    )
    prior = next(a for a in without.actions if a.action_id == row["action_id"])
    assert (prior.propensity, prior.propensity_source) == (0.25, "prior")
    assert "(prior) × value" in prior.reasons[-1]


def test_plan_rows_keep_which_propensity_ranked_them(
    reviewed: tuple[Settings, dict], program: Path
) -> None:
    settings, _ = reviewed
    train_propensity(settings)
    models = dataclasses.replace(
        MODELS, propensity=load_propensities(tracking_uri=settings.mlflow_tracking_uri)
    )

    def learned(
        frame: pd.DataFrame, *, previous: pd.DataFrame, history: pd.DataFrame, as_of: datetime
    ) -> Recommendations:
        return recommend_frame(
            frame,
            rulebook=RULEBOOK,
            models=models,
            previous=previous,
            history=history,
            as_of=as_of,
        )

    run_week(settings, data_dir=program, week="2026-W50", recommender=learned)
    with session_scope(get_engine(settings.db_url)) as s:
        before = plan_actions(s, week=FIRST)
        after = plan_actions(s, week="2026-W50")
    assert set(before["propensity_source"]) == {"prior"}  # every default action is learned
    assert after["propensity_source"].str.match(r"^(prior|learned \(n=\d+\))$").all()
    assert after["propensity_source"].str.startswith("learned").any()
    row = after.loc[after["propensity_source"].str.startswith("learned")].iloc[0]
    assert f"({row['propensity_source']}) × value" in row["reasons"][-1]
