"""Stored registrations and reported decisions from the service database change the deal
model's training set: decisions become labels, decided registrations the data lacks become
rows; nothing else moves."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from features.tables import Tables
from serving.db import DealDecision, ScoredRegistration, get_engine, session_scope, upgrade
from tests.serving._db import BACKENDS, database_url
from tierwise.errors import InvalidInput
from training.examples import deal_examples
from training.stored_registrations import STORED_COLUMNS, load_stored, with_stored_decisions

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def _registration(
    deal_id: str, partner_id: str, customer_id: str, at: datetime
) -> ScoredRegistration:
    return ScoredRegistration(
        deal_id=deal_id,
        partner_id=partner_id,
        customer_id=customer_id,
        registered_at=at,
        eligible=True,
        refusals=[],
        acceptance_likelihood=0.5,
        routing="review",
        rulebook_version="t",
        rulebook_hash="h",
        model_version="1",
        deal={"amount": 30_000.0, "product": "core", "deal_kind": "new"},
        answer={},
        times_scored=1,
        first_scored_at=at,
        scored_at=at,
    )


def _decision(deal_id: str, decision: str, at: datetime) -> DealDecision:
    return DealDecision(deal_id=deal_id, decision=decision, decided_at=at, reported_by="prm")


def _store(url: str, tables: Tables) -> dict[str, str]:
    """A service database: decisions on a pending deal, on an accepted one (rejected now), on
    a registration the data lacks, and on one never scored."""
    d = tables.deals
    pending = d[(d["status"] == "submitted") & d["partner_id"].notna()].iloc[0]
    accepted = d[(d["status"] == "accepted") & d["partner_id"].notna()].iloc[0]
    partner = str(accepted["partner_id"])
    engine = get_engine(url)
    upgrade(engine)
    at = NOW - timedelta(days=200)
    with session_scope(engine) as s:
        s.add(_registration("NEW-1", partner, "C-NEW", at))
        s.add(_decision("NEW-1", "rejected", at + timedelta(days=2)))
        s.add(_decision(str(pending["deal_id"]), "accepted", NOW - timedelta(days=1)))
        s.add(_decision(str(accepted["deal_id"]), "rejected", NOW - timedelta(days=1)))
        s.add(_decision("GHOST", "accepted", NOW))
    return {"pending": str(pending["deal_id"]), "accepted": str(accepted["deal_id"])}


@pytest.mark.parametrize("backend", BACKENDS)
def test_stored_decisions_change_the_deal_training_set(
    backend: str, tables: Tables, tmp_path: Path
) -> None:
    with database_url(backend, tmp_path) as url:
        ids = _store(url, tables)
        stored = load_stored(url)
    assert sorted(stored["deal_id"]) == sorted(["NEW-1", "GHOST", *ids.values()])
    joined = with_stored_decisions(tables.deals, stored)
    assert (joined.relabelled, joined.appended, joined.skipped) == (2, 1, 1)
    before = deal_examples(tables).frame.set_index("deal_id")["accepted"]
    after = deal_examples(replace(tables, deals=joined.deals)).frame.set_index("deal_id")[
        "accepted"
    ]
    assert ids["pending"] not in before.index and after[ids["pending"]] == 1
    assert before[ids["accepted"]] == 1 and after[ids["accepted"]] == 0
    assert "NEW-1" not in before.index and after["NEW-1"] == 0
    assert len(after) == len(before) + 2
    same = before.index.difference([ids["accepted"]])
    assert after[same].equals(before[same])  # nothing else moved
    assert len(tables.deals) == len(joined.deals) - 1  # the input is left as it was


def test_no_decisions_leave_the_deals_as_they_are(tables: Tables) -> None:
    empty = pd.DataFrame(columns=list(STORED_COLUMNS))
    joined = with_stored_decisions(tables.deals, empty)
    assert joined.deals.equals(tables.deals) and joined.params() == {
        "stored_relabelled": 0,
        "stored_appended": 0,
        "stored_skipped": 0,
    }


def test_a_database_without_the_service_tables_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'other.db'}"
    get_engine(url).connect().close()
    with pytest.raises(InvalidInput, match="deal_decisions, deal_registrations"):
        load_stored(url)


@pytest.mark.slow
def test_tierwise_train_takes_the_registrations_db(
    sim_dir: Path, tables: Tables, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    import mlflow
    from typer.testing import CliRunner

    from tierwise import settings
    from tierwise.shell.cli import app

    data = tmp_path / "data"
    shutil.copytree(sim_dir, data)
    url = f"sqlite:///{tmp_path / 'service.db'}"
    _store(url, tables)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("TIERWISE_DATA_DIR", str(data))
    settings.get_settings.cache_clear()
    try:
        args = ["train", "--data", str(data), "--model", "deal", "--registrations-db", url]
        result = CliRunner().invoke(app, args)
    finally:
        settings.get_settings.cache_clear()
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
        monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    assert result.exit_code == 0, result.output
    uri = f"sqlite:///{data / 'mlflow.db'}"
    runs = mlflow.MlflowClient(uri).search_runs(
        [e.experiment_id for e in mlflow.MlflowClient(uri).search_experiments()],
        filter_string="params.stored_appended = '1'",
    )
    assert len(runs) == 1
    assert runs[0].data.params["stored_relabelled"] == "2"
