"""`tierwise` subcommands of the training package (thin wrappers: load, call, save)."""

from __future__ import annotations

import logging
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from tierwise.errors import TierwiseError
from tierwise.settings import Settings, get_settings

if TYPE_CHECKING:
    from training.examples import ModelKind

log = logging.getLogger(__name__)
console = Console()


class RollingChoice(StrEnum):
    auto = "auto"
    on = "on"
    off = "off"


class ModelChoice(StrEnum):
    churn = "churn"
    deal = "deal"
    both = "both"
    propensity = "propensity"  # learned propensities from the service database's reviews


def _kinds(choice: ModelChoice) -> tuple[ModelKind, ...]:
    if choice is ModelChoice.propensity:
        raise typer.BadParameter("the propensity table is fitted by `tierwise train` only")
    if choice is ModelChoice.both:
        return ("churn", "deal")
    return ("churn",) if choice is ModelChoice.churn else ("deal",)


def _snapshots(value: str, option: str) -> int | None:
    """`auto` → None (the split decides); else a whole number of at least 1."""
    if value.strip().lower() == "auto":
        return None
    try:
        parsed = float(value)  # MLflow passes float parameters as "3.0"
    except ValueError:
        parsed = 0.0
    number = int(parsed)
    if number < 1 or parsed != number:
        raise typer.BadParameter(f"{option} must be a whole number >= 1 or 'auto', got {value!r}")
    return number


def train(
    data: Path = typer.Option(None, "--data", help="Data directory [TIERWISE_DATA_DIR]"),
    horizon_days: int = typer.Option(
        None, "--horizon-days", min=1, help="Churn horizon in days [TIERWISE_HORIZON_DAYS]"
    ),
    force: bool = typer.Option(
        False,
        "--force",
        envvar="TIERWISE_FORCE_PROMOTION",
        help="Make the new version champion even if it scores worse",
    ),
    model: ModelChoice = typer.Option(ModelChoice.both, "--model", help="Which model(s)"),
    test_snapshots: str = typer.Option(
        "auto", "--test-snapshots", help="Churn cut-offs in the test period (N or auto)"
    ),
    validation_snapshots: str = typer.Option(
        "auto",
        "--validation-snapshots",
        help="Churn cut-offs in the validation period (N or auto: 3, fewer, held-out partners)",
    ),
    registrations_db: str = typer.Option(
        None,
        "--registrations-db",
        help="Service database URL: its stored registrations and reported decisions join the "
        "deal model's examples (decisions as labels, decided registrations the data lacks "
        "as new rows)",
    ),
    rolling_origin: RollingChoice = typer.Option(
        RollingChoice.auto,
        "--rolling-origin",
        help="Refit the churn model at each test cut-off and log per-origin metrics "
        "(auto: short histories of up to 150,000 examples)",
    ),
) -> None:
    """Train, evaluate, refit, log, register and gate the churn and/or deal-acceptance models.

    The split fits the history there is and says what it chose; the registered model is
    refitted on all labelled data and promoted only above the floor
    (TIERWISE_PROMOTION_MIN_AUC, TIERWISE_PROMOTION_MAX_ECE) and at least as good as the champion.

    `--model propensity` fits P(the action works) per action × segment on the service
    database's review history instead (decisions and the outcomes that followed).
    """
    from training.report import show_trained
    from training.train import train_all

    settings = get_settings()
    if model is ModelChoice.propensity:
        _train_propensity(
            settings if data is None else settings.model_copy(update={"data_dir": data})
        )
        return
    try:
        results = train_all(
            data or settings.data_dir,
            settings=settings,
            models=_kinds(model),
            horizon_days=horizon_days,
            force=force,
            test_snapshots=_snapshots(test_snapshots, "--test-snapshots"),
            validation_snapshots=_snapshots(validation_snapshots, "--validation-snapshots"),
            registrations_db=registrations_db,
            rolling=rolling_origin.value,
        )
    except TierwiseError as exc:
        console.print(f"[red]training failed:[/] {exc}")
        raise typer.Exit(code=1) from exc
    show_trained(results, console, settings.mlflow_tracking_uri)


def _train_propensity(settings: Settings) -> None:
    from training.propensity_train import train_propensity

    try:
        fit = train_propensity(settings)
    except TierwiseError as exc:
        console.print(f"[red]training failed:[/] {exc}")
        raise typer.Exit(code=1) from exc
    pooled = fit.table.loc[fit.table["segment"] == "*"]
    console.print(
        f"{settings.propensity_model} v{fit.version} @champion from {fit.decisions} decisions"
    )
    for row in pooled.itertuples():
        console.print(
            f"  {row.action_id:<22} n={row.n:<5} works {row.successes:<5} p={row.mean:.3f}"
        )


def evaluate(
    data: Path = typer.Option(None, "--data", help="Data directory [TIERWISE_DATA_DIR]"),
    horizon_days: int = typer.Option(None, "--horizon-days", min=1, help="Churn horizon"),
    model: ModelChoice = typer.Option(ModelChoice.both, "--model", help="Which model(s)"),
) -> None:
    """Evaluate the current champion(s) on the most recent period of the data."""
    from training.report import caption, metrics_table
    from training.train import evaluate_champions

    settings = get_settings()
    try:
        results = evaluate_champions(
            data or settings.data_dir,
            settings=settings,
            models=_kinds(model),
            horizon_days=horizon_days,
        )
    except TierwiseError as exc:
        console.print(f"[red]evaluation failed:[/] {exc}")
        raise typer.Exit(code=1) from exc
    for report in results.values():
        title = f"{report.scorer.name} v{report.scorer.version} (champion) — test period"
        console.print(metrics_table(title, report.evaluation))
        console.print(f"  {caption(report.evaluation)}")


def register(app: typer.Typer) -> None:
    """Add this package's commands to the `tierwise` CLI."""
    app.command()(train)
    app.command()(evaluate)
