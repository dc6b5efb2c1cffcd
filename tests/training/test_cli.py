from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from features.io import write_tables
from tierwise.settings import get_settings
from tierwise.shell.cli import app

from .program import make_program

runner = CliRunner()
pytestmark = pytest.mark.slow  # each command loads the data and opens an MLflow store


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("TIERWISE_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_train_then_evaluate_the_champion(env: Path) -> None:
    tables, _ = make_program(partners=300, seed=2)
    write_tables(tables, env)
    trained = runner.invoke(app, ["train", "--data", str(env), "--model", "deal"])
    assert trained.exit_code == 0, trained.output
    assert "tierwise-deal-acceptance v1" in trained.output and "first champion" in trained.output
    evaluated = runner.invoke(app, ["evaluate", "--data", str(env), "--model", "deal"])
    assert evaluated.exit_code == 0, evaluated.output
    assert "(champion)" in evaluated.output and "roc_auc" in evaluated.output


def test_train_on_too_short_a_history_fails_with_the_reason(env: Path) -> None:
    tables, _ = make_program(partners=50, years=0.3, seed=1)
    write_tables(tables, env)
    result = runner.invoke(app, ["train", "--data", str(env), "--model", "churn"])
    assert result.exit_code == 1
    assert "needs at least" in result.output and "more day(s) of history" in result.output


def test_train_takes_snapshot_counts_and_says_what_it_chose(env: Path) -> None:
    tables, _ = make_program(partners=300, seed=2)
    write_tables(tables, env)
    args = ["train", "--data", str(env), "--model", "churn", "--test-snapshots", "2"]
    result = runner.invoke(app, [*args, "--validation-snapshots", "1"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "time split: test = last 2 monthly cut-off(s)" in out
    assert "validation = 1 cut-off(s)" in out and "registered: refit on" in out


def test_bad_snapshot_count_is_refused(env: Path) -> None:
    result = runner.invoke(app, ["train", "--data", str(env), "--test-snapshots", "two"])
    assert result.exit_code == 2 and "whole number" in result.output


def test_evaluate_without_a_champion_fails_clearly(env: Path) -> None:
    tables, _ = make_program(partners=50, seed=1)
    write_tables(tables, env)
    result = runner.invoke(app, ["evaluate", "--data", str(env), "--model", "churn"])
    assert result.exit_code == 1
    assert "tierwise-churn@champion not found" in result.output


def test_a_model_below_the_floor_says_which_floor_and_how_to_get_a_champion(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables, _ = make_program(partners=300, seed=2)
    write_tables(tables, env)
    monkeypatch.setenv("TIERWISE_PROMOTION_MIN_AUC", "0.999")
    get_settings.cache_clear()
    trained = runner.invoke(app, ["train", "--data", str(env), "--model", "deal"])
    assert trained.exit_code == 0, trained.output
    out = " ".join(trained.output.split())
    assert "< floor 0.999 (TIERWISE_PROMOTION_MIN_AUC)" in out and "--force" in out
    assert "no champion for tierwise-deal-acceptance" in out
    evaluated = runner.invoke(app, ["evaluate", "--data", str(env), "--model", "deal"])
    said = " ".join(evaluated.output.split())
    assert evaluated.exit_code == 1
    assert "no champion is registered for tierwise-deal-acceptance" in said
    assert "none promoted" in said and "`tierwise train --data DIR --force`" in said
