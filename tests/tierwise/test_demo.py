"""`make demo` end to end on a tiny program (everything real: files, MLflow, SQLite)."""

import json
import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from tierwise.shell import demo


@pytest.mark.slow
def test_demo_runs_the_main_job_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("TIERWISE_API_KEYS", raising=False)
    monkeypatch.delenv("TIERWISE_DATA_DIR", raising=False)
    monkeypatch.delenv("TIERWISE_SESSION_SECRET", raising=False)
    data = tmp_path / "data"
    demo.main(["--data", str(data), "--partners", "250", "--seed", "3", "--no-serve"])

    assert (data / "partners.parquet").exists()
    assert (data / "_truth").is_dir()
    assert (data / "out" / "kpis.html").read_text().lower().startswith("<!doctype html>")
    keys = json.loads((data / "demo-keys.json").read_text())
    assert set(keys) == {"scorer", "manager", "admin", "manager_id", "session_secret"}
    assert os.environ["TIERWISE_SESSION_SECRET"] == keys["session_secret"]  # the demo's own
    engine = sa.create_engine(f"sqlite:///{data / 'tierwise.db'}")
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    assert "alembic_version" in tables
    assert any((data / "digest").rglob("*.csv"))
    mlflow_db = sa.create_engine(f"sqlite:///{data / 'mlflow.db'}")
    with mlflow_db.connect() as conn:
        aliases = conn.execute(sa.text("select name, alias from registered_model_aliases")).all()
    assert {("tierwise-churn", "champion"), ("tierwise-deal-acceptance", "champion")} <= set(
        aliases
    )
