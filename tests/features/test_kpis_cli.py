"""`tierwise kpis` as a user types it, and the KPIs of a simulated program."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.kpi_metrics import KPIS
from features.kpi_report import render_html
from features.kpis import program_kpis
from features.tables import Tables
from tests.features.kpi_program import (
    TREND_METRICS,
    program,
    svgs,
)
from tierwise.errors import InvalidInput
from tierwise.shell.cli import app

# --- CLI -----------------------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    for name, table in program().items():
        table.to_parquet(tmp_path / f"{name}.parquet", index=False)
    return tmp_path


def test_cli_prints_the_report(data_dir: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["kpis", "--data", str(data_dir), "--as-of", "2024-07-01", "--quota", "4"],
        env={"COLUMNS": "240"},
    )
    assert result.exit_code == 0, result.output
    assert "quota_attainment" in result.output
    assert "50.0%" in result.output  # quota attainment 2/4


def test_cli_json_and_html(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = CliRunner().invoke(
        app,
        ["kpis", "--data", str(data_dir), "--as-of", "2024-07-01", "--json", "--html", str(out)],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # logs go to stderr: stdout is pure JSON
    assert data["families"]["success"]["registered_deals"]["value"] == 6
    assert data["quota"] is None
    assert len(svgs(out.read_text(encoding="utf-8"), "trend")) == TREND_METRICS


def _unworked(data_dir: Path, *extra: str, env: dict[str, str] | None = None) -> int:
    from tierwise import settings

    settings.get_settings.cache_clear()
    try:
        args = ["kpis", "--data", str(data_dir), "--as-of", "2024-07-01", "--json", *extra]
        result = CliRunner().invoke(app, args, env=env)
    finally:
        settings.get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    value = json.loads(result.stdout)["families"]["success"]["registrations_expired_unworked"]
    return int(value["value"])


def test_cli_reads_the_registration_expiry_from_the_rulebook(
    data_dir: Path, tmp_path: Path
) -> None:
    default = Path(__file__).resolve().parents[2] / "rules" / "default"
    book = tmp_path / "book"
    book.mkdir()
    for f in default.glob("*.yaml"):
        text = f.read_text().replace("expiry_days: 90", "expiry_days: 29")
        (book / f.name).write_text(text)
    # the hand-built program (see test_kpis): 90 days → 0 unworked, 29 → 2, 10 → 3
    assert _unworked(data_dir, env={"TIERWISE_RULES_DIR": str(default)}) == 0
    assert _unworked(data_dir, env={"TIERWISE_RULES_DIR": str(book)}) == 2
    assert _unworked(data_dir, "--expiry-days", "10", env={"TIERWISE_RULES_DIR": str(book)}) == 3


def test_cli_without_optional_tables(data_dir: Path) -> None:
    for name in ("activities", "surveys", "customers"):
        (data_dir / f"{name}.parquet").unlink()
    result = CliRunner().invoke(
        app,
        ["kpis", "--data", str(data_dir), "--as-of", "2024-07-01", "--json"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["families"]["profitability"]["cac_partner"]["value"] is None
    assert data["families"]["success"]["registered_deals"]["value"] == 6


def test_cli_rejects_a_negative_quota(data_dir: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["kpis", "--data", str(data_dir), "--as-of", "2024-07-01", "--quota", "-1"],
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, InvalidInput)


def test_cli_period_days(data_dir: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["kpis", "--data", str(data_dir), "--as-of", "2024-07-01", "--period-days", "30", "--json"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # [06-01, 07-01): D4, D5, D8
    assert data["period"]["days"] == 30
    assert data["families"]["success"]["registered_deals"]["value"] == 3


# --- simulated program (smoke; `tables` and `sim_dir` come from tests/conftest.py) --------


def test_simulated_program_is_consistent(tables: Tables) -> None:
    as_of = (tables.deals["registered_at"].max() - pd.Timedelta(days=30)).floor("D")
    report = program_kpis(tables, as_of=as_of, quota=50)
    p = tables.partners
    in_program = (p["joined_at"] < as_of) & ~(p["exited_at"] < as_of)
    assert report.value("total_partners") == int(in_program.sum())
    for name, kpi in KPIS.items():
        value = report.value(name)
        if kpi.unit == "ratio" and name != "quota_attainment" and value is not None:
            assert 0.0 <= value <= 1.0, name
        if kpi.unit == "count":
            assert isinstance(value, int) and value >= 0, name
    assert report.channels["partners"].sum() == report.value("total_partners")
    assert report.channels["share"].sum() == pytest.approx(1.0)
    for dim in ("partner_type", "region"):
        groups = report.breakdowns[dim]
        for name in ("total_partners", "new_partners", "registered_deals", "partners_exited"):
            assert groups[name].sum() == report.value(name), (dim, name)
    assert len(svgs(render_html(report, tables), "trend")) == TREND_METRICS


def test_cli_on_a_simulated_program(sim_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "kpis.html"
    result = CliRunner().invoke(
        app,
        ["kpis", "--data", str(sim_dir), "--as-of", "2026-11-01", "--json", "--html", str(out)],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["families"]["recruitment"]["total_partners"]["value"] > 0
    assert data["missing_tables"] == []
    assert out.read_text(encoding="utf-8").startswith("<!doctype html>")
