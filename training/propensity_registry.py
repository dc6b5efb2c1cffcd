"""The propensity table in MLflow: logged with its run, registered, aliased `champion`.

The registered model `tierwise-propensity` is a small pyfunc over one artifact, the posterior
table (`training.propensity.TABLE_COLUMNS`, CSV): given rows of action_id and segment it
answers the posterior mean. Serving reads the table itself (`load_propensities`) and combines
the counts with the loaded rulebook's priors. Every fit is promoted: it only adds evidence.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.pyfunc import PythonModel
from mlflow.types import ColSpec, Schema

from tierwise.errors import ModelError
from training.propensity import ALL, TABLE_COLUMNS, Propensities

log = logging.getLogger(__name__)

PROPENSITY_MODEL = "tierwise-propensity"
TABLE = "propensity.csv"
PRIORS = "priors.json"
ENTRY = Path(__file__).with_name("propensity_entry.py")
SIGNATURE = ModelSignature(
    inputs=Schema([ColSpec("string", "action_id"), ColSpec("string", "segment")]),
    outputs=Schema([ColSpec("double", "propensity")]),
)


class PropensityModel(PythonModel):
    """Posterior mean per (action_id, segment) row; an unseen segment gets its action's."""

    table: Propensities

    def load_context(self, context: Any) -> None:
        self.table = _read(Path(context.artifacts["table"]), Path(context.artifacts["priors"]))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        means = []
        for action, segment in zip(model_input["action_id"], model_input["segment"], strict=True):
            alpha, beta = self.table.posterior(str(action), str(segment))
            means.append(alpha / (alpha + beta))
        return pd.DataFrame({"propensity": means}, index=model_input.index)


def _read(table: Path, priors: Path, *, version: str = "") -> Propensities:
    frame = pd.read_csv(table, dtype={"action_id": str, "segment": str})
    raw = json.loads(priors.read_text())
    seed = int(raw.pop("__seed__", 0))
    return Propensities.from_table(
        frame, {a: (float(p[0]), float(p[1])) for a, p in raw.items()}, seed=seed, version=version
    )


def log_propensity(
    table: pd.DataFrame,
    priors: Mapping[str, tuple[float, float]],
    *,
    seed: int = 0,
    name: str = PROPENSITY_MODEL,
    tags: Mapping[str, str] | None = None,
) -> str:
    """Log the table in the active run, register a version of ``name`` and alias it
    `champion`; returns the version."""
    pooled = table.loc[table["segment"] == ALL]
    mlflow.log_metrics(
        {
            "decisions": float(pooled["n"].sum()),
            "successes": float(pooled["successes"].sum()),
            **{
                f"mean_{a}": float(m)
                for a, m in zip(pooled["action_id"], pooled["mean"], strict=True)
            },
        }
    )
    with tempfile.TemporaryDirectory(prefix="tierwise-propensity-") as tmp:
        path, prior_path = Path(tmp) / TABLE, Path(tmp) / PRIORS
        table[list(TABLE_COLUMNS)].to_csv(path, index=False)
        prior_path.write_text(
            json.dumps({**{a: list(p) for a, p in priors.items()}, "__seed__": seed})
        )
        info = mlflow.pyfunc.log_model(
            name="propensity",
            python_model=str(ENTRY),
            artifacts={"table": str(path), "priors": str(prior_path)},
            registered_model_name=name,
            signature=SIGNATURE,
            pip_requirements=["mlflow", "pandas", "scipy"],
        )
    client = mlflow.MlflowClient()
    version = str(info.registered_model_version)
    for key, value in (tags or {}).items():
        client.set_model_version_tag(name, version, key, value)
    client.set_registered_model_alias(name, "champion", version)
    log.info("%s v%s: %d decisions", name, version, int(pooled["n"].sum()))
    return version


def load_propensities(
    name: str = PROPENSITY_MODEL, alias: str = "champion", tracking_uri: str | None = None
) -> Propensities:
    """The registered table `name@alias`; ModelError when there is none."""
    from training.scorer import registered_artifacts, registry_client

    client, tracking_uri = registry_client(tracking_uri)
    try:
        with registered_artifacts(client, name, alias, prefix="tierwise-propensity-") as found:
            root, version = found
            return _read(root / TABLE, root / PRIORS, version=version)
    except MlflowException as exc:
        raise ModelError(
            f"model {name}@{alias} not found in {tracking_uri}: {exc.message}"
        ) from exc
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"cannot load model {name}@{alias}: {exc}") from exc
