"""MLflow at the edge: tracking set-up, logging a model as pyfunc, registering, the gate.

Tracking defaults to settings.mlflow_tracking_uri (SQLite in the data dir unless
MLFLOW_TRACKING_URI says otherwise); a SQLite store keeps its artifacts beside the database.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from importlib.metadata import version as pkg_version
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from features.registry import registry_version
from tierwise.errors import ModelError
from tierwise.settings import Settings
from training.fit import Fitted
from training.metrics import HIGHER_IS_BETTER, evaluate
from training.pyfunc import OUTPUT
from training.scorer import load_scorer

log = logging.getLogger(__name__)

EXPERIMENT = "tierwise"
CHAMPION = "champion"
CHALLENGER = "challenger"
GATE_METRIC = "roc_auc"
PYFUNC_ENTRY = Path(__file__).with_name("pyfunc_entry.py")
REQUIREMENTS = ("mlflow", "lightgbm", "numpy", "pandas", "scikit-learn")


def configure_tracking(settings: Settings) -> str:
    """Point MLflow (tracking and registry) at the configured store; returns its URI."""
    uri = settings.mlflow_tracking_uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def artifact_root(uri: str, settings: Settings) -> str | None:
    """Where a new experiment keeps artifacts: beside a SQLite store; the server decides else."""
    if not uri.startswith("sqlite:///"):
        return None
    if uri == f"sqlite:///{(settings.data_dir / 'mlflow.db').resolve()}":
        return settings.mlflow_artifact_root
    db = Path(uri.removeprefix("sqlite:///"))
    return (db.resolve().parent / "mlartifacts").as_uri()


def ensure_experiment(uri: str, settings: Settings, name: str = EXPERIMENT) -> str:
    client = mlflow.MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    return str(client.create_experiment(name, artifact_location=artifact_root(uri, settings)))


def input_example(fitted: Fitted, rows: int = 5) -> pd.DataFrame:
    """A few test rows in the types a client sends: text, booleans, float numbers."""
    spec = fitted.scorer.spec
    sample = fitted.test[list(spec.features)].head(rows).reset_index(drop=True)
    out: dict[str, pd.Series] = {}
    for name in spec.features:
        col = sample[name]
        if name in spec.categories:
            out[name] = col.astype("object").where(col.notna(), None)
        elif pd.api.types.is_bool_dtype(col):
            out[name] = col.astype(bool)
        else:
            out[name] = pd.to_numeric(col).astype("float64")
    return pd.DataFrame(out)


def signature(example: pd.DataFrame) -> ModelSignature:
    """Every input column optional (absent = missing), typed from the example's dtypes."""

    def kind(col: pd.Series) -> str:
        if pd.api.types.is_bool_dtype(col):
            return "boolean"
        return "double" if pd.api.types.is_numeric_dtype(col) else "string"

    inputs = Schema([ColSpec(kind(example[c]), c, required=False) for c in example.columns])
    return ModelSignature(inputs=inputs, outputs=Schema([ColSpec("double", OUTPUT)]))


def log_model(fitted: Fitted, *, registered_name: str, horizon_days: int | None) -> ModelVersion:
    """Log the scorer as a pyfunc model in the active run and register a new version."""
    example = input_example(fitted)
    metadata = model_metadata(fitted, horizon_days)
    with tempfile.TemporaryDirectory(prefix="tierwise-artifacts-") as tmp:
        paths = fitted.scorer.save(Path(tmp))
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(PYFUNC_ENTRY),
            artifacts={k: str(p) for k, p in paths.items()},
            signature=signature(example),
            input_example=example,
            registered_model_name=registered_name,
            metadata=metadata,
            pip_requirements=[f"{p}=={pkg_version(p)}" for p in REQUIREMENTS],
        )
    client = mlflow.MlflowClient()
    version = str(info.registered_model_version)
    for key, value in metadata.items():
        client.set_model_version_tag(registered_name, version, key, str(value))
    return client.get_model_version(registered_name, version)


def model_metadata(fitted: Fitted, horizon_days: int | None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "model_kind": fitted.examples.kind,
        "feature_registry_version": registry_version(),
        "train_from": fitted.ranges["train"][0],
        "train_to": fitted.ranges["train"][1],
        "test_from": fitted.ranges["test"][0],
        "test_to": fitted.ranges["test"][1],
        "features": len(fitted.scorer.features),
        "calibration": fitted.scorer.calibrator.method,
    }
    if horizon_days is not None:
        meta["horizon_days"] = horizon_days
    return meta


@dataclass(frozen=True)
class GateDecision:
    promoted: bool
    reason: str
    metric: str
    challenger_score: float
    champion_score: float | None = None
    champion_version: str | None = None

    def metrics(self) -> dict[str, float]:
        out = {
            f"gate_challenger_{self.metric}": self.challenger_score,
            "gate_promoted": float(self.promoted),
        }
        if self.champion_score is not None:
            out[f"gate_champion_{self.metric}"] = self.champion_score
        return out


def promote(
    fitted: Fitted,
    version: ModelVersion,
    *,
    uri: str,
    force: bool = False,
    metric: str = GATE_METRIC,
) -> GateDecision:
    """Alias the new version `challenger`; make it `champion` if it is at least as good as
    the current champion re-scored on the same test examples (or there is none, or `force`)."""
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    name = version.name
    client.set_registered_model_alias(name, CHALLENGER, version.version)
    challenger = evaluate(fitted.labels, fitted.test["model"].to_numpy())[metric]
    decision = _decide(fitted, name, uri=uri, force=force, metric=metric, challenger=challenger)
    if decision.promoted:
        client.set_registered_model_alias(name, CHAMPION, version.version)
    client.set_model_version_tag(name, version.version, "gate", decision.reason)
    log.info("%s v%s: %s", name, version.version, decision.reason)
    return decision


def _decide(
    fitted: Fitted, name: str, *, uri: str, force: bool, metric: str, challenger: float
) -> GateDecision:
    try:
        champion = load_scorer(name, CHAMPION, tracking_uri=uri)
    except ModelError:
        return GateDecision(True, "first champion", metric, challenger)
    try:
        probs = champion.predict(champion.encode_frame(fitted.test))
    except Exception as exc:  # whatever fails, the old model cannot serve today's data
        reason = f"champion v{champion.version} cannot score the current features ({exc})"
        return GateDecision(True, reason, metric, challenger, None, champion.version)
    incumbent = evaluate(fitted.labels, np.asarray(probs))[metric]
    better = challenger >= incumbent if HIGHER_IS_BETTER[metric] else challenger <= incumbent
    if better:
        reason = (
            f"promoted: {metric} {challenger:.4f} >= champion v{champion.version} {incumbent:.4f}"
        )
    elif force:
        reason = f"forced: {metric} {challenger:.4f} < champion v{champion.version} {incumbent:.4f}"
    else:
        reason = f"kept champion v{champion.version}: {metric} {challenger:.4f} < {incumbent:.4f}"
    return GateDecision(better or force, reason, metric, challenger, incumbent, champion.version)


def champion_version(name: str, *, uri: str) -> str | None:
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        return str(client.get_model_version_by_alias(name, CHAMPION).version)
    except MlflowException:
        return None
