from pathlib import Path

import pytest

from tierwise.settings import Settings


def test_defaults_are_embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    s = Settings(data_dir=tmp_path)
    assert s.db_url == f"sqlite:///{tmp_path.resolve() / 'tierwise.db'}"
    assert s.mlflow_tracking_uri == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"


def test_env_prefix_sets_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERWISE_DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("TIERWISE_MANAGER_CAPACITY", "3")
    s = Settings()
    assert s.db_url == "postgresql+psycopg://u@h/db"
    assert s.manager_capacity == 3


def test_mlflow_own_variable_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    assert Settings().mlflow_tracking_uri == "http://mlflow:5000"


def test_bad_value_is_rejected_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERWISE_MANAGER_CAPACITY", "zero")
    with pytest.raises(ValueError, match="manager_capacity"):
        Settings()
