"""`tierwise train --model propensity`: fits on the service database, or says why not."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rules.loader import load_rulebook
from tierwise.settings import PACKAGE_RULES_DIR, get_settings
from tierwise.shell.cli import app
from training.propensity_registry import load_propensities

runner = CliRunner()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")  # recorded: what training sets is undone
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", "")  # set_registry_uri writes it too
    monkeypatch.delenv("MLFLOW_REGISTRY_URI")
    monkeypatch.delenv("TIERWISE_DATABASE_URL", raising=False)
    monkeypatch.setenv("TIERWISE_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_with_no_review_yet_every_action_stays_at_its_prior(env: Path) -> None:
    result = runner.invoke(app, ["train", "--model", "propensity", "--data", str(env)])
    assert result.exit_code == 0, result.output
    assert "tierwise-propensity v1 @champion from 0 decisions" in result.output
    table = load_propensities(tracking_uri=f"sqlite:///{env / 'mlflow.db'}")
    learned = {a.id for a in load_rulebook().actions if a.learned}
    assert {a for a, _ in table.counts} == learned
    assert all(n == 0 for n, _ in table.counts.values())


def test_a_rulebook_that_learns_nothing_is_refused(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = env / "rules"
    shutil.copytree(PACKAGE_RULES_DIR, rules)
    actions = rules / "actions.yaml"
    kept = [line for line in actions.read_text().splitlines() if "learned: true" not in line]
    actions.write_text("\n".join(kept) + "\n")
    monkeypatch.setenv("TIERWISE_RULES_DIR", str(rules))
    get_settings.cache_clear()
    result = runner.invoke(app, ["train", "--model", "propensity"])
    assert result.exit_code == 1
    said = " ".join(result.output.split())  # rich wraps long lines
    assert "no action in the rulebook" in said and "nothing to fit" in said


def test_evaluate_has_no_propensity_model(env: Path) -> None:
    result = runner.invoke(app, ["evaluate", "--model", "propensity"])
    assert result.exit_code != 0
    assert "fitted by `tierwise train` only" in result.output
