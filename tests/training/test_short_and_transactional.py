"""The full simulator at the edges a real program brings: six months of history, and a
transaction-only log (partners + deals) — trained for real, into a real MLflow store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import mlflow
import pytest

from simulation.program import simulate, write_simulation
from simulation.transactions import transactions_only
from tierwise.settings import Settings
from training.evaluation import Evaluation
from training.train import fit_model, train_all

pytestmark = pytest.mark.slow
END = datetime(2026, 11, 23, tzinfo=UTC)


def test_six_months_of_a_small_program_train_register_and_promote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    write_simulation(simulate(partners=600, years=0.5, seed=5, end=END), tmp_path)
    settings = Settings(data_dir=tmp_path)
    done = train_all(tmp_path, settings=settings, make_plots=False, oracle_paths=16)
    churn = done["churn"]
    assert churn.fitted.boundaries.mode == "partner holdout"
    assert churn.fitted.boundaries.cadence == "weekly"
    assert churn.decision is not None and churn.version is not None
    client = mlflow.MlflowClient(settings.mlflow_tracking_uri)
    run = client.get_run(churn.run_id or "")
    assert "partner holdout split" in run.data.params["split"]
    assert {"test_roc_auc_all", "test_ece_all", "test_roc_auc_active"} <= set(run.data.metrics)
    assert done["deal"].fitted.counts["train"] > 0


@pytest.fixture(scope="module")
def transactional() -> Evaluation:
    sim = transactions_only(simulate(partners=1000, years=2, seed=7, end=END))
    assert sim.tables.present() == {"partners", "deals"}
    _, evaluation = fit_model(
        "churn", sim.tables, horizon_days=90, truth=sim.truth, refit_all=False
    )
    return evaluation


@pytest.mark.parametrize("segment", ["all", "active", "lapsed"])
def test_churn_model_beats_recency_and_bgnbd_on_a_transaction_log(
    transactional: Evaluation, segment: str
) -> None:
    s = transactional.segments
    model = s[f"test_roc_auc_{segment}"]
    assert model >= s[f"bgnbd_roc_auc_{segment}"]
    assert model > s[f"recency_roc_auc_{segment}"]


def test_no_churn_oracle_on_a_transaction_log(transactional: Evaluation) -> None:
    # the simulator's churn truth counts activities the tables no longer show
    assert "oracle" not in transactional.metrics
