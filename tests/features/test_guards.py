"""Guards on data that parses but is wrong, and the contract's optional columns (issue 11/13)."""

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from features.io import validate_source
from features.schema import PARTNERS
from features.validate import validate_tables
from tests.features.test_validate import program, with_cell

REQUIRED_PARTNER_COLUMNS = ["partner_id", "partner_type", "manager_id", "joined_at"]


def test_header_only_deals_csv_does_not_validate(tmp_path: Path) -> None:
    raw = program()
    raw["partners"].to_csv(tmp_path / "partners.csv", index=False)
    raw["deals"].iloc[:0].to_csv(tmp_path / "deals.csv", index=False)
    report = validate_source(tmp_path)
    assert not report.ok
    assert [p.message for p in report.problems] == ["required table deals is empty (no rows)"]
    assert report.problems[0].file == str(tmp_path / "deals.csv")


def test_empty_optional_table_is_fine() -> None:
    raw = program()
    raw["activities"] = raw["activities"].iloc[:0]
    assert validate_tables(raw).ok


def test_megabyte_manager_id_is_a_row_error_with_a_truncated_value() -> None:
    report = validate_tables(with_cell(program(), "partners", 1, "manager_id", "M" * 1_000_000))
    [problem] = [p for p in report.problems if p.column == "manager_id"]
    assert problem.row == 2
    assert problem.message.startswith("longer than 64 characters")
    assert problem.value == "M" * 40 + "… (1,000,000 characters)"
    assert len(str(problem)) < 400
    assert len(report.bad["partners"]) == 1


def test_long_name_is_bounded_too() -> None:
    report = validate_tables(with_cell(program(), "partners", 0, "name", "x" * 201))
    assert [p.column for p in report.problems if p.table == "partners"] == ["name"]


def test_a_2099_date_is_later_than_the_data_end() -> None:
    raw = with_cell(program(), "deals", 2, "closed_at", "2099-01-01T00:00:00Z")
    report = validate_tables(raw)
    [problem] = report.problems
    assert (problem.table, problem.row, problem.column) == ("deals", 3, "closed_at")
    assert "later than 2025-" in problem.message and "the data's end" in problem.message
    assert problem.value == "2099-01-01T00:00:00Z"


def test_explicit_as_of_is_the_data_end() -> None:
    report = validate_tables(program(), as_of=datetime(2024, 3, 1, tzinfo=UTC))
    [problem] = [p for p in report.problems if p.table == "partners"]  # P3 exited 2024-06-01
    assert (problem.column, problem.row) == ("exited_at", 3)
    assert "--as-of 2024-03-01" in problem.message


def test_partners_with_only_the_required_columns_validate_with_warnings() -> None:
    raw = program()
    raw["partners"] = raw["partners"][REQUIRED_PARTNER_COLUMNS]
    raw["deals"] = raw["deals"].drop(columns=["product", "deal_kind"])
    report = validate_tables(raw)
    assert report.ok, report.problems
    assert report.tables is not None
    partners = report.tables.partners
    assert list(partners.columns) == PARTNERS.column_names
    assert partners["name"].tolist() == ["P1", "P2", "P3"]  # defaults to the id
    assert set(partners["region"]) == {"unknown"}
    assert partners["company_size"].isna().all()
    text = "\n".join(report.warnings)
    assert "partners.company_size is absent: empty feature company_size" in text
    assert "KPI avg_recruit_cost" in text and "deals.deal_kind is absent" in text


def test_all_empty_optional_column_is_warned_like_an_absent_one() -> None:
    raw = program()
    raw["partners"]["portfolio_fit"] = pd.Series([None] * 3, dtype="str")
    report = validate_tables(raw)
    assert report.ok
    assert any("portfolio_fit is empty in every row" in w for w in report.warnings)


def test_validate_cli_takes_the_data_end(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tierwise.shell.cli import app

    for name, frame in program().items():
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    ok = CliRunner().invoke(app, ["validate", str(tmp_path)])
    assert ok.exit_code == 0, ok.output
    late = CliRunner().invoke(app, ["validate", str(tmp_path), "--as-of", "2024-03-01"])
    assert late.exit_code == 1
    assert "later than 2024-03-01" in late.output
