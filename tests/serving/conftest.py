"""Serving fixtures: a small simulated program with REAL models trained once per session.

`served_dir` is a data directory holding the program's tables and an MLflow SQLite store
where `tierwise-churn` and `tierwise-deal-acceptance` have a `champion`; `loaded` is the
rulebook + models the service would load from it; `make_client` builds TestClients with
chosen keys and settings. Everything real: simulator, feature builder, trainer, registry.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from serving.auth import hash_key
from serving.service_state import Loaded, ServiceState, load_from_settings
from tierwise.settings import ApiKey, Settings

END = datetime(2026, 11, 23, tzinfo=UTC)
SESSION_SECRET = "tests-only-session-secret-0123456789"
KEYS = {
    "scorer": ("scorer-key", "scorer", None),
    "admin": ("admin-key", "admin", None),
    "manager": ("manager-key", "manager", None),  # manager_id filled from the data
    "other_manager": ("other-manager-key", "manager", "M-NOBODY"),
}


@pytest.fixture(scope="session")
def program_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared simulated program (`sim_dir`), or one simulated here if it is absent."""
    try:
        source = Path(request.getfixturevalue("sim_dir"))
    except pytest.FixtureLookupError:
        from simulation.program import simulate, write_simulation

        source = tmp_path_factory.mktemp("sim")
        write_simulation(simulate(partners=300, years=2.0, seed=11, end=END), source)
    return source


@pytest.fixture(scope="session")
def served_dir(program_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data dir: the program's tables + an MLflow store with both champions (trained once)."""
    from training.train import train_all

    data = tmp_path_factory.mktemp("served")
    for item in program_dir.iterdir():
        if item.is_file():
            shutil.copy(item, data / item.name)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        train_all(data, settings=Settings(data_dir=data), make_plots=False)
        # training points MLflow's process-wide URIs (and their env vars) at this store
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.delenv("MLFLOW_REGISTRY_URI", raising=False)
        yield data


@pytest.fixture(scope="session")
def base_settings(served_dir: Path, stored_snapshots: str) -> Settings:
    return Settings(
        data_dir=served_dir,
        database_url=stored_snapshots,
        reload_interval_s=0,
        session_secret=SESSION_SECRET,
        webhook_interval_s=0,
    )


@pytest.fixture(scope="session")
def stored_snapshots(served_dir: Path, feature_frame: tuple[pd.DataFrame, datetime]) -> str:
    """The service database of `served_dir` holding every partner and its feature snapshot
    as of the program's end (what a weekly run stores): known partners are scored from it."""
    from features.io import load_tables
    from serving.db import get_engine, session_scope, upgrade
    from serving.db.week import save_partners, save_snapshot
    from serving.weeks import week_of

    frame, as_of = feature_frame
    url = f"sqlite:///{served_dir / 'tierwise.db'}"
    engine = get_engine(url)
    upgrade(engine)
    partners = load_tables(served_dir).partners
    columns = ["partner_id", "name", "partner_type", "region", "manager_id"]
    with session_scope(engine) as session:
        save_partners(session, partners[columns], now=as_of)
        save_snapshot(session, frame, week=week_of(as_of), as_of=as_of)
    return url


@pytest.fixture(scope="session")
def loaded(base_settings: Settings) -> Loaded:
    return load_from_settings(base_settings)


@pytest.fixture(scope="session")
def feature_frame(served_dir: Path) -> tuple[pd.DataFrame, datetime]:
    """The program's feature frame as of its end (what the service computes as fallback)."""
    from features.io import load_tables
    from features.snapshot import build_features
    from serving.snapshots import data_end

    tables = load_tables(served_dir)
    as_of = data_end(tables)
    return build_features(tables, as_of=as_of), as_of


@pytest.fixture(scope="session")
def a_manager(feature_frame: tuple[pd.DataFrame, datetime]) -> str:
    return str(feature_frame[0]["manager_id"].iloc[0])


def key_settings(base: Settings, manager_id: str, **changes: Any) -> Settings:
    keys = []
    for key, role, mid in KEYS.values():
        bound = manager_id if (role == "manager" and mid is None) else mid
        keys.append(ApiKey(key_sha256=hash_key(key), role=role, manager_id=bound, name=role))
    return base.model_copy(update={"api_keys": keys, **changes})


@pytest.fixture(scope="session")
def settings(base_settings: Settings, a_manager: str) -> Settings:
    return key_settings(base_settings, a_manager)


def headers(who: str) -> dict[str, str]:
    return {"X-API-Key": KEYS[who][0]}


@pytest.fixture(scope="session")
def client(settings: Settings, loaded: Loaded) -> Iterator[TestClient]:
    """A client on an app already loaded with the trained models (shared: read-only use)."""
    from serving.app import create_app

    state = ServiceState(settings)
    state.current = loaded
    with TestClient(create_app(settings, state=state)) as c:
        yield c


MakeClient = Callable[..., TestClient]


@pytest.fixture
def make_client(settings: Settings, loaded: Loaded) -> Iterator[MakeClient]:
    """Fresh apps for tests that change state: `make_client(state=None, **settings_changes)`;
    `settle=False` returns before the background start-up load has ended."""
    from serving.app import create_app

    opened: list[TestClient] = []

    def make(
        state: ServiceState | None = None, preload: bool = True, settle: bool = True, **changes: Any
    ) -> TestClient:
        s = settings.model_copy(update=changes)
        if state is None:
            state = ServiceState(s)
            if preload:
                state.current = loaded
        c = TestClient(create_app(s, state=state))
        c.__enter__()
        opened.append(c)
        if settle:  # the start-up load runs in the background; wait for it to end
            assert state.settled.wait(120), "the start-up load did not end"
        return c

    yield make
    for c in opened:
        c.__exit__(None, None, None)


def score_body(frame: pd.DataFrame, as_of: datetime, row: int = 0) -> dict[str, Any]:
    """A /v1/score request body for one row of the feature frame (JSON-ready)."""
    from features import registry
    from serving.snapshots import clean_value

    record = frame.iloc[row]
    return {
        "partner_id": str(record["partner_id"]),
        "as_of": as_of.isoformat(),
        "features": {n: clean_value(record[n]) for n in registry.FEATURES},
    }
