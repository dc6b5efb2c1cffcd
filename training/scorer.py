"""The fast scoring path: a LightGBM booster + calibrator + feature spec, loaded once.

Serving calls `load_scorer("tierwise-churn")` at start-up (and on reload) and then
`scorer.predict(scorer.encode(rows))` per request: numpy only, one thread, no pyfunc and no
pandas per call. The MLflow pyfunc model (training/pyfunc.py) wraps this same class, so
`mlflow models serve` and Tierwise's own service give identical probabilities.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from tierwise.errors import ModelError
from training.blend import SegmentBlend
from training.calibration import Calibrator
from training.linear import LinearModel, is_linear
from training.single_row import SingleRowPredictor
from training.spec import FeatureSpec

log = logging.getLogger(__name__)

BOOSTER_FILE = "booster.txt"
CALIBRATOR_FILE = "calibrator.json"
SPEC_FILE = "feature_spec.json"
BLEND_FILE = "blend.json"
ARTIFACT_FILES = {"booster": BOOSTER_FILE, "calibrator": CALIBRATOR_FILE, "spec": SPEC_FILE}


@dataclass
class Scorer:
    booster: lgb.Booster | LinearModel  # LightGBM, or the logistic baseline as numbers
    calibrator: Calibrator
    spec: FeatureSpec
    name: str = ""
    version: str = ""
    blend: SegmentBlend | None = None  # lapsed partners: the model mixed with BG/NBD

    @property
    def learner(self) -> str:
        """`lightgbm` or `logistic` (the baseline promoted as the model)."""
        return "logistic" if isinstance(self.booster, LinearModel) else "lightgbm"

    @property
    def features(self) -> list[str]:
        return list(self.spec.features)

    @property
    def inputs(self) -> list[str]:
        """The features callers send (`features` minus those derived from them)."""
        return self.spec.inputs

    def encode(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Feature mappings → model matrix (unknown category or absent key → missing)."""
        return self.spec.encode(rows)

    def encode_frame(self, frame: pd.DataFrame) -> np.ndarray:
        return self.spec.encode_frame(frame)

    def predict_raw(self, x: np.ndarray) -> np.ndarray:
        """Uncalibrated probabilities (LightGBM or the baseline; blended for one segment)."""
        x = self._check(x)
        if len(x) == 1 and self._single_row is not None:  # one request: the C fast path
            raw = self._single_row.predict(x[0])
        else:
            raw = np.asarray(self.booster.predict(x, num_threads=1), dtype=np.float64)
        return raw if self.blend is None else self.blend.apply(raw, x, self.spec)

    @cached_property
    def _single_row(self) -> SingleRowPredictor | None:
        booster = self.booster
        if isinstance(booster, lgb.Booster) and booster.num_model_per_iteration() == 1:
            return SingleRowPredictor(booster)
        return None

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Calibrated probabilities, one per row of `x`."""
        raw = self.predict_raw(x)
        if len(raw) == 1:
            return np.array([self.calibrator.one(float(raw[0]))])
        return self.calibrator(raw)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Per-feature SHAP contributions (log-odds, before calibration), shape (n, features).

        LightGBM's bias column is dropped; it is `expected_value`.
        """
        contrib = np.asarray(self.booster.predict(self._check(x), pred_contrib=True, num_threads=1))
        return contrib[:, :-1]

    @property
    def expected_value(self) -> float:
        zero = np.full((1, len(self.spec.features)), np.nan)
        return float(
            np.asarray(self.booster.predict(zero, pred_contrib=True, num_threads=1))[0, -1]
        )

    def _check(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.spec.features):
            raise ModelError(
                f"{self.name or 'model'} expects {len(self.spec.features)} features per row, "
                f"got an array of shape {x.shape}"
            )
        return x

    # --- files ---------------------------------------------------------------------------
    def save(self, directory: Path) -> dict[str, Path]:
        """Write the three artifact files; returns {artifact key: path}."""
        directory.mkdir(parents=True, exist_ok=True)
        paths = {key: directory / file for key, file in ARTIFACT_FILES.items()}
        self.booster.save_model(str(paths["booster"]))
        self.calibrator.save(paths["calibrator"])
        self.spec.save(paths["spec"])
        if self.blend is not None:
            paths["blend"] = self.blend.save(directory / BLEND_FILE)
        return paths

    @classmethod
    def from_files(
        cls, files: Mapping[str, str | Path], *, name: str = "", version: str = ""
    ) -> Scorer:
        """Load from {"booster": path, "calibrator": path, "spec": path}."""
        try:
            booster_text = Path(files["booster"]).read_text(encoding="utf-8")
            booster: lgb.Booster | LinearModel = (
                LinearModel.load(booster_text)
                if is_linear(booster_text)
                else lgb.Booster(model_str=booster_text)
            )
            calibrator = Calibrator.load(Path(files["calibrator"]))
            spec = FeatureSpec.load(Path(files["spec"]))
            blend = SegmentBlend.load(Path(files["blend"])) if files.get("blend") else None
        except (KeyError, OSError, ValueError, TypeError, lgb.basic.LightGBMError) as exc:
            raise ModelError(f"cannot load model {name or ''} {version}: {exc}") from exc
        if booster.num_feature() != len(spec.features):
            raise ModelError(
                f"booster has {booster.num_feature()} features, spec lists {len(spec.features)}"
            )
        return cls(booster, calibrator, spec, name=name, version=version, blend=blend)

    @classmethod
    def from_dir(cls, directory: Path, *, name: str = "", version: str = "") -> Scorer:
        files = {k: directory / f for k, f in ARTIFACT_FILES.items()}
        if (directory / BLEND_FILE).is_file():  # optional: older models and most have none
            files["blend"] = directory / BLEND_FILE
        return cls.from_files(files, name=name, version=version)


def load_scorer(name: str, alias: str = "champion", tracking_uri: str | None = None) -> Scorer:
    """Download the registered model `name@alias` and load its booster + calibrator + spec.

    `tracking_uri` defaults to settings.mlflow_tracking_uri (MLFLOW_TRACKING_URI wins).
    Raises ModelError when the model or alias does not exist.
    """
    from mlflow.exceptions import MlflowException

    client, tracking_uri = registry_client(tracking_uri)
    try:
        with registered_artifacts(client, name, alias, prefix="tierwise-model-") as (root, v):
            scorer = Scorer.from_dir(root, name=name, version=v)
    except MlflowException as exc:
        raise ModelError(missing_model(client, name, alias, tracking_uri)) from exc
    log.info("loaded %s version %s (@%s)", name, scorer.version, alias)
    return scorer


def registry_client(tracking_uri: str | None = None) -> tuple[Any, str]:
    """(an MlflowClient for tracking and registry, its URI); the URI defaults to
    settings.mlflow_tracking_uri (MLFLOW_TRACKING_URI wins)."""
    import mlflow

    if tracking_uri is None:
        from tierwise.settings import get_settings

        tracking_uri = get_settings().mlflow_tracking_uri
    return mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri), tracking_uri


@contextmanager
def registered_artifacts(
    client: Any, name: str, alias: str, *, prefix: str
) -> Iterator[tuple[Path, str]]:
    """(the artifacts folder, the version) of `name@alias`, downloaded into a temporary
    folder that lives as long as the `with` block. MlflowException when there is none."""
    import mlflow

    mv = client.get_model_version_by_alias(name, alias)
    uri = client.tracking_uri
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        local = mlflow.artifacts.download_artifacts(
            # the version's storage location: a `models:/` URI would be resolved against
            # the process-wide registry, not this client's
            artifact_uri=client.get_model_version_download_uri(name, mv.version),
            dst_path=tmp,
            tracking_uri=uri,
            registry_uri=uri,
        )
        yield Path(local) / "artifacts", str(mv.version)


TRAIN_HINT = "tierwise train --data DIR"


def missing_model(client: Any, name: str, alias: str, tracking_uri: str) -> str:
    """Why `name@alias` cannot be loaded and how to get one: never trained, or trained but
    no version promoted (the gate's reason for the latest one)."""
    from mlflow.exceptions import MlflowException

    try:
        versions = client.search_model_versions(f"name = '{name}'")
    except MlflowException:
        versions = []
    if not versions:
        return (
            f"no model {name} is registered in {tracking_uri} (model {name}@{alias} not found): "
            f"train one with `{TRAIN_HINT}`"
        )
    latest = max(versions, key=lambda v: int(v.version))
    gate = (latest.tags or {}).get("gate", "")
    why = f" (v{latest.version}: {gate})" if gate else ""
    return (
        f"no {alias} is registered for {name} in {tracking_uri} (model {name}@{alias} not "
        f"found): {len(versions)} version(s) trained, none promoted{why}; train again with "
        f"`{TRAIN_HINT}`, or `{TRAIN_HINT} --force` to promote a model below the floor"
    )
