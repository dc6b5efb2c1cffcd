from __future__ import annotations

import dataclasses

import pytest

from features import registry
from features.schema import SCHEMAS


def test_names_are_unique_and_keyed_by_name() -> None:
    assert all(name == f.name for name, f in registry.FEATURES.items())
    assert len(registry.names()) == len(set(registry.names()))


def test_kinds_and_tables_are_known() -> None:
    for f in registry.FEATURES.values():
        assert f.kind in ("number", "category", "boolean"), f.name
        assert f.table in SCHEMAS, f.name
        assert f.description, f.name


def test_key_columns_are_not_features() -> None:
    assert not set(registry.KEY_COLUMNS) & set(registry.FEATURES)


@pytest.mark.parametrize(
    "stem",
    [
        "deals_registered",
        "acceptance_rate",
        "win_rate",
        "leads_registered",
        "cert_passes",
        "manager_contacts",
    ],
)
def test_windowed_features_exist_for_every_window(stem: str) -> None:
    for window in registry.WINDOWS:
        assert registry.get(f"{stem}_{window}d") is not None


def test_get_and_names_by_kind() -> None:
    assert registry.get("tenure_days") == registry.FEATURES["tenure_days"]
    assert registry.get("no_such_feature") is None
    assert set(registry.names("boolean")) == {"onboarded", "exited"}
    assert "partner_type" in registry.names("category")


def test_closest_suggests_a_near_name() -> None:
    assert registry.closest("win_rate_90") == "win_rate_90d"
    assert registry.closest("zzzzzz") is None


def test_version_is_stable_and_tracks_definitions(monkeypatch: pytest.MonkeyPatch) -> None:
    version = registry.registry_version()
    assert version == registry.registry_version() and len(version) == 12
    changed = dict(registry.FEATURES)
    changed["tenure_days"] = dataclasses.replace(changed["tenure_days"], unit="weeks")
    monkeypatch.setattr(registry, "FEATURES", changed)
    assert registry.registry_version() != version
