"""API keys: hashed configuration, constant-time lookup, roles, ownership, the keys command."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from serving.auth import Principal, authenticate_key, ensure_owner, hash_key, new_key
from tests.serving.conftest import headers
from tierwise.errors import Forbidden, InvalidInput
from tierwise.settings import ApiKey, Settings
from tierwise.shell.cli import app as cli


def settings_with(*entries: tuple[str, str, str | None]) -> Settings:
    keys = [
        ApiKey(key_sha256=hash_key(k), role=r, manager_id=m, name=f"{r}-key") for k, r, m in entries
    ]
    return Settings(api_keys=keys)


def test_a_configured_key_authenticates_as_its_role() -> None:
    settings = settings_with(("s3cret", "scorer", None), ("m-key", "manager", "M001"))
    assert authenticate_key("m-key", settings) == Principal("manager", "M001", "manager-key")
    assert authenticate_key("s3cret", settings) == Principal("scorer", None, "scorer-key")


@pytest.mark.parametrize("key", [None, "", "s3cre", "s3cret ", hash_key("s3cret")])
def test_an_unknown_key_authenticates_nobody(key: str | None) -> None:
    assert authenticate_key(key, settings_with(("s3cret", "scorer", None))) is None


def test_keys_from_the_environment_are_json(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = {"key_sha256": hash_key("k1"), "role": "admin", "name": "ops"}
    monkeypatch.setenv("TIERWISE_API_KEYS", json.dumps([entry]))
    assert authenticate_key("k1", Settings()) == Principal("admin", None, "ops")


def test_a_manager_may_only_see_own_partners() -> None:
    manager = Principal("manager", "M001")
    ensure_owner(manager, "P1", "M001")
    with pytest.raises(Forbidden, match="P2"):
        ensure_owner(manager, "P2", "M002")
    with pytest.raises(Forbidden):
        ensure_owner(manager, "P3", None)
    ensure_owner(Principal("admin"), "P2", "M002")
    ensure_owner(Principal("scorer"), "P2", "M002")


def test_new_key_returns_a_key_whose_hash_is_the_entry() -> None:
    key, entry = new_key("manager", "M007", "alice")
    assert entry == {
        "key_sha256": hash_key(key),
        "role": "manager",
        "name": "alice",
        "manager_id": "M007",
    }
    settings = Settings(api_keys=[ApiKey.model_validate(entry)])
    assert authenticate_key(key, settings) == Principal("manager", "M007", "alice")
    assert new_key("scorer")[0] != new_key("scorer")[0]


@pytest.mark.parametrize(
    ("role", "manager_id"), [("owner", None), ("manager", None), ("scorer", "M1")]
)
def test_new_key_refuses_bad_role_or_binding(role: str, manager_id: str | None) -> None:
    with pytest.raises(InvalidInput):
        new_key(role, manager_id)


def test_keys_new_command_prints_key_and_settings_entry() -> None:
    result = CliRunner().invoke(cli, ["keys", "new", "--role", "manager", "--manager-id", "M3"])
    assert result.exit_code == 0, result.output
    key = result.output.split("key: ", 1)[1].split()[0]
    entry = json.loads(result.output.split("settings entry: ", 1)[1].splitlines()[0])
    assert entry["key_sha256"] == hash_key(key)
    assert entry["manager_id"] == "M3"


def test_keys_new_command_fails_on_a_bad_role() -> None:
    result = CliRunner().invoke(cli, ["keys", "new", "--role", "boss"])
    assert result.exit_code == 2
    assert "boss" in result.output


# --- over HTTP ---------------------------------------------------------------------------


def test_no_key_or_a_bad_key_is_401_problem_json(client: TestClient) -> None:
    for extra in (
        {},
        {"X-API-Key": "nope"},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic c2NvcmVyLWtleQ=="},
    ):
        r = client.get("/v1/rules", headers=extra)
        assert r.status_code == 401, extra
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["www-authenticate"] == "Bearer"


def test_bearer_and_x_api_key_both_work(client: TestClient) -> None:
    assert (
        client.get("/v1/rules", headers={"Authorization": "Bearer scorer-key"}).status_code == 200
    )
    assert client.get("/v1/rules", headers=headers("scorer")).status_code == 200


def test_roles_are_enforced_per_endpoint(client: TestClient) -> None:
    assert client.post("/v1/admin/reload", headers=headers("scorer")).status_code == 403
    assert client.post("/v1/score", json={}, headers=headers("manager")).status_code == 403
    r = client.post("/v1/score", json={}, headers=headers("scorer"))
    assert r.status_code == 422  # past auth, stopped by validation


def test_another_scheme_is_refused_even_with_a_valid_x_api_key(client: TestClient) -> None:
    r = client.get("/v1/rules", headers={"Authorization": "Basic junk", **headers("scorer")})
    assert r.status_code == 401
    assert "Basic" in r.json()["detail"]


def test_two_different_keys_are_refused(client: TestClient) -> None:
    both = {"Authorization": "Bearer admin-key", **headers("scorer")}
    assert client.get("/v1/rules", headers=both).status_code == 401


@pytest.mark.parametrize("padded", ["scorer-key ", " scorer-key", "scorer-key\t"])
def test_whitespace_around_a_key_is_treated_alike_in_both_headers(
    client: TestClient, padded: str
) -> None:
    bearer = client.get("/v1/rules", headers={"Authorization": f"Bearer {padded}"})
    x_key = client.get("/v1/rules", headers={"X-API-Key": padded})
    assert bearer.status_code == x_key.status_code == 200
