"""Orchestration: load → examples → fit → evaluate → log to MLflow → register → gate.

`train_all(data, settings=…)` is what `tierwise train`, the MLproject entry point and
`make demo` call. `fit_model` is the pure part (no MLflow), used by tests and the bench.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from features.tables import Tables
from tierwise.errors import InvalidInput
from tierwise.settings import Settings, get_settings
from training import plots
from training.evaluation import (
    Evaluation,
    evaluate_scores,
    observable_probabilities,
    oracle_probabilities,
)
from training.examples import MODEL_KINDS, Examples, ModelKind, churn_examples, deal_examples
from training.fit import Fitted, describe_fit, fit_examples, refit
from training.labels import cutoffs, data_window, history_needed_days
from training.models import LgbConfig
from training.registry import (
    Floor,
    GateDecision,
    configure_tracking,
    ensure_experiment,
    log_model,
    promote,
)
from training.rolling import Rolling, rolling_origin
from training.rolling import wanted as rolling_wanted
from training.scorer import Scorer
from training.split import Boundaries, month_boundaries, plan_split

log = logging.getLogger(__name__)


@dataclass
class Timer:
    """Wall time per stage, logged as each stage ends (the progress a long run shows)."""

    prefix: str = ""
    seconds: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds (all threads)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        log.info("%s%s …", self.prefix, name)
        start, cpu = time.perf_counter(), time.process_time()
        yield
        took = time.perf_counter() - start
        self.seconds[name] = self.seconds.get(name, 0.0) + took
        self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - cpu
        log.info("%s%s done in %.1f s", self.prefix, name, took)


@dataclass
class Trained:
    kind: ModelKind
    fitted: Fitted
    evaluation: Evaluation
    timings: dict[str, float]
    model_name: str = ""
    cpu: dict[str, float] = field(default_factory=dict)
    version: str | None = None
    decision: GateDecision | None = None
    run_id: str | None = None


def model_name(kind: ModelKind, settings: Settings) -> str:
    return settings.churn_model if kind == "churn" else settings.deal_model


def build_examples(
    kind: ModelKind,
    tables: Tables,
    *,
    horizon_days: int,
    test_snapshots: int | None = None,
    validation_snapshots: int | None = None,
) -> tuple[Examples, Boundaries]:
    """The examples of one model and the split that fits the history there is."""
    if kind == "churn":
        as_ofs, cadence = cutoffs(tables, horizon_days=horizon_days)
        try:
            bounds = plan_split(
                as_ofs,
                horizon_days=horizon_days,
                test_snapshots=test_snapshots,
                validation_snapshots=validation_snapshots,
                cadence=cadence,
            )
        except InvalidInput as exc:
            raise InvalidInput(f"{exc}. {_history_advice(tables, horizon_days)}") from exc
        return churn_examples(tables, horizon_days=horizon_days, as_ofs=as_ofs), bounds
    start, end = data_window(tables)
    return deal_examples(tables), deal_boundaries(start, end)


def _history_advice(tables: Tables, horizon_days: int) -> str:
    """How much history there is and how much more training needs."""
    start, end = data_window(tables)
    have = (end - start).days
    need = history_needed_days(horizon_days)
    more = (
        f"give at least {need - have} more day(s) of history"
        if need > have
        else ("add partners or cut-offs")
    )
    return (
        f"The data holds {have} days ({start.date()}..{end.date()}); a {horizon_days}-day "
        f"horizon needs at least {need} days: {more}, or a shorter --horizon-days"
    )


def deal_boundaries(start: pd.Timestamp, end: pd.Timestamp) -> Boundaries:
    """Calendar split of deal registrations: 3 months of test and of validation, fewer (down
    to 1) when the history is shorter than 18 months, so training keeps most of it."""
    months = int(max(1, min(3, (end - start).days // 180)))
    return month_boundaries(end, test_months=months, validation_months=months)


def fit_model(
    kind: ModelKind,
    tables: Tables,
    *,
    horizon_days: int,
    truth: Any = None,
    config: LgbConfig | None = None,
    timer: Timer | None = None,
    oracle_paths: int | None = None,
    test_snapshots: int | None = None,
    validation_snapshots: int | None = None,
    refit_all: bool = True,
    observable_oracle: bool = False,
    rolling: str = "auto",
) -> tuple[Fitted, Evaluation]:
    """Examples → split → LightGBM + baseline + calibration → test evaluation (+ oracle, +
    rolling origin: `on | off | auto`) → refit of the candidate on all labelled examples."""
    timer = timer or Timer(f"{kind}: ")
    with timer.stage("examples"):
        examples, bounds = build_examples(
            kind,
            tables,
            horizon_days=horizon_days,
            test_snapshots=test_snapshots,
            validation_snapshots=validation_snapshots,
        )
    with timer.stage("fit"):
        fitted = fit_examples(examples, bounds, config=config, horizon_days=horizon_days)
    if kind == "churn" and truth is not None and tables.activities is None:
        log.info("no activities table: the simulator's churn truth counts activities; no oracle")
        truth = None
    if truth is not None:
        with timer.stage("oracle"):  # the simulator's truth: benches and tests only
            fitted.test["oracle"] = oracle_probabilities(
                kind, fitted.test, truth, horizon_days=horizon_days, paths=oracle_paths
            )
            if kind == "churn" and observable_oracle and hasattr(truth, "latent"):
                fitted.test["observable"] = observable_probabilities(
                    fitted.test, truth, tables, horizon_days=horizon_days
                )
    with timer.stage("evaluate"):
        evaluation = evaluate_scores(fitted.test, examples.label)
    if rolling_wanted(rolling, examples, bounds):
        with timer.stage("rolling origin"):
            evaluation.rolling = rolling_origin(
                examples, bounds, horizon_days=horizon_days, config=config
            )
    if refit_all:
        with timer.stage("refit"):
            fitted.refit = refit(fitted)
    return fitted, evaluation


def load_data(source: str | Path) -> tuple[Tables, Any]:
    """The program's tables, and the simulator's truth when `source/_truth` exists."""
    from features.io import load_tables

    tables = load_tables(source)
    truth = None
    local = isinstance(source, Path) or "://" not in str(source)
    if local and (Path(source) / "_truth").is_dir():
        from simulation.program import load_truth

        truth = load_truth(Path(source))
    return tables, truth


def deals_decided_both_ways(tables: Tables) -> bool:
    """Whether the deals hold accepted and rejected registrations (a deal model can learn)."""
    status = tables.deals["status"]
    return bool((status == "accepted").any() and (status == "rejected").any())


def train_all(
    data: str | Path,
    *,
    settings: Settings | None = None,
    models: Sequence[ModelKind] = MODEL_KINDS,
    horizon_days: int | None = None,
    force: bool = False,
    config: LgbConfig | None = None,
    make_plots: bool = True,
    oracle: bool = True,
    oracle_paths: int | None = None,
    test_snapshots: int | None = None,
    validation_snapshots: int | None = None,
    observable_oracle: bool = False,
    registrations_db: str | None = None,
    rolling: str = "auto",
) -> dict[ModelKind, Trained]:
    """Train, evaluate, refit, log, register and gate each model; one MLflow run per model
    under a parent run (the MLproject's run when launched by `mlflow run`).

    `registrations_db`: the service database whose stored registrations and reported
    decisions join the deal model's examples (`training.stored_registrations`).

    The split fits the history (`training.split.plan_split`; the churn model's snapshot
    counts can be fixed). On simulated data (a `_truth/` folder) the oracle is evaluated too
    unless `oracle=False`.
    """
    settings = settings or get_settings()
    horizon = horizon_days or settings.horizon_days
    timer = Timer()
    with timer.stage("load data"):
        tables, truth = load_data(data)
    truth = truth if oracle else None
    deal_tables, stored = tables, None
    if registrations_db is not None and "deal" in models:
        from training.stored_registrations import load_stored, with_stored_decisions

        stored = with_stored_decisions(tables.deals, load_stored(registrations_db))
        deal_tables = dataclasses.replace(tables, deals=stored.deals)
        log.info("stored registrations joined: %s", stored.params())
    uri = configure_tracking(settings)
    experiment_id = ensure_experiment(uri, settings)
    results: dict[ModelKind, Trained] = {}
    with mlflow.start_run(experiment_id=experiment_id, run_name="train"):
        # tags, not params: under `mlflow run` the parent run already holds these as params
        mlflow.set_tags(
            {
                "tierwise.data": str(data),
                "tierwise.horizon_days": horizon,
                "tierwise.force": force,
                "tierwise.models": ",".join(models),
            }
        )
        for kind in models:
            if kind == "deal" and len(models) > 1 and not deals_decided_both_ways(deal_tables):
                log.warning(
                    "deal model skipped: no registration in %s was rejected (e.g. a transaction "
                    "log), so there is no acceptance to learn; the service scores no deals",
                    data,
                )
                continue
            # children always in our experiment, whose artifacts sit beside the store
            with mlflow.start_run(run_name=kind, nested=True, experiment_id=experiment_id) as run:
                if kind == "deal" and stored is not None:
                    mlflow.log_params(stored.params())
                results[kind] = _train_one(
                    kind,
                    deal_tables if kind == "deal" else tables,
                    truth,
                    settings=settings,
                    uri=uri,
                    horizon=horizon,
                    force=force,
                    config=config,
                    make_plots=make_plots,
                    oracle_paths=oracle_paths,
                    snapshots=(test_snapshots, validation_snapshots),
                    observable_oracle=observable_oracle,
                    rolling=rolling,
                )
                results[kind].run_id = run.info.run_id
        mlflow.log_metrics({f"seconds_{k.replace(' ', '_')}": v for k, v in timer.seconds.items()})
    return results


def _train_one(
    kind: ModelKind,
    tables: Tables,
    truth: Any,
    *,
    settings: Settings,
    uri: str,
    horizon: int,
    force: bool,
    config: LgbConfig | None,
    make_plots: bool,
    oracle_paths: int | None,
    snapshots: tuple[int | None, int | None] = (None, None),
    observable_oracle: bool = False,
    rolling: str = "auto",
) -> Trained:
    timer = Timer(f"{kind}: ")
    fitted, evaluation = fit_model(
        kind,
        tables,
        horizon_days=horizon,
        truth=truth,
        config=config,
        timer=timer,
        oracle_paths=oracle_paths,
        test_snapshots=snapshots[0] if kind == "churn" else None,
        validation_snapshots=snapshots[1] if kind == "churn" else None,
        observable_oracle=observable_oracle,
        rolling=rolling,
    )
    result = Trained(
        kind, fitted, evaluation, timer.seconds, model_name(kind, settings), cpu=timer.cpu
    )
    with timer.stage("log to MLflow"):
        _log_run(result, horizon, make_plots)
        mv = log_model(
            fitted,
            registered_name=result.model_name,
            horizon_days=horizon if kind == "churn" else None,
            evaluation=evaluation.metrics["model"],
        )
        result.version = str(mv.version)
    with timer.stage("promotion gate"):
        floor = Floor(settings.promotion_min_auc, settings.promotion_max_ece)
        result.decision = promote(fitted, mv, uri=uri, force=force, floor=floor)
        mlflow.log_metrics(result.decision.metrics())
        mlflow.set_tags(
            {
                "gate_decision": "promoted" if result.decision.promoted else "kept",
                "gate_reason": result.decision.reason,
                "model_version": result.version,
            }
        )
    mlflow.log_metrics({f"seconds_{k.replace(' ', '_')}": v for k, v in timer.seconds.items()})
    return result


def _log_run(result: Trained, horizon: int, make_plots: bool) -> None:
    from features.registry import registry_version
    from training.calibration import calibration_metrics

    fitted = result.fitted
    params: dict[str, Any] = {
        "model_kind": result.kind,
        "feature_registry_version": registry_version(),
        "features": len(fitted.scorer.features),
        "calibration": fitted.scorer.calibrator.method,
        "split": fitted.boundaries.describe()[:500],
        **describe_fit(fitted),
        **{f"{p}_from": r[0] for p, r in fitted.ranges.items()},
        **{f"{p}_to": r[1] for p, r in fitted.ranges.items()},
        **{f"{p}_examples": n for p, n in fitted.counts.items()},
    }
    if fitted.scorer.spec.bgnbd is not None:
        params |= {f"bgnbd_{k}": round(v, 6) for k, v in fitted.scorer.spec.bgnbd.items()}
    if fitted.refit is not None:  # what is registered: the candidate refitted on everything
        params |= {
            "refit_from": fitted.refit.range[0],
            "refit_to": fitted.refit.range[1],
            "refit_examples": fitted.refit.examples,
            "refit_iterations": fitted.refit.iterations,
        }
    if result.kind == "churn":
        params["horizon_days"] = horizon
    mlflow.log_params(params)
    mlflow.log_metrics(result.evaluation.flat())
    if result.evaluation.rolling is not None:
        _log_rolling(result.evaluation.rolling)
    mlflow.log_metrics({f"{p}_positive_rate": r for p, r in fitted.positive_rates.items()})
    mlflow.log_metrics(calibration_metrics(fitted.test["model_raw"], fitted.test["model"]))
    if make_plots:
        _log_plots(result)


def _log_rolling(rolling: Rolling) -> None:
    """Per-origin metrics as steps of `rolling_<metric>` (step = origin number, timestamp =
    the origin), the origins and their splits as params."""
    for step, origin in enumerate(rolling.origins):
        stamp = int(origin.origin.timestamp() * 1000)
        for name, value in origin.metrics.items():
            mlflow.log_metric(f"rolling_{name}", value, step=step, timestamp=stamp)
    mlflow.log_params(
        {
            "rolling_origin_dates": ",".join(str(o.origin.date()) for o in rolling.origins),
            "rolling_origin_learners": ",".join(o.learner for o in rolling.origins),
            "rolling_origin_skipped": "; ".join(rolling.skipped)[:500] or "none",
        }
    )


def _log_plots(result: Trained) -> None:
    fitted, label = result.fitted, result.fitted.examples.label
    title = result.model_name
    figures = {
        "plots/roc.png": lambda: plots.roc_figure(fitted.test, label, f"ROC — {title}"),
        "plots/calibration.png": lambda: plots.calibration_figure(
            fitted.test, label, title=f"Calibration — {title}"
        ),
        "plots/importance_gain.png": lambda: plots.importance_figure(
            fitted.scorer, title=f"Gain importance — {title}"
        ),
        "plots/shap_summary.png": lambda: plots.shap_figure(
            fitted.scorer, fitted.x_test, title=f"SHAP — {title}"
        ),
    }
    for path, make in figures.items():
        fig = make()
        mlflow.log_figure(fig, path)
        plots.close(fig)


@dataclass
class ChampionReport:
    """A registered model re-scored on the test period of some data."""

    kind: ModelKind
    scorer: Scorer
    test: pd.DataFrame  # keys + features + label + `model` (+ `oracle`)
    label: str
    evaluation: Evaluation


def champion_report(
    kind: ModelKind,
    tables: Tables,
    truth: Any = None,
    *,
    settings: Settings,
    horizon_days: int | None = None,
    alias: str | None = None,
) -> ChampionReport:
    """Load `name@alias` (default: the champion) and score it on the data's test period."""
    from training.scorer import load_scorer

    horizon = horizon_days or settings.horizon_days
    scorer = load_scorer(
        model_name(kind, settings),
        alias or settings.model_alias,
        tracking_uri=configure_tracking(settings),
    )
    examples, bounds = build_examples(kind, tables, horizon_days=horizon)
    frame = examples.frame
    test = frame.loc[bounds.assign(frame[examples.time], frame["partner_id"]) == "test"]
    test = test.reset_index(drop=True)
    test["model"] = scorer.predict(scorer.encode_frame(test))
    if truth is not None:
        test["oracle"] = oracle_probabilities(kind, test, truth, horizon_days=horizon)
    log.info("%s v%s scored on %d test examples", scorer.name, scorer.version, len(test))
    return ChampionReport(kind, scorer, test, examples.label, evaluate_scores(test, examples.label))


def evaluate_champions(
    data: str | Path,
    *,
    settings: Settings | None = None,
    models: Sequence[ModelKind] = MODEL_KINDS,
    horizon_days: int | None = None,
) -> dict[ModelKind, ChampionReport]:
    """Score each registered champion on the test period of `data` (+ oracle if simulated)."""
    settings = settings or get_settings()
    tables, truth = load_data(data)
    return {
        kind: champion_report(kind, tables, truth, settings=settings, horizon_days=horizon_days)
        for kind in models
    }


def metrics_frame(evaluation: Evaluation) -> pd.DataFrame:
    """Rows = model/baseline/oracle, columns = metrics (for tables and notebooks)."""
    return pd.DataFrame(evaluation.metrics).T
