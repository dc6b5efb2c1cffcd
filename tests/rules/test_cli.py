import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tierwise.shell.cli import app

from .conftest import BROKEN_DIR, DEFAULT_DIR, base_features, random_frame

runner = CliRunner()


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["rules", *args])


def test_check_default_rulebook_passes() -> None:
    result = run("check", str(DEFAULT_DIR))
    assert result.exit_code == 0, result.output
    assert "ok rulebook 2026.1" in result.output and "9 actions" in result.output


@pytest.mark.parametrize(
    ("name", "where", "message"),
    [
        ("unknown_feature.yaml", ":9 [resell/Gold]", "did you mean 'revenue_won_365d'?"),
        ("malformed_threshold.yaml", ":10 [resell/Platinum]", "malformed threshold '1,000,000'"),
        ("yaml_syntax.yaml", ":7", "YAML syntax error"),
        ("shadowed_tier.yaml", ":9 [resell/Gold]", "unreachable tier 'resell/Gold'"),
    ],
)
def test_check_broken_rulebook_fails_with_file_and_line(
    name: str, where: str, message: str
) -> None:
    result = run("check", str(BROKEN_DIR / name))
    assert result.exit_code == 1
    assert f"{BROKEN_DIR / name}{where}" in result.output
    assert message in result.output


def test_check_uses_settings_rules_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    from tierwise import settings

    monkeypatch.setenv("TIERWISE_RULES_DIR", str(BROKEN_DIR / "duplicate_ids.yaml"))
    settings.get_settings.cache_clear()
    try:
        result = run("check")
    finally:
        settings.get_settings.cache_clear()
    assert result.exit_code == 1 and "duplicate id 'event_tickets'" in result.output


def test_test_command_runs_the_cases() -> None:
    result = run("test", str(DEFAULT_DIR))
    assert result.exit_code == 0, result.output
    passed = re.search(
        r"(\d+)/(\d+) cases passed; every tier, incentive, action and ", result.output
    )
    assert passed and passed[1] == passed[2], result.output
    assert "pass registration_channel_conflict" in result.output


def test_test_command_fails_and_lists_uncovered(tmp_path: Path) -> None:
    shutil.copytree(DEFAULT_DIR, tmp_path / "book")
    cases = tmp_path / "book" / "tests.yaml"
    text = cases.read_text().replace(
        "expect: {actions: [send_enablement]}", "expect: {actions: [invite_jbp]}"
    )
    cases.write_text(text)
    result = run("test", str(tmp_path / "book"))
    assert result.exit_code == 1
    assert "FAIL new_partner_enablement" in result.output


def test_explain_from_a_saved_frame(tmp_path: Path) -> None:
    import pandas as pd

    path = tmp_path / "frame.parquet"
    row = base_features(
        partner_id="P42",
        revenue_won_365d=30_000.0,
        deals_won_365d=3.0,
        certified_people=0.0,
        satisfaction_avg_365d=6.5,
    )
    pd.DataFrame([row]).drop(columns=["as_of"]).to_parquet(path)
    result = run("explain", "--features", str(path), "--partner", "P42", "--as-of", "2025-06-30")
    assert result.exit_code == 0, result.output
    assert "track resell: tier Silver" in result.output
    assert "$30,000 more revenue_won_365d" in result.output


def test_explain_unknown_partner(tmp_path: Path) -> None:
    path = tmp_path / "frame.parquet"
    random_frame(3).drop(columns=["as_of"]).to_parquet(path)
    result = run("explain", "--features", str(path), "--partner", "nobody")
    assert result.exit_code == 1 and "no partner 'nobody'" in result.output


def test_simulate_writes_movers(tmp_path: Path) -> None:
    shutil.copytree(DEFAULT_DIR, tmp_path / "cand")
    tiers = tmp_path / "cand" / "tiers.yaml"
    tiers.write_text(
        tiers.read_text().replace("revenue_won_365d >= 20000\n", "revenue_won_365d >= 10000\n")
    )
    frame = tmp_path / "frame.parquet"
    partners = random_frame(300, seed=9).drop(columns=["as_of"])
    # ten partners Silver only under the candidate's lower revenue threshold (not by chance)
    partners.loc[:9, ["revenue_won_365d", "deals_won_365d", "certified_people"]] = [15_000, 3, 1]
    partners.loc[:9, "partner_type"] = "VAR"
    partners.to_parquet(frame)
    out = tmp_path / "movers.csv"
    result = run(
        "simulate",
        "--candidate",
        str(tmp_path / "cand"),
        "--features",
        str(frame),
        "--as-of",
        "2025-06-30",
        "--current",
        str(DEFAULT_DIR),
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    assert "Tier migration" in result.output and "Incentive cost" in result.output
    import pandas as pd

    compared = pd.read_csv(out)  # every partner, both rulebooks
    movers = compared.loc[compared["direction"] != "same"]
    assert len(compared) == 300 and len(movers) > 0 and set(movers["direction"]) == {"up"}
    assert f"{len(movers):,} partners would move" in result.output


def test_simulate_rejects_a_broken_candidate(tmp_path: Path) -> None:
    frame = tmp_path / "frame.parquet"
    random_frame(5).drop(columns=["as_of"]).to_parquet(frame)
    result = run(
        "simulate",
        "--candidate",
        str(BROKEN_DIR / "unknown_tier.yaml"),
        "--features",
        str(frame),
        "--as-of",
        "2025-06-30",
    )
    assert result.exit_code == 1 and "unknown tier 'Goldd'" in result.output


def test_explain_from_program_data(sim_dir: Path) -> None:
    import pandas as pd

    partner = str(pd.read_parquet(sim_dir / "partners.parquet")["partner_id"].iloc[0])
    result = run("explain", "--data", str(sim_dir), "--partner", partner, "--as-of", "2026-11-01")
    assert result.exit_code == 0, result.output
    assert "rulebook 2026.1" in result.output and "incentives:" in result.output
