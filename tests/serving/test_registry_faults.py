"""Registry faults: a slow start-up, a failed reload, a SQLite registry renamed or deleted."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from serving.service_state import Loaded, ServiceState, load_from_settings
from tests.serving.conftest import MakeClient, headers
from tierwise.errors import ModelError
from tierwise.settings import Settings


def test_healthz_answers_at_once_while_the_registry_is_slow(
    make_client: MakeClient, settings: Settings, loaded: Loaded
) -> None:
    release = threading.Event()

    def slow_loader(_: Settings) -> Loaded:
        release.wait(30)  # an unreachable tracking server, retrying
        return loaded

    state = ServiceState(settings, loader=slow_loader)
    c = make_client(state=state, settle=False)
    try:
        assert c.get("/healthz").status_code == 200
        r = c.get("/readyz")
        assert r.status_code == 503
        assert "loading" in r.json()["detail"]
    finally:
        release.set()
    assert state.settled.wait(30)
    assert c.get("/readyz").status_code == 200


def test_readyz_reports_a_failed_reload(make_client: MakeClient, settings: Settings) -> None:
    def broken(_: Settings) -> Loaded:
        raise ModelError("model tierwise-churn@champion not found")

    state = ServiceState(settings, loader=load_from_settings)
    c = make_client(state=state)
    assert c.get("/readyz").json()["detail"] is None
    state.loader = broken
    assert c.post("/v1/admin/reload", headers=headers("admin")).status_code == 503
    r = c.get("/readyz")
    assert r.status_code == 200  # the previous set still serves...
    assert "last reload failed" in r.json()["detail"]  # ...and says it is stale
    assert "tierwise-churn@champion" in r.json()["detail"]


@pytest.fixture
def own_registry(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A copy of the trained SQLite registry that the test may rename and delete."""
    shutil.copy(settings.data_dir / "mlflow.db", tmp_path / "mlflow.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return settings


def test_a_renamed_sqlite_registry_fails_the_reload(
    make_client: MakeClient, own_registry: Settings, tmp_path: Path
) -> None:
    c = make_client(state=ServiceState(own_registry))
    assert c.get("/readyz").status_code == 200
    (tmp_path / "mlflow.db").rename(tmp_path / "moved.db")
    r = c.post("/v1/admin/reload", headers=headers("admin"))
    assert r.status_code == 503
    assert "does not exist" in r.json()["detail"]
    assert not (tmp_path / "mlflow.db").exists()  # no empty registry created in its place
    assert "last reload failed" in c.get("/readyz").json()["detail"]
    (tmp_path / "moved.db").rename(tmp_path / "mlflow.db")
    assert c.post("/v1/admin/reload", headers=headers("admin")).status_code == 200
    assert c.get("/readyz").json()["detail"] is None


def test_a_deleted_then_restored_sqlite_registry_reloads_again(
    make_client: MakeClient, own_registry: Settings, tmp_path: Path
) -> None:
    c = make_client(state=ServiceState(own_registry))
    backup = tmp_path / "backup.db"
    shutil.copy(tmp_path / "mlflow.db", backup)
    (tmp_path / "mlflow.db").unlink()
    assert c.post("/v1/admin/reload", headers=headers("admin")).status_code == 503
    shutil.copy(backup, tmp_path / "mlflow.db")
    r = c.post("/v1/admin/reload", headers=headers("admin"))
    assert r.status_code == 200, r.text
