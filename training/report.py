"""Rich tables of evaluation results for the terminal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from training.evaluation import Evaluation
from training.metrics import METRICS

if TYPE_CHECKING:
    from training.train import Trained


def metrics_table(title: str, evaluation: Evaluation) -> Table:
    """One row per score (model, baseline, oracle), one column per metric."""
    table = Table(title=title, title_justify="left")
    table.add_column("score")
    for metric in METRICS:
        table.add_column(metric, justify="right")
    for score, values in evaluation.metrics.items():
        table.add_row(score, *(f"{values[m]:.4f}" for m in METRICS))
    return table


def caption(evaluation: Evaluation) -> str:
    parts = [f"{evaluation.examples:,} test examples, {evaluation.positives:,} positive"]
    if evaluation.oracle_gap is not None:
        parts.append(f"oracle gap (AUC) {evaluation.oracle_gap:+.4f}")
    if evaluation.observable_gap is not None:
        parts.append(f"observable-information oracle gap {evaluation.observable_gap:+.4f}")
    if evaluation.oracle_coverage is not None and evaluation.oracle_coverage < 1:
        parts.append(f"truth covers {100 * evaluation.oracle_coverage:.1f}%")
    return "; ".join(parts)


def fit_caption(result: Trained) -> str:
    """The split chosen, the candidate learner, per-segment AUC and the refit."""
    f = result.fitted
    auc = ", ".join(f"{k} {v:.4f}" for k, v in f.validation_auc.items())
    parts = [f.boundaries.describe(), f"candidate {f.learner} (validation AUC {auc})"]
    segments = {
        k.removeprefix("test_roc_auc_"): v
        for k, v in result.evaluation.segments.items()
        if k.startswith("test_roc_auc_")
    }
    if segments:
        parts.append(
            "test AUC by status: " + ", ".join(f"{k} {v:.4f}" for k, v in segments.items())
        )
    if f.scorer.blend is not None:
        b = f.scorer.blend
        parts.append(
            f"lapsed partners: BG/NBD blended in (w={b.weight}; validation AUC "
            f"{b.validation_auc[0]:.4f} -> {b.validation_auc[1]:.4f})"
        )
    rolling = result.evaluation.rolling
    if rolling is not None and rolling.origins:
        r = rolling.summary()
        parts.append(
            f"rolling origin: {len(rolling.origins)} refits, AUC {r['rolling_roc_auc_mean']:.4f}"
            f" ± {r['rolling_roc_auc_sd']:.4f}, ECE {r['rolling_ece_mean']:.4f} ± "
            f"{r['rolling_ece_sd']:.4f}"
        )
    if f.refit is not None:
        parts.append(
            f"registered: refit on {f.refit.examples:,} examples "
            f"{f.refit.range[0]}..{f.refit.range[1]}"
        )
    return "\n  ".join(parts)


def calibration_caption(result: Trained) -> str:
    """The calibrator chosen, what it was fitted on, how many distinct scores it kept on the
    test period, and the test ECE beside its sampling noise."""
    from training.calibration import calibration_metrics

    fitted = result.fitted
    cal = fitted.scorer.calibrator
    m = calibration_metrics(fitted.test["model_raw"], fitted.test["model"])
    chosen = ", ".join(f"{k} {v:.4f}" for k, v in cal.selection)
    evaluation = getattr(result, "evaluation", None)
    seg = evaluation.segments if evaluation is not None else {}
    noise = (
        f"; test ECE {evaluation.metrics['model']['ece']:.4f} ± {seg['test_ece_sd']:.4f} "
        f"(a perfectly calibrated model shows {seg['test_ece_noise']:.4f} here)"
        if evaluation is not None and "test_ece_sd" in seg
        else ""
    )
    return (
        f"calibration {cal.method}"
        + (f" (validation log loss: {chosen})" if chosen else "")
        + (f" fitted on the {fitted.calibration_source}" if fitted.calibration_source else "")
        + f"; {int(m['test_distinct_calibrated']):,} distinct calibrated values of "
        f"{int(m['test_distinct_raw']):,} raw ({m['test_distinct_kept']:.1%} kept)" + noise
    )


def show_trained(results: Mapping[Any, Trained], console: Console, tracking_uri: str) -> None:
    """What `train` did: metrics per model on the test period, the gate, where MLflow is."""
    for result in results.values():
        console.print(
            metrics_table(f"{result.model_name} v{result.version} — test period", result.evaluation)
        )
        console.print(f"  {caption(result.evaluation)}")
        console.print(f"  {fit_caption(result)}")
        console.print(f"  {calibration_caption(result)}")
        if result.decision is not None:
            console.print(f"  gate: {result.decision.reason}")
            if not result.decision.promoted and result.decision.champion_version is None:
                console.print(
                    f"  [yellow]no champion for {result.model_name}[/]: `tierwise weekly` and "
                    "`tierwise serve` need one; `tierwise train --data DIR --force` promotes "
                    f"v{result.version} anyway"
                )
    console.print(
        f"MLflow store: {tracking_uri}\n"
        f"  open the UI with: mlflow ui --backend-store-uri {tracking_uri}"
    )
