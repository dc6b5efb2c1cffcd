"""`mlflow run . -e train --env-manager local` trains and registers through the MLproject."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
import yaml

from features.io import write_tables

from .program import make_program

ROOT = Path(__file__).resolve().parents[2]


def test_mlproject_declares_every_entry_point() -> None:
    spec = yaml.safe_load((ROOT / "MLproject").read_text(encoding="utf-8"))
    assert set(spec["entry_points"]) == {
        "simulate",
        "features",
        "train",
        "train_propensity",
        "evaluate",
        "weekly",
    }
    assert (ROOT / spec["python_env"]).is_file()


@pytest.mark.slow
def test_mlflow_run_train_registers_a_champion(tmp_path: Path) -> None:
    tables, _ = make_program(partners=300, seed=4)
    write_tables(tables, tmp_path / "data")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PATH": "/usr/bin:/bin"}
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    done = subprocess.run(
        [
            str(mlflow_bin),
            "run",
            ".",
            "-e",
            "train",
            "--env-manager",
            "local",
            "-P",
            f"data={tmp_path / 'data'}",
            "-P",
            "model=deal",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    client = mlflow.MlflowClient(uri, uri)
    assert client.get_model_version_by_alias("tierwise-deal-acceptance", "champion")
