"""train → register → promote → load_scorer → predict, against a real SQLite MLflow store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pytest

from features.io import write_tables
from tierwise.errors import ModelError
from tierwise.settings import Settings
from training.examples import ModelKind
from training.fit import fit_examples
from training.registry import (
    CHALLENGER,
    CHAMPION,
    Floor,
    GateDecision,
    calibrated_ece,
    ensure_experiment,
    log_model,
    promote,
)
from training.scorer import load_scorer
from training.train import Trained, build_examples, load_data, train_all

from .program import make_program

pytestmark = pytest.mark.slow


@dataclass
class Store:
    data: Path
    settings: Settings
    uri: str
    first: dict[ModelKind, Trained]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    root = tmp_path_factory.mktemp("mlflow")
    tables, _ = make_program(partners=300, seed=11)
    write_tables(tables, root / "data")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        settings = Settings(data_dir=root / "data")
        first = train_all(root / "data", settings=settings, rolling="on")
        yield Store(root / "data", settings, settings.mlflow_tracking_uri, first)


def test_store_is_sqlite_in_the_data_dir_with_artifacts_beside_it(store: Store) -> None:
    assert (store.data / "mlflow.db").is_file()
    assert any((store.data / "mlartifacts").rglob("booster.txt"))


def test_first_versions_become_champion_and_challenger(store: Store) -> None:
    client = mlflow.MlflowClient(store.uri, store.uri)
    for name in ("tierwise-churn", "tierwise-deal-acceptance"):
        assert str(client.get_model_version_by_alias(name, CHAMPION).version) == "1"
        assert str(client.get_model_version_by_alias(name, CHALLENGER).version) == "1"
    assert store.first["churn"].decision is not None
    assert store.first["churn"].decision.reason == "first champion"


def test_load_scorer_predicts_what_training_evaluated(store: Store) -> None:
    fitted = store.first["deal"].fitted
    scorer = load_scorer("tierwise-deal-acceptance", tracking_uri=store.uri)
    assert scorer.version == "1" and scorer.features == fitted.registered.features
    np.testing.assert_allclose(
        scorer.predict(scorer.encode_frame(fitted.test)),
        fitted.registered.predict(fitted.registered.encode_frame(fitted.test)),
    )


def test_registered_model_is_refitted_on_all_labelled_data(store: Store) -> None:
    fitted = store.first["churn"].fitted
    assert fitted.refit is not None
    assert fitted.refit.examples == len(fitted.examples.frame) > fitted.counts["train"]
    assert fitted.refit.range[1] >= fitted.ranges["test"][1]
    client = mlflow.MlflowClient(store.uri)
    run = client.get_run(store.first["churn"].run_id or "")
    assert int(run.data.params["refit_examples"]) == fitted.refit.examples
    assert "test_roc_auc_all" in run.data.metrics and "model_roc_auc" in run.data.metrics
    tags = client.get_model_version("tierwise-churn", "1").tags
    assert tags["refit_to"] == fitted.refit.range[1] and float(tags["test_roc_auc"]) > 0.5


def test_pyfunc_and_scorer_agree(store: Store) -> None:
    fitted = store.first["churn"].fitted
    mlflow.set_tracking_uri(store.uri)
    model = mlflow.pyfunc.load_model("models:/tierwise-churn@champion")
    frame = fitted.test[fitted.scorer.inputs].head(50)
    expected = fitted.registered.predict(fitted.registered.encode_frame(frame))
    np.testing.assert_allclose(model.predict(frame)["probability"].to_numpy(), expected)


def test_run_records_metrics_plots_versions_and_date_range(store: Store) -> None:
    client = mlflow.MlflowClient(store.uri)
    run = client.get_run(store.first["churn"].run_id or "")
    assert {"model_roc_auc", "baseline_roc_auc", "model_ece"} <= set(run.data.metrics)
    assert (
        run.data.metrics["test_distinct_calibrated"] >= 0.95 * run.data.metrics["test_distinct_raw"]
    )
    assert run.data.params["feature_registry_version"]
    assert run.data.params["train_from"] < run.data.params["train_to"]
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert plots == {
        "plots/roc.png",
        "plots/calibration.png",
        "plots/importance_gain.png",
        "plots/shap_summary.png",
    }
    mv = client.get_model_version("tierwise-churn", "1")
    assert mv.tags["horizon_days"] == "90" and mv.tags["feature_registry_version"]


def worse_challenger(store: Store, *, force: bool) -> tuple[str, str]:
    """Train churn on shuffled training labels, register it, run the gate."""
    tables, _ = load_data(store.data)
    examples, bounds = build_examples("churn", tables, horizon_days=90)
    frame = examples.frame.copy()
    learn = bounds.assign(frame["as_of"], frame["partner_id"]) != "test"
    rng = np.random.default_rng(0)
    frame.loc[learn, "churned"] = rng.permutation(frame.loc[learn, "churned"].to_numpy())
    bad = fit_examples(type(examples)(**{**examples.__dict__, "frame": frame}), bounds)
    mlflow.set_tracking_uri(store.uri)
    mlflow.set_registry_uri(store.uri)
    with mlflow.start_run(experiment_id=ensure_experiment(store.uri, store.settings)):
        mv = log_model(bad, registered_name="tierwise-churn", horizon_days=90)
    promote(bad, mv, uri=store.uri, force=force)
    client = mlflow.MlflowClient(store.uri, store.uri)
    return str(mv.version), str(
        client.get_model_version_by_alias("tierwise-churn", CHAMPION).version
    )


def test_worse_challenger_is_not_promoted_and_force_promotes(store: Store) -> None:
    before = load_scorer("tierwise-churn", tracking_uri=store.uri).version
    version, champion = worse_challenger(store, force=False)
    assert champion == before != version
    client = mlflow.MlflowClient(store.uri, store.uri)
    assert str(client.get_model_version_by_alias("tierwise-churn", CHALLENGER).version) == version
    assert (
        client.get_model_version("tierwise-churn", version).tags["gate"].startswith("not promoted")
    )
    version, champion = worse_challenger(store, force=True)
    assert champion == version


def test_retraining_on_the_same_data_is_at_least_as_good(store: Store) -> None:
    again = train_all(store.data, settings=store.settings, models=("deal",), make_plots=False)
    decision = again["deal"].decision
    assert decision is not None and decision.promoted
    assert decision.champion_score is not None
    assert decision.challenger_score >= decision.champion_score


def test_unknown_model_is_a_model_error_that_says_how_to_get_one(store: Store) -> None:
    with pytest.raises(ModelError, match="not found") as caught:
        load_scorer("tierwise-nothing", tracking_uri=store.uri)
    assert "no model tierwise-nothing is registered" in str(caught.value)
    assert "`tierwise train --data DIR`" in str(caught.value)


def test_a_model_never_promoted_says_why_and_how_to_force_one(store: Store) -> None:
    fitted = store.first["deal"].fitted
    mlflow.set_tracking_uri(store.uri)
    mlflow.set_registry_uri(store.uri)
    with mlflow.start_run(experiment_id=ensure_experiment(store.uri, store.settings)):
        mv = log_model(fitted, registered_name="tierwise-unpromoted", horizon_days=None)
    decision = promote(fitted, mv, uri=store.uri, floor=Floor(min_auc=0.999))
    assert not decision.promoted
    assert "(TIERWISE_PROMOTION_MIN_AUC)" in decision.reason and "--force" in decision.reason
    with pytest.raises(ModelError) as caught:
        load_scorer("tierwise-unpromoted", tracking_uri=store.uri)
    message = str(caught.value)
    assert "no champion is registered for tierwise-unpromoted" in message
    assert "1 version(s) trained, none promoted" in message and "< floor 0.999" in message
    assert "`tierwise train --data DIR --force`" in message


def test_the_run_logs_each_rolling_origin_and_their_spread(store: Store) -> None:
    client = mlflow.MlflowClient(store.uri)
    run_id = store.first["churn"].run_id or ""
    metrics = client.get_run(run_id).data.metrics
    assert {"rolling_roc_auc_mean", "rolling_roc_auc_sd", "rolling_ece_mean"} <= set(metrics)
    history = client.get_metric_history(run_id, "rolling_roc_auc")
    rolling = store.first["churn"].evaluation.rolling
    assert rolling is not None and len(history) == len(rolling.origins) > 1
    assert [h.step for h in history] == list(range(len(history)))


def register_again(store: Store, floor: Floor, *, force: bool) -> tuple[str, GateDecision]:
    """Register the first deal fit again as a new version and gate it against `floor`."""
    fitted = store.first["deal"].fitted
    mlflow.set_tracking_uri(store.uri)
    mlflow.set_registry_uri(store.uri)
    with mlflow.start_run(experiment_id=ensure_experiment(store.uri, store.settings)):
        mv = log_model(fitted, registered_name="tierwise-deal-acceptance", horizon_days=None)
    return str(mv.version), promote(fitted, mv, uri=store.uri, force=force, floor=floor)


def test_nothing_below_the_floor_is_promoted_unless_forced(store: Store) -> None:
    client = mlflow.MlflowClient(store.uri, store.uri)
    name = "tierwise-deal-acceptance"
    before = str(client.get_model_version_by_alias(name, CHAMPION).version)
    version, decision = register_again(store, Floor(min_auc=0.999), force=False)
    assert not decision.promoted and decision.floor_failures
    assert "below the floor (roc_auc" in decision.reason and "< floor 0.999" in decision.reason
    assert str(client.get_model_version_by_alias(name, CHAMPION).version) == before
    version, decision = register_again(store, Floor(min_auc=0.999), force=True)
    assert decision.promoted and decision.forced and decision.reason.startswith("forced: below")
    assert str(client.get_model_version_by_alias(name, CHAMPION).version) == version
    assert client.get_model_version(name, version).tags["gate"] == decision.reason


def test_ece_floor_allows_for_the_noise_of_a_small_test_set() -> None:
    probs = np.full(400, 0.5)
    assert calibrated_ece(probs) == pytest.approx(np.sqrt(2 / np.pi) * 0.5 / np.sqrt(400))
    assert Floor(max_ece=0.02).failures({"roc_auc": 0.8, "ece": 0.05}, probs) == []
    assert Floor(max_ece=0.02).failures({"roc_auc": 0.8, "ece": 0.08}, probs)


def test_candidate_is_the_learner_better_on_validation(store: Store) -> None:
    fitted = store.first["churn"].fitted
    auc = fitted.validation_auc
    assert fitted.learner == max(auc, key=lambda k: auc[k])
    assert fitted.scorer.learner == fitted.learner
