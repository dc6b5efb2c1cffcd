"""`tierwise weekly` and `tierwise db upgrade` as a user types them (real models, real DB)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from serving.weeks import week_of
from tierwise.settings import get_settings
from tierwise.shell.cli import app

runner = CliRunner()


@pytest.fixture
def data(served_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private copy of the served program (tables + MLflow store with both champions)."""
    copy = tmp_path / "data"
    shutil.copytree(served_dir, copy)
    monkeypatch.setenv("TIERWISE_DATA_DIR", str(copy))
    monkeypatch.delenv("TIERWISE_DATABASE_URL", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    get_settings.cache_clear()
    yield copy
    get_settings.cache_clear()


def _planned_weeks(data: Path) -> set[str]:
    engine = sa.create_engine(f"sqlite:///{data / 'tierwise.db'}")
    with engine.connect() as conn:
        return {w for (w,) in conn.execute(sa.text("select distinct week from plan_actions"))}


def test_weekly_plans_the_given_week_with_the_champions(data: Path) -> None:
    result = runner.invoke(app, ["weekly", "--data", str(data), "--week", "2026-W47"])
    assert result.exit_code == 0, result.output
    assert "Weekly plan 2026-W47" in result.output
    assert _planned_weeks(data) == {"2026-W47"}
    assert any((data / "digest" / "2026-W47").glob("*.html"))


def test_weekly_without_a_week_plans_the_current_one(data: Path) -> None:
    result = runner.invoke(app, ["weekly", "--data", str(data)])
    assert result.exit_code == 0, result.output
    assert _planned_weeks(data) == {week_of(datetime.now(UTC))}


def test_weekly_rejects_a_week_that_does_not_exist(data: Path) -> None:
    result = runner.invoke(app, ["weekly", "--data", str(data), "--week", "2026-W54"])
    assert result.exit_code != 0
    assert "2026-W54" in str(result.exception)


def test_db_upgrade_creates_the_schema(data: Path) -> None:
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "at revision" in result.output
    engine = sa.create_engine(f"sqlite:///{data / 'tierwise.db'}")
    assert "plan_actions" in sa.inspect(engine).get_table_names()
