from dataclasses import replace
from pathlib import Path

from typer.testing import CliRunner

from features.io import write_tables
from features.tables import Tables
from rules import load_rulebook
from rules.data_check import unprovided
from tierwise.shell.cli import app


def test_rules_reading_unprovided_features_are_named() -> None:
    book = load_rulebook()
    warnings = unprovided(book, {"certified_people": "the data has no certifications table"})
    assert (
        "tier resell/Gold reads certified_people, which the data cannot provide "
        "(the data has no certifications table)" in warnings
    )
    assert all("certified_people" in w for w in warnings)
    assert unprovided(book, {}) == []


def test_rules_check_with_data_warns_and_still_passes(tables: Tables, tmp_path: Path) -> None:
    write_tables(replace(tables, activities=None), tmp_path)
    result = CliRunner().invoke(app, ["rules", "check", "rules/default", "--data", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "reads cert_passes_365d, which the data cannot provide" in result.output
