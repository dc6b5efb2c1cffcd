"""`tierwise train --model propensity`: the review history in, a registered posterior out.

Reads the service database (the weekly plans' decided rows and the stored feature snapshots
around them), fits `training.propensity.fit_propensity` with the active rulebook's priors,
logs the table to MLflow and registers it as `tierwise-propensity@champion`. Run it before
each weekly job so that last week's decisions feed this week's plan.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import mlflow
import pandas as pd

from tierwise.errors import ConfigurationError
from tierwise.settings import Settings
from training.propensity import examples, fit_propensity
from training.propensity_registry import PROPENSITY_MODEL, log_propensity
from training.registry import configure_tracking, ensure_experiment

log = logging.getLogger(__name__)

WINDOW_DAYS = 28  # the outcome window: a response within four weeks of the decision


@dataclass(frozen=True)
class PropensityFit:
    version: str
    table: pd.DataFrame  # training.propensity.TABLE_COLUMNS
    decisions: int


def train_propensity(
    settings: Settings, *, window_days: int = WINDOW_DAYS, seed: int = 0
) -> PropensityFit:
    """Fit on the service database's review history and register the table."""
    from rules import load_rulebook
    from serving.db.engine import get_engine, session_scope, upgrade
    from serving.propensity_history import review_history

    rulebook = load_rulebook(settings.rules_dir)
    priors = {a.id: a.prior for a in rulebook.actions if a.prior is not None}
    if not priors:
        raise ConfigurationError(
            f"no action in the rulebook {settings.rules_dir} has a learned propensity "
            "(propensity: {learned: true, prior: ...}): nothing to fit"
        )
    engine = get_engine(settings.db_url)
    upgrade(engine)
    with session_scope(engine) as session:
        history = review_history(session, window_days=window_days)
    frame = examples(history.decisions, history.before, history.after)
    table = fit_propensity(frame, priors)
    uri = configure_tracking(settings)
    with mlflow.start_run(experiment_id=ensure_experiment(uri, settings), run_name="propensity"):
        mlflow.log_params({"window_days": window_days, "seed": seed, "segment": "lifecycle_status"})
        version = log_propensity(
            table,
            priors,
            seed=seed,
            name=settings.propensity_model,
            tags={"rulebook_version": rulebook.version, "window_days": str(window_days)},
        )
    log.info("%s v%s from %d decisions", PROPENSITY_MODEL, version, len(frame))
    return PropensityFit(version, table, len(frame))
