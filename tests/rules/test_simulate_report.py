"""`tierwise rules simulate` as a program owner reads it: 80 columns, full names, pools."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from rules import load_rulebook
from rules.simulate import simulate_change
from tierwise.shell.cli import app

from .conftest import AS_OF, DEFAULT_DIR, random_frame


def candidate(tmp_path: Path) -> Path:
    shutil.copytree(DEFAULT_DIR, tmp_path / "cand")
    tiers = tmp_path / "cand" / "tiers.yaml"
    tiers.write_text(tiers.read_text().replace(">= 150000", ">= 100000"))
    book = tmp_path / "cand" / "rulebook.yaml"
    book.write_text(book.read_text().replace("amount: 250000", "amount: 400000"))
    return tmp_path / "cand"


def run(*args: str) -> str:
    result = CliRunner(env={"COLUMNS": "80"}).invoke(app, ["rules", "simulate", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_full_names_at_80_columns_pool_costs_and_no_log_lines(tmp_path: Path) -> None:
    frame = tmp_path / "frame.parquet"
    random_frame(300, seed=9).drop(columns=["as_of", "churn_risk"]).to_parquet(frame)
    out = run("--candidate", str(candidate(tmp_path)), "--features", str(frame),
              "--as-of", "2025-07-07", "--current", str(DEFAULT_DIR))  # fmt: skip
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "…" not in out
    for name in ("Referrer", "Registered", "commission_standard", "first_deal_bonus"):
        assert name in out
    assert "Tier migration, track resell" in out and "Tier migration, track referral" in out
    assert re.search(r"mdf \(quarter\)\s+\$400,000", out)
    assert "period 2025-Q3" in out and "period once" in out
    assert "note: no churn_risk in the data" in out
    assert "WARNING" not in out and "INFO" not in out


def test_out_writes_html_with_every_table(tmp_path: Path) -> None:
    frame = tmp_path / "frame.parquet"
    random_frame(100, seed=3).drop(columns=["as_of"]).to_parquet(frame)
    page = tmp_path / "report.html"
    run("--candidate", str(candidate(tmp_path)), "--features", str(frame),
        "--as-of", "2025-07-07", "--current", str(DEFAULT_DIR), "--out", str(page))  # fmt: skip
    text = page.read_text()
    for title in ("Track resell", "Track referral", "Incentive cost", "Budget pools", "move"):
        assert title in text


def test_pool_costs_never_exceed_the_budget_and_count_refusals() -> None:
    frame = random_frame(2000, seed=4)
    book = load_rulebook(DEFAULT_DIR)
    report = simulate_change(book, book, frame, as_of=AS_OF)
    (pool,) = report.pools.to_dict("records")
    assert pool["granted_current"] <= pool["budget_current"] == 250_000
    assert pool["claimed_current"] > pool["granted_current"] and pool["refused_current"] > 0
    cost = report.cost.set_index("incentive_id")
    assert cost.loc["mdf_grant", "cost_current"] == pool["granted_current"]
    assert set(report.by_track()) == {"resell", "msp", "si", "distributor", "referral"}
    assert isinstance(report.partner_cost, pd.DataFrame) and len(report.partner_cost) == 2000
