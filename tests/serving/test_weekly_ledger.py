"""Three consecutive weeks of the real weekly job on a simulated program, across the Q4 review:
the ledger never grants a once-incentive twice, the weekly cost is what accrued, no pool is
exceeded, every refusal says why, and tiers go down only at the review (with grace)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from rules import load_rulebook
from serving.db import TierDecision, get_engine, session_scope
from serving.db.ledger import accruals
from serving.recommend import Models
from serving.weekly import BoundRecommender, run_week
from tierwise.settings import Settings, get_settings

WEEKS = ("2026-W40", "2026-W41", "2026-W42")  # Mondays 09-28, 10-05 (Q4 review), 10-12


class _Scorer:
    """A stand-in model: churn risk grows with inactivity (the job is under test here)."""

    features: ClassVar[list[str]] = ["days_since_last_activity"]
    version = "stub"

    def encode_frame(self, frame: pd.DataFrame) -> np.ndarray:
        days = pd.to_numeric(frame["days_since_last_activity"]).fillna(365.0)
        return days.to_numpy(dtype=np.float64)[:, None]

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.clip(x[:, 0] / 120.0, 0.01, 0.99)


@pytest.fixture(scope="module")
def three_weeks(sim_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("weekly-ledger")
    settings = Settings(data_dir=folder, database_url=f"sqlite:///{folder / 'db.sqlite'}")
    book = load_rulebook()
    rec = BoundRecommender(book, Models(churn=_Scorer(), deal=_Scorer()))  # type: ignore[arg-type]
    runs = {w: run_week(settings, data_dir=sim_dir, week=w, recommender=rec) for w in WEEKS}
    again = run_week(settings, data_dir=sim_dir, week=WEEKS[-1], recommender=rec)
    return {"settings": settings, "runs": runs, "again": again}


def test_the_weekly_cost_is_what_accrued_in_the_ledger(three_weeks: dict[str, Any]) -> None:
    engine = get_engine(three_weeks["settings"].db_url)
    with session_scope(engine) as s:
        moves = accruals(s)
    for week, run in three_weeks["runs"].items():
        accrued = moves.loc[moves["week"] == week, "amount"].sum()
        assert run.summary["incentive_cost"] == pytest.approx(accrued)
    assert three_weeks["again"].summary["incentive_cost"] == pytest.approx(
        three_weeks["runs"][WEEKS[-1]].summary["incentive_cost"]
    )


def test_the_ledger_json_has_no_once_incentive_twice_and_no_pool_exceeded(
    three_weeks: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tierwise.shell.cli import app

    monkeypatch.setenv("TIERWISE_DATABASE_URL", three_weeks["settings"].db_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["incentives", "ledger", "--json"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    docs = pd.DataFrame(json.loads(result.output)["entries"])
    once = docs.loc[docs["period"] == "once"]
    assert len(once) and not once.duplicated(["partner_id", "incentive_id"]).any()
    assert (once["accruals"].map(len) == 1).all()
    mdf = docs.loc[docs["incentive_id"] == "mdf_grant"]
    for _, period in mdf.groupby("period"):
        assert period["amount"].sum() <= 250_000
    refused = docs.loc[docs["status"] == "forfeited"]
    assert refused["evidence"].map(lambda e: "exhausted" in e.get("allocation", "")).all()
    assert {"2026-Q3", "2026-Q4", "once"} <= set(docs["period"])
    q3 = docs.loc[(docs["period"] == "2026-Q3") & docs["incentive_id"].str.startswith("commission")]
    assert set(q3["status"]) == {"earned"}  # the quarter ended before W41


def test_tiers_go_down_only_at_the_review(three_weeks: dict[str, Any]) -> None:
    engine = get_engine(three_weeks["settings"].db_url)
    with session_scope(engine) as s:
        rows = s.execute(select(TierDecision.week, TierDecision.change, TierDecision.details)).all()
    frame = pd.DataFrame(rows, columns=["week", "change", "details"])
    basis = frame["details"].map(lambda d: d.get("tier_basis"))
    between = frame["week"].isin([WEEKS[0], WEEKS[2]])
    assert not (frame["change"] == "demoted").any()  # grace: one review before a demotion
    assert not ((basis == "grace") & between).any()
    assert ((basis == "calendar") & (frame["week"] == WEEKS[2])).any()
    summaries = {w: r.summary for w, r in three_weeks["runs"].items()}
    assert summaries[WEEKS[1]]["in_grace"] > 0  # below their tier at the review: grace


def test_program_cost_per_quarter_and_per_revenue_dollar(
    three_weeks: dict[str, Any], sim_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tierwise.shell.cli import app

    monkeypatch.setenv("TIERWISE_DATABASE_URL", three_weeks["settings"].db_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            app, ["incentives", "cost", "--data", str(sim_dir), "--per", "quarter", "--json"]
        )
        bad = CliRunner().invoke(
            app, ["incentives", "cost", "--data", str(sim_dir), "--per", "week"]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    periods = {p["period"]: p for p in json.loads(result.stdout)["periods"]}
    # W40 opened the ledger: what was reached before it is no period's cost, and W40 (in Q3)
    # added nothing on top of it
    runs = three_weeks["runs"]
    assert runs[WEEKS[0]].summary["incentive_opening_balance"] > 0
    assert runs[WEEKS[0]].summary["incentive_cost"] == 0.0
    assert set(periods) == {"2026-Q4"}  # W41, W42 start in Q4
    q4 = periods["2026-Q4"]
    weeks = runs[WEEKS[1]].summary["incentive_cost"] + runs[WEEKS[2]].summary["incentive_cost"]
    assert q4["cost"] == pytest.approx(weeks) and q4["cost"] > 0
    assert q4["partner_revenue"] > 0
    assert q4["cost_per_revenue"] == pytest.approx(q4["cost"] / q4["partner_revenue"])
    assert bad.exit_code == 2 and "'week' is not a period" in bad.output


def test_paying_a_period_marks_its_earned_entries_paid_and_keeps_them_granted(
    sim_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from serving.db.ledger import entries
    from tierwise.shell.cli import app

    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'db.sqlite'}")
    rec = BoundRecommender(load_rulebook(), Models(churn=_Scorer(), deal=_Scorer()))  # type: ignore[arg-type]
    run_week(settings, data_dir=sim_dir, week=WEEKS[0], recommender=rec)
    monkeypatch.setenv("TIERWISE_DATABASE_URL", settings.db_url)
    get_settings.cache_clear()
    try:
        paid = CliRunner().invoke(app, ["incentives", "pay", "--period", "once"])
    finally:
        get_settings.cache_clear()
    assert paid.exit_code == 0 and "marked paid" in paid.output
    second = run_week(settings, data_dir=sim_dir, week=WEEKS[1], recommender=rec)
    with session_scope(get_engine(settings.db_url)) as s:
        once = entries(s, period="once")
    assert len(once) and set(once["status"]) <= {"paid", "earned"}
    assert not once.duplicated(["partner_id", "incentive_id"]).any()
    assert (once.loc[once["first_week"] == WEEKS[0], "status"] == "paid").all()
    assert second.summary["incentive_cost"] >= 0
