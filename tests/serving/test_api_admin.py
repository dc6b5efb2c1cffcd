"""Health, readiness, metrics, rules/models, reload (atomic, failure keeps the old), OpenAPI."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from serving.service_state import Loaded, ServiceState, load_from_settings
from tests.serving.conftest import MakeClient, headers, score_body
from tierwise.errors import ModelError
from tierwise.settings import Settings

Frame = tuple[pd.DataFrame, datetime]


def test_healthz_needs_no_key(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_lists_loaded_versions(client: TestClient, loaded: Loaded) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200
    versions = r.json()["versions"]
    assert versions["rulebook_hash"] == loaded.rulebook.content_hash
    assert versions["tierwise-churn"] == str(loaded.models.churn.version)


def test_rules_and_models_describe_what_is_loaded(client: TestClient, loaded: Loaded) -> None:
    rules = client.get("/v1/rules", headers=headers("manager")).json()
    assert rules["content_hash"] == loaded.rulebook.content_hash
    assert [a["id"] for a in rules["actions"]] == [a.id for a in loaded.rulebook.actions]
    assert rules["max_actions_per_partner"] == loaded.rulebook.max_actions_per_partner
    registrations = loaded.rulebook.registrations
    assert registrations is not None
    assert rules["registrations"]["expiry_days"] == registrations.expiry_days
    assert rules["registrations"]["deal_kinds"]["renewal"] == "never"
    models = client.get("/v1/models", headers=headers("scorer")).json()["models"]
    assert [m["name"] for m in models] == ["tierwise-churn", "tierwise-deal-acceptance"]
    assert models[0]["features"] == loaded.models.churn.features


@pytest.mark.parametrize("who", ["scorer", "manager"])
def test_models_hide_the_tracking_uri_from_non_admins(client: TestClient, who: str) -> None:
    body = client.get("/v1/models", headers=headers(who)).json()
    assert body.get("tracking_uri") is None


def test_admins_see_the_tracking_uri_without_credentials() -> None:
    from serving.routes.admin import redact_uri

    assert redact_uri("https://bob:pw@mlflow.example:5000/x?token=t") == (
        "https://mlflow.example:5000/x"
    )
    assert redact_uri("sqlite:////data/mlflow.db") == "sqlite:////data/mlflow.db"


def test_metrics_count_requests_latency_errors_and_versions(
    client: TestClient, feature_frame: Frame
) -> None:
    client.post("/v1/score", json=score_body(*feature_frame), headers=headers("scorer"))
    client.post("/v1/score", json={}, headers=headers("scorer"))
    text = client.get("/metrics").text
    assert 'tierwise_requests_total{method="POST",route="/v1/score",status="200"}' in text
    assert 'tierwise_errors_total{route="/v1/score",status="422"}' in text
    assert 'tierwise_request_duration_seconds_bucket{le="0.005",route="/v1/score"}' in text
    assert 'tierwise_loaded_version{kind="model",name="tierwise-churn"' in text
    assert "tierwise_ready 1.0" in text


def failing_loader(settings: Settings) -> Loaded:
    raise ModelError("model tierwise-churn@champion not found")


def test_without_models_the_service_starts_not_ready_and_answers_503(
    make_client: MakeClient, feature_frame: Frame, settings: Settings
) -> None:
    c = make_client(state=ServiceState(settings, loader=failing_loader))
    assert c.get("/healthz").status_code == 200
    r = c.get("/readyz")
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert "tierwise-churn@champion" in r.json()["detail"]
    r = c.post("/v1/score", json=score_body(*feature_frame), headers=headers("scorer"))
    assert r.status_code == 503
    assert "tierwise_ready 0.0" in c.get("/metrics").text


def test_an_empty_registry_starts_not_ready(make_client: MakeClient, tmp_path: Path) -> None:
    c = make_client(preload=False, data_dir=tmp_path)
    assert c.get("/readyz").status_code == 503


def test_the_service_loads_champions_from_the_registry_at_start(
    make_client: MakeClient, loaded: Loaded
) -> None:
    c = make_client(preload=False)
    r = c.get("/readyz")
    assert r.status_code == 200
    assert r.json()["versions"]["tierwise-churn"] == str(loaded.models.churn.version)


def test_reload_is_admin_only(client: TestClient) -> None:
    assert client.post("/v1/admin/reload").status_code == 401
    assert client.post("/v1/admin/reload", headers=headers("scorer")).status_code == 403
    assert client.post("/v1/admin/reload", headers=headers("manager")).status_code == 403


def test_reload_swaps_rulebook_and_models(
    make_client: MakeClient, settings: Settings, loaded: Loaded, tmp_path: Path
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    for f in settings.rules_dir.glob("*.yaml"):
        text = f.read_text()
        (rules / f.name).write_text(text.replace('version: "', 'version: "reloaded-', 1))
    state = ServiceState(settings.model_copy(update={"rules_dir": rules}))
    state.current = loaded
    c = make_client(state=state)
    r = c.post("/v1/admin/reload", headers=headers("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["versions"]["rulebook"].startswith("reloaded-")
    assert state.current is not loaded
    assert c.get("/v1/rules", headers=headers("admin")).json()["version"].startswith("reloaded-")


def test_a_failed_reload_keeps_serving_the_previous_set(
    make_client: MakeClient,
    settings: Settings,
    loaded: Loaded,
    feature_frame: Frame,
    tmp_path: Path,
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "rulebook.yaml").write_text("version: 1\ntracks: [oops\n")
    state = ServiceState(settings.model_copy(update={"rules_dir": broken}))
    state.current = loaded
    c = make_client(state=state)
    r = c.post("/v1/admin/reload", headers=headers("admin"))
    assert r.status_code == 422
    assert r.json()["title"] == "Invalid rulebook"
    assert state.current is loaded
    ok = c.post("/v1/score", json=score_body(*feature_frame), headers=headers("scorer"))
    assert ok.status_code == 200
    assert 'tierwise_reloads_total{result="failed"} 1.0' in c.get("/metrics").text


def test_reload_if_changed_only_reloads_when_something_moved(
    settings: Settings, loaded: Loaded
) -> None:
    calls: list[Any] = []

    def loader(s: Settings) -> Loaded:
        calls.append(s)
        return load_from_settings(s)

    state = ServiceState(settings, loader=loader)
    assert state.reload_if_changed() is True  # nothing loaded yet
    assert state.reload_if_changed() is False  # same rulebook, same aliases
    assert len(calls) == 1
    state.fingerprint = lambda s: ("other-hash", "1", "1", "")
    assert state.reload_if_changed() is True
    assert len(calls) == 2


def test_a_new_propensity_table_is_picked_up_by_the_periodic_check(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`tierwise train --model propensity` registers a new table: the running service's
    periodic check sees the alias move and reloads, as it does for the churn model."""
    import shutil

    import mlflow

    from tests.training.test_propensity import PRIORS, hand_examples
    from training.propensity import fit_propensity
    from training.propensity_registry import log_propensity

    copy = tmp_path / "served"  # the shared store stays without a propensity table
    shutil.copytree(settings.data_dir, copy)
    mine = settings.model_copy(update={"data_dir": copy})
    state = ServiceState(mine)
    assert state.reload_if_changed() is True
    assert state.current is not None and state.current.models.propensity is None
    assert state.reload_if_changed() is False
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.setenv(name, "")  # recorded, so what set_*_uri writes is undone
        monkeypatch.delenv(name)
    mlflow.set_tracking_uri(mine.mlflow_tracking_uri)
    mlflow.set_registry_uri(mine.mlflow_tracking_uri)
    try:
        experiment = mlflow.create_experiment("p", artifact_location=(tmp_path / "a").as_uri())
        with mlflow.start_run(experiment_id=experiment):
            version = log_propensity(fit_propensity(hand_examples(), PRIORS), PRIORS)
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
        mlflow.set_registry_uri(None)  # type: ignore[arg-type]
    assert state.reload_if_changed() is True
    learned = state.current.models.propensity
    assert learned is not None and learned.version == version
    assert state.reload_if_changed() is False


def test_a_failing_registry_check_keeps_the_loaded_models(
    settings: Settings, loaded: Loaded
) -> None:
    def down(s: Settings) -> tuple[str, str, str, str]:
        raise ConnectionError("tracking server down")

    state = ServiceState(settings, fingerprint=down)
    state.current = loaded
    assert state.reload_if_changed() is False
    assert state.current is loaded


def test_openapi_has_examples_and_docs_for_every_endpoint(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    own = [
        p
        for p in spec["paths"]
        if not p.startswith(("/v1/plans", "/v1/actions", "/review", "/static", "/login", "/logout"))
    ]
    assert {
        "/v1/score",
        "/v1/score/batch",
        "/v1/partners/{partner_id}/score",
        "/v1/deal-registrations/score",
        "/v1/rules",
        "/v1/models",
        "/healthz",
        "/readyz",
        "/metrics",
        "/v1/admin/reload",
    } <= set(own)
    for path in own:
        for method, op in spec["paths"][path].items():
            assert op.get("summary") and op.get("description"), (path, method)
            status, answer = next((s, r) for s, r in op["responses"].items() if s[0] == "2")
            if status == "204":
                continue
            ok = answer["content"]
            assert any("example" in c or "examples" in c for c in ok.values()), (path, method)
    schemas = spec["components"]["schemas"]
    assert schemas["ScoreRequest"]["examples"]
    assert schemas["PartnerFeatures"]["examples"]


def test_the_score_request_example_is_itself_valid(client: TestClient) -> None:
    from serving.schemas import EXAMPLE_SCORE_REQUEST

    r = client.post("/v1/score", json=EXAMPLE_SCORE_REQUEST, headers=headers("scorer"))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("path", ["/v1/score", "/v1/score/batch", "/v1/deal-registrations/score"])
def test_request_examples_exist_for_post_bodies(client: TestClient, path: str) -> None:
    spec = client.get("/openapi.json").json()
    ref = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    name = ref["$ref"].rsplit("/", 1)[-1]
    assert spec["components"]["schemas"][name]["examples"]


@pytest.mark.parametrize("secret", ["", "change-me-in-production", "short"])
def test_the_service_refuses_to_start_with_a_weak_session_secret(
    settings: Settings, secret: str
) -> None:
    from serving.app import create_app
    from tierwise.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="TIERWISE_SESSION_SECRET"):
        create_app(settings.model_copy(update={"session_secret": secret}))


def test_tierwise_serve_refuses_a_missing_session_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from tierwise.settings import get_settings
    from tierwise.shell.cli import app as cli

    monkeypatch.delenv("TIERWISE_SESSION_SECRET", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["serve", "--data", str(tmp_path)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "TIERWISE_SESSION_SECRET" in result.output
