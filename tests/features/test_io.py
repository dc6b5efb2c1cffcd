from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from features.io import load_tables, read_raw, validate_source, write_tables
from features.tables import Tables
from simulation.program import simulate
from tests.features.test_validate import program
from tierwise.errors import DataValidationError
from tierwise.shell.cli import app


@pytest.fixture(scope="module")
def sim_tables() -> Tables:
    return simulate(partners=60, years=0.5, seed=11, end=datetime(2025, 1, 1, tzinfo=UTC)).tables


def write_program(directory: Path, raw: dict[str, pd.DataFrame] | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in (raw or program()).items():
        frame.to_csv(directory / f"{name}.csv", index=False)
    return directory


def assert_same(a: Tables, b: Tables) -> None:
    assert a.present() == b.present()
    for name, frame in a.items():
        pd.testing.assert_frame_equal(frame, getattr(b, name))


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_write_then_load_round_trips(tmp_path: Path, sim_tables: Tables, fmt: str) -> None:
    write_tables(sim_tables, tmp_path, fmt=fmt)  # type: ignore[arg-type]
    assert_same(load_tables(tmp_path), sim_tables)


def test_write_replaces_the_table_in_the_other_format(tmp_path: Path, sim_tables: Tables) -> None:
    write_tables(sim_tables, tmp_path, fmt="csv")
    write_tables(sim_tables, tmp_path, fmt="parquet")
    assert not list(tmp_path.glob("*.csv"))
    assert_same(load_tables(tmp_path), sim_tables)


def test_write_rejects_an_unknown_format(tmp_path: Path, sim_tables: Tables) -> None:
    with pytest.raises(ValueError, match="'xlsx'"):
        write_tables(sim_tables, tmp_path, fmt="xlsx")  # type: ignore[arg-type]


def test_csv_is_read_as_text(tmp_path: Path) -> None:
    raw = program()
    raw["deals"]["customer_id"] = ["007", "008", "009", "010"]
    raw_read = read_raw(write_program(tmp_path, raw))
    assert raw_read["deals"]["amount"].tolist() == ["1000", "250.5", "0", "900"]
    assert load_tables(tmp_path).deals["customer_id"].tolist()[0] == "007"


def test_load_raises_with_every_problem_and_csv_lines(tmp_path: Path) -> None:
    raw = program()
    raw["deals"].loc[1, "amount"] = "-5"
    raw["partners"].loc[2, "partner_type"] = "wizard"
    write_program(tmp_path, raw)
    with pytest.raises(DataValidationError) as caught:
        load_tables(tmp_path)
    where = {(Path(p.file or "").name, p.line, p.column) for p in caught.value.problems}
    assert ("deals.csv", 3, "amount") in where
    assert ("partners.csv", 4, "partner_type") in where


def test_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError) as caught:
        load_tables(tmp_path / "nowhere")
    assert "no such data directory" in str(caught.value)


def test_missing_required_table_is_named(tmp_path: Path) -> None:
    raw = program()
    del raw["partners"]
    report = validate_source(write_program(tmp_path, raw))
    assert [p.message for p in report.problems] == ["required table partners is missing"]


def test_both_formats_of_one_table_is_an_error(tmp_path: Path) -> None:
    write_program(tmp_path)
    program()["deals"].to_parquet(tmp_path / "deals.parquet")
    report = validate_source(tmp_path)
    assert not report.ok
    assert "deals.csv and deals.parquet" in report.problems[0].message


def test_unreadable_files_are_reported_together(tmp_path: Path) -> None:
    write_program(tmp_path)
    (tmp_path / "surveys.parquet").write_bytes(b"not parquet at all")
    (tmp_path / "activities.csv").write_text("")
    report = validate_source(tmp_path)
    assert {p.table for p in report.problems} == {"surveys", "activities"}
    assert report.tables is None


def test_other_files_and_folders_are_not_read(tmp_path: Path) -> None:
    write_program(tmp_path)
    (tmp_path / "_truth").mkdir()
    (tmp_path / "_truth" / "deals.parquet").write_bytes(b"secret")
    (tmp_path / "leads.csv").write_text("a\n1\n")
    report = validate_source(tmp_path)
    assert report.ok
    assert any("leads.csv" in note for note in report.notes)


def sqlite_url(path: Path, raw: dict[str, pd.DataFrame]) -> str:
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        for name, frame in raw.items():
            frame.to_sql(name, connection, index=False)
    engine.dispose()
    return url


def as_sql_text(tables: Tables) -> dict[str, pd.DataFrame]:
    """SQLite has no time zones: keep the offset by storing ISO 8601 text."""
    out = {}
    for name, frame in tables.items():
        frame = frame.copy()
        for column in frame.columns:
            if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
                frame[column] = frame[column].map(lambda t: None if pd.isna(t) else t.isoformat())
        out[name] = frame
    return out


def test_sql_source_loads_tables_by_name(tmp_path: Path, sim_tables: Tables) -> None:
    url = sqlite_url(tmp_path / "program.db", as_sql_text(sim_tables))
    assert_same(load_tables(url), sim_tables)


def test_sql_naive_timestamps_are_reported(tmp_path: Path, sim_tables: Tables) -> None:
    url = sqlite_url(tmp_path / "program.db", dict(sim_tables.items()))  # pandas drops the tz
    report = validate_source(url)
    assert not report.ok
    problem = report.problems[0]
    assert problem.file == url and problem.table == "partners"
    assert "no time zone" in problem.message


def test_sql_source_without_tables(tmp_path: Path) -> None:
    report = validate_source(f"sqlite:///{tmp_path / 'empty.db'}")
    assert {p.message for p in report.problems} == {
        "required table partners is missing",
        "required table deals is missing",
    }


def test_bad_url_is_reported(tmp_path: Path) -> None:
    report = validate_source("nosuchdriver://user:secret@host/db")
    assert not report.ok
    assert "secret" not in str(report.problems) + report.source


def test_quarantine_sets_bad_rows_aside_and_good_ones_load(tmp_path: Path) -> None:
    raw = program()
    raw["partners"].loc[0, "partner_type"] = "wizard"  # P1: its deals and activity follow it
    raw["deals"].loc[2, "amount"] = "-5"
    source = write_program(tmp_path / "data", raw)
    report = validate_source(source, quarantine=tmp_path / "q")
    bad = pd.read_csv(tmp_path / "q" / "bad" / "deals.csv", dtype=str)
    assert bad["deal_id"].tolist() == ["D1", "D2", "D3"]
    assert bad["line"].tolist() == ["2", "3", "4"]
    assert "refers to a bad row of partners" in bad["problem"][0]
    assert "amount: must be >= 0: '-5'" in bad["problem"][2]
    good = load_tables(tmp_path / "q" / "good")
    assert good.deals["deal_id"].tolist() == ["D4"]
    assert set(good.partners["partner_id"]) == {"P2", "P3"}
    counted = {name: len(frame) for name, frame in good.items()}
    assert all(counted[n] + report.bad_mask(n).sum() == len(raw[n]) for n in raw)


def test_quarantine_removes_stale_bad_files(tmp_path: Path) -> None:
    stale = tmp_path / "q" / "bad" / "deals.csv"
    stale.parent.mkdir(parents=True)
    stale.write_text("old")
    validate_source(write_program(tmp_path / "data"), quarantine=tmp_path / "q")
    assert not stale.exists()


runner = CliRunner()


def test_cli_validate_bad_directory_exits_non_zero(tmp_path: Path) -> None:
    raw = program()
    raw["partners"].loc[1, "partner_type"] = "wizard"
    raw["deals"].loc[0, "registered_at"] = "2024-01-01 10:00"
    result = runner.invoke(app, ["validate", str(write_program(tmp_path, raw))])
    assert result.exit_code == 1
    assert "not one of VAR" in result.output
    assert "'wizard'" in result.output
    assert "no time zone" in result.output


def test_cli_validate_good_directory_exits_zero(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(write_program(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


def test_cli_validate_quarantine(tmp_path: Path) -> None:
    raw = program()
    raw["deals"].loc[0, "amount"] = "lots"
    source = write_program(tmp_path / "data", raw)
    result = runner.invoke(app, ["validate", str(source), "--quarantine", str(tmp_path / "q")])
    assert result.exit_code == 1
    assert (tmp_path / "q" / "bad" / "deals.csv").exists()
    assert (tmp_path / "q" / "good" / "deals.parquet").exists()


def test_parquet_list_column_is_normalised(tmp_path: Path) -> None:
    partners = load_tables(write_program(tmp_path)).partners
    partners["verticals"] = [["health", "retail"], [], ["retail"]]
    partners.to_parquet(tmp_path / "partners.parquet")
    (tmp_path / "partners.csv").unlink()
    loaded = load_tables(tmp_path).partners
    assert loaded["verticals"].tolist() == ["health|retail", "", "retail"]
    assert loaded["verticals"].dtype == "str"
