"""`tierwise import` end to end: sources of every kind, quarantine, and a transaction log that
becomes a program `validate`, `train` and `weekly` accept with nothing else."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.importer import import_source
from features.io import load_tables
from features.tables import Tables
from tests.features.test_mappings import LOG, MAPPING, line_of, write
from tierwise.errors import MappingError
from tierwise.settings import get_settings
from tierwise.shell.cli import app

runner = CliRunner()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("TIERWISE_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def transaction_log(tables: Tables) -> pd.DataFrame:
    """A purchase log as a shop exports it: won partner deals, naive local times."""
    deals = tables.deals
    won = deals.loc[(deals["outcome"] == "won") & deals["partner_id"].notna()]
    return pd.DataFrame(
        {
            "partner_id": won["partner_id"],
            "occurred_at": won["closed_at"].dt.strftime("%Y-%m-%d %H:%M:%S"),
            "amount": won["amount"],
            "customer_id": won["customer_id"],
        }
    )


def test_typo_in_a_mapping_fails_with_file_line_and_did_you_mean(env: Path) -> None:
    text = MAPPING.replace("registered_at: occurred_at", "registered_at: ocurred_at")
    mapping, source = write(env, text)
    result = runner.invoke(
        app, ["import", "--mapping", str(mapping), "--source", str(source), "--out", "x"]
    )
    assert result.exit_code == 1
    where = f"{mapping}:{line_of(text, 'ocurred_at')}"
    assert f"{where}: no column 'ocurred_at' in log.csv (did you mean 'occurred_at'?)" in (
        result.output.replace("\n", "")
    )
    assert not (env / "x").exists()


def test_bad_rows_stop_the_import_unless_quarantined(env: Path) -> None:
    mapping, source = write(env, MAPPING, LOG + "P3,2024-04-01,12x,C1\n")
    out, aside = env / "out", env / "aside"
    args = ["import", "--mapping", str(mapping), "--source", str(source), "--out", str(out)]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 1 and "nothing written" in refused.output
    assert not out.exists()
    kept = runner.invoke(app, [*args, "--quarantine", str(aside), "--format", "csv"])
    assert kept.exit_code == 0, kept.output
    bad = pd.read_csv(aside / "bad" / "deals.csv", dtype=str)
    assert bad[["source_row", "amount"]].values.tolist() == [["5", "12x"]]
    assert "amount: not a number: '12x'" in bad["problem"][0]
    assert len(load_tables(out).deals) == 3


def test_a_sql_query_is_a_source(tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as connection:
        pd.read_csv(pd.io.common.StringIO(LOG), dtype=str).to_sql("sales", connection)
    text = MAPPING.replace(
        "log: {file: log.csv}",
        "log: {query: 'SELECT partner_id, occurred_at, amount, "
        "customer_id FROM sales WHERE amount > 0'}",
    )
    mapping, _ = write(tmp_path, text)
    result = import_source(mapping, f"sqlite:///{db}")
    assert result.report.ok, result.report.problems
    assert result.report.tables is not None and len(result.report.tables.deals) == 3


def test_one_file_or_a_csv_url_feeds_a_one_source_mapping(tmp_path: Path) -> None:
    (tmp_path / "anything.csv").write_text(LOG, encoding="utf-8")
    for source in (tmp_path / "anything.csv", (tmp_path / "anything.csv").as_uri()):
        result = import_source("transactions", str(source))
        assert result.report.ok and result.report.tables is not None
        assert sorted(result.report.tables.partners["partner_id"]) == ["P1", "P2"]


def test_a_many_source_mapping_needs_a_directory(tmp_path: Path) -> None:
    (tmp_path / "Account.csv").write_text("Id\n1\n", encoding="utf-8")
    with pytest.raises(MappingError, match="reads 6 sources"):
        import_source("salesforce-prm", tmp_path / "Account.csv")


def test_missing_source_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(MappingError) as exc:
        import_source("salesforce-prm", tmp_path)
    messages = [p.message for p in exc.value.problems]
    assert messages == [
        f"no Account.csv or Accounts.csv in {tmp_path} for source Account",
        f"no Opportunity.csv or Opportunities.csv in {tmp_path} for source Opportunity",
    ]


def test_simulate_salesforce_then_import(env: Path) -> None:
    export, out = env / "export", env / "imported"
    made = runner.invoke(
        app,
        ["simulate", "--partners", "40", "--years", "0.5", "--format", "salesforce",
         "--end", "2026-11-23", "--out", str(export)],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert sorted(p.name for p in export.iterdir()) == [
        "Account.csv", "Certification__c.csv", "Event.csv", "Lead.csv", "Opportunity.csv",
        "Task.csv",
    ]  # fmt: skip
    args = ["import", "--mapping", "salesforce-prm", "--source", str(export), "--out", str(out)]
    imported = runner.invoke(app, args)
    assert imported.exit_code == 0, imported.output
    assert len(load_tables(out).partners) == 40


@pytest.mark.slow
def test_transaction_log_imports_validates_trains_and_plans_the_week(
    env: Path, tables: Tables
) -> None:
    log, data = env / "log.csv", env / "data"
    transaction_log(tables).to_csv(log, index=False)
    steps = [
        ["import", "--mapping", "transactions", "--source", str(log), "--out", str(data)],
        ["validate", str(data)],
        # a tiny log: the models may fall below the promotion floor; --force promotes anyway
        # (the floor itself is tested in tests/training)
        ["train", "--data", str(data), "--force"],
        ["weekly", "--data", str(data), "--week", "2026-W48"],
    ]
    for step in steps:
        result = runner.invoke(app, step)
        assert result.exit_code == 0, (step, result.output)
    partners = load_tables(data).partners
    assert set(partners["partner_type"]) == {"reseller"}
    assert partners[["company_size", "market_share", "recruited_via"]].isna().all().all()
    assert (data / "digest" / "2026-W48").is_dir()


def test_quarantine_cannot_import_a_program_without_good_partners(env: Path) -> None:
    mapping, source = write(
        env, MAPPING.replace("partner_type: {const: VAR}", "partner_type: amount")
    )
    args = ["import", "--mapping", str(mapping), "--source", str(source), "--out", str(env / "o")]
    result = runner.invoke(app, [*args, "--quarantine", str(env / "q")])
    assert result.exit_code == 1
    assert "no good rows in partners, deals" in result.output
    assert not (env / "o").exists()
    assert len(pd.read_csv(env / "q" / "bad" / "partners.csv")) == 2
