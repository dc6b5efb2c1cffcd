"""The notebooks run top to bottom on a small simulated program with trained champions."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from simulation.program import simulate, write_simulation
from tierwise.settings import Settings
from training.train import train_all

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def program_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("notebooks") / "data"
    sim = simulate(partners=600, years=2, seed=3, end=datetime(2026, 11, 23, tzinfo=UTC))
    write_simulation(sim, data)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        train_all(data, settings=Settings(data_dir=data), make_plots=False)
    return data


@pytest.mark.parametrize(
    "name", ["1.0-explore-partner-data", "2.0-model-report", "3.0-model-segments"]
)
def test_notebook_runs_top_to_bottom(
    name: str, program_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIERWISE_DATA_DIR", str(program_dir))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in book.cells if c.cell_type == "code")
    NotebookClient(
        book, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    ).execute()
    errors = [
        o
        for c in book.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert not errors
