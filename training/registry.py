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
from training.spec import BGNBD_FEATURES

log = logging.getLogger(__name__)

EXPERIMENT = "tierwise"
CHAMPION = "champion"
CHALLENGER = "challenger"
GATE_METRIC = "roc_auc"
FORCE_HINT = "rerun `tierwise train` with --force to promote it anyway"
PYFUNC_ENTRY = Path(__file__).with_name("pyfunc_entry.py")
REQUIREMENTS = ("mlflow", "lightgbm", "numpy", "pandas", "scikit-learn", "scipy")


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
    spec = fitted.registered.spec
    names = [n for n in spec.features if n in fitted.test.columns]  # derived ones are computed
    sample = fitted.test[names].head(rows).reset_index(drop=True)
    out: dict[str, pd.Series] = {}
    inputs = [n for n in names if n not in set(BGNBD_FEATURES)]
    for name in inputs:
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


def log_model(
    fitted: Fitted,
    *,
    registered_name: str,
    horizon_days: int | None,
    evaluation: dict[str, float] | None = None,
) -> ModelVersion:
    """Log the registered scorer (the refit, when there is one) as a pyfunc model in the
    active run and register a new version; `evaluation` (held-out test metrics) goes into its
    tags so a later gate can compare against it."""
    example = input_example(fitted)
    metadata = model_metadata(fitted, horizon_days) | {
        f"test_{k}": repr(float(v)) for k, v in (evaluation or {}).items()
    }
    with tempfile.TemporaryDirectory(prefix="tierwise-artifacts-") as tmp:
        paths = fitted.registered.save(Path(tmp))
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
        "features": len(fitted.registered.features),
        "calibration": fitted.scorer.calibrator.method,
        "learner": fitted.learner,
        "split": fitted.boundaries.mode,
    }
    if fitted.refit is not None:
        meta |= {
            "refit_from": fitted.refit.range[0],
            "refit_to": fitted.refit.range[1],
            "refit_examples": fitted.refit.examples,
            "refit_iterations": fitted.refit.iterations,
        }
    if horizon_days is not None:
        meta["horizon_days"] = horizon_days
    return meta


@dataclass(frozen=True)
class Floor:
    """Below this no model is promoted (unless forced), on the held-out test period: ROC AUC
    at least `min_auc`; expected calibration error at most `max_ece` beyond sampling noise
    (plus twice the ECE a perfectly calibrated model of these probabilities would show on this
    many examples, so that a small program is not held to a bar its test set cannot measure)."""

    min_auc: float = 0.6
    max_ece: float = 0.02

    def failures(self, metrics: dict[str, float], probs: np.ndarray) -> list[str]:
        out = []
        if not metrics["roc_auc"] >= self.min_auc:
            out.append(
                f"roc_auc {metrics['roc_auc']:.4f} < floor {self.min_auc} "
                "(TIERWISE_PROMOTION_MIN_AUC)"
            )
        allowed = self.max_ece + 2 * calibrated_ece(probs)
        if not metrics["ece"] <= allowed:
            out.append(
                f"ece {metrics['ece']:.4f} > floor {self.max_ece} (TIERWISE_PROMOTION_MAX_ECE) "
                f"+ sampling noise = {allowed:.4f}"
            )
        return out


def calibrated_ece(probs: np.ndarray, bins: int = 10) -> float:
    """The expected ECE of perfectly calibrated probabilities `probs` (labels drawn from
    them): sqrt(2/pi) / n * sum over bins of sqrt(sum p(1 - p))."""
    p = np.asarray(probs, dtype=np.float64)
    if p.size == 0:
        return 0.0
    which = np.minimum((p * bins).astype(int), bins - 1)
    variance = np.bincount(which, p * (1 - p), minlength=bins)
    return float(np.sqrt(2 / np.pi) * np.sqrt(variance).sum() / p.size)


@dataclass(frozen=True)
class GateDecision:
    promoted: bool
    reason: str
    metric: str
    challenger_score: float
    champion_score: float | None = None
    champion_version: str | None = None
    floor_failures: tuple[str, ...] = ()
    forced: bool = False

    def metrics(self) -> dict[str, float]:
        out = {
            f"gate_challenger_{self.metric}": self.challenger_score,
            "gate_promoted": float(self.promoted),
            "gate_floor_ok": float(not self.floor_failures),
            "gate_forced": float(self.forced),
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
    floor: Floor | None = None,
) -> GateDecision:
    """Alias the new version `challenger`; make it `champion` when its held-out test score
    clears the floor and is at least as good as the current champion's on the same test
    period (or there is none). `force` promotes anyway, and the reason says what it
    overrode."""
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    name = version.name
    client.set_registered_model_alias(name, CHALLENGER, version.version)
    probs = fitted.test["model"].to_numpy()
    measured = evaluate(fitted.labels, probs)
    challenger = measured[metric]
    failures = tuple((floor or Floor()).failures(measured, probs))
    better, reason, champ_score, champ_version = _versus_champion(
        fitted, name, client=client, uri=uri, metric=metric, challenger=challenger
    )
    promoted = better and not failures
    if failures:
        versus = f"; {reason}" if champ_version is not None else ""  # no champion yet
        reason = f"below the floor ({'; '.join(failures)}){versus}"
    if force and not promoted:
        reason = f"forced: {reason}"
    elif not promoted:
        reason = f"not promoted: {reason}; {FORCE_HINT}"
    decision = GateDecision(
        promoted or force,
        reason,
        metric,
        challenger,
        champ_score,
        champ_version,
        failures,
        force and not promoted,
    )
    if decision.promoted:
        client.set_registered_model_alias(name, CHAMPION, version.version)
    client.set_model_version_tag(name, version.version, "gate", decision.reason)
    log.info("%s v%s: %s", name, version.version, decision.reason)
    return decision


def _versus_champion(
    fitted: Fitted,
    name: str,
    *,
    client: mlflow.MlflowClient,
    uri: str,
    metric: str,
    challenger: float,
) -> tuple[bool, str, float | None, str | None]:
    """(at least as good as the champion?, why, champion's score, champion's version).

    The champion is re-scored on the challenger's test period — unless it was (re)fitted on
    data reaching into that period, when its own held-out score is the fair comparison."""
    try:
        champion = load_scorer(name, CHAMPION, tracking_uri=uri)
    except ModelError:
        return True, "first champion", None, None
    tags = client.get_model_version(name, champion.version).tags
    test_from = fitted.ranges["test"][0]
    seen = tags.get("refit_to", tags.get("train_to", ""))
    if seen >= test_from and f"test_{metric}" in tags:
        incumbent = float(tags[f"test_{metric}"])
        how = f"its own held-out {metric} (it was fitted on data up to {seen})"
    else:
        try:
            probs = champion.predict(champion.encode_frame(fitted.test))
        except Exception as exc:  # whatever fails, the old model cannot serve today's data
            why = f"champion v{champion.version} cannot score the current features ({exc})"
            return True, why, None, champion.version
        incumbent = evaluate(fitted.labels, np.asarray(probs))[metric]
        how = f"{metric} on the same test period"
    ahead = challenger - incumbent if HIGHER_IS_BETTER[metric] else incumbent - challenger
    better = ahead >= 0
    sign = (">=" if better else "<") if HIGHER_IS_BETTER[metric] else ("<=" if better else ">")
    why = f"{metric} {challenger:.4f} {sign} champion v{champion.version} {incumbent:.4f} ({how})"
    return better, why, incumbent, champion.version


def champion_version(name: str, *, uri: str) -> str | None:
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        return str(client.get_model_version_by_alias(name, CHAMPION).version)
    except MlflowException:
        return None
