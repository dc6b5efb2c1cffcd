import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from tierwise.shell.cli import app

runner = CliRunner()


def test_help_lists_every_package_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("simulate", "validate", "features", "kpis"):
        assert command in result.output


def test_features_list_prints_the_registry() -> None:
    result = runner.invoke(app, ["features", "list"])
    assert result.exit_code == 0
    assert "revenue_won_365d" in result.output


def test_features_without_as_of_is_a_usage_error() -> None:
    result = runner.invoke(app, ["features", "--data", "nowhere"])
    assert result.exit_code == 2


def test_console_script_turns_a_tierwise_error_into_exit_1(tmp_path: Path) -> None:
    (tmp_path / "partners.csv").write_text("partner_id\nP1\n")
    script = "from tierwise.shell.cli import app; app()"
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            "features",
            "--data",
            str(tmp_path),
            "--as-of",
            "2026-01-01",
            "--out",
            str(tmp_path / "f.parquet"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "deals" in proc.stderr  # the missing required table is named
