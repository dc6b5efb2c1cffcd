from typer.testing import CliRunner

from tierwise.cli import app

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
