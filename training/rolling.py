"""Rolling-origin evaluation: refit at each test cut-off, score that cut-off only.

The held-out evaluation fits once and scores every test cut-off with that one model, so the
later cut-offs are scored by a model a horizon or more older than it would be in use. Here
each test cut-off is an *origin*: the split is planned again on the cut-offs up to it (one
test cut-off; validation and training before it, with the purge gap), the candidate is
fitted anew (`training.fit.fit_examples`: both learners, the better one on validation, its
calibrator) and scored on that origin alone. The spread of the per-origin metrics says how
much one test period's figure can be trusted. Churn only (deals have no cut-offs).
"""

from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass, field, replace

import pandas as pd

from tierwise.errors import InvalidInput
from training.examples import Examples
from training.metrics import evaluate
from training.models import LgbConfig
from training.split import Boundaries, plan_split

log = logging.getLogger(__name__)

MAX_ROWS = 150_000  # `auto` refits at each origin up to this many examples
SUMMARISED = ("roc_auc", "ece", "brier", "log_loss")


@dataclass(frozen=True)
class Origin:
    origin: pd.Timestamp
    split: str  # what the split chose at this origin
    learner: str
    examples: int
    metrics: dict[str, float]


@dataclass
class Rolling:
    origins: list[Origin] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # origins that could not be fitted, why

    def summary(self) -> dict[str, float]:
        """rolling_{metric}_mean / _sd over the origins (sd 0 with one origin)."""
        out: dict[str, float] = {"rolling_origins": float(len(self.origins))}
        for name in SUMMARISED:
            values = [o.metrics[name] for o in self.origins]
            if values:
                out[f"rolling_{name}_mean"] = statistics.fmean(values)
                out[f"rolling_{name}_sd"] = statistics.stdev(values) if len(values) > 1 else 0.0
        return out


def wanted(setting: str, examples: Examples, bounds: Boundaries) -> bool:
    """`on`, `off`, or `auto`: churn whose test data is short — a short history, so the split
    holds out partners — with several test cut-offs and at most MAX_ROWS examples."""
    if setting == "off" or examples.kind != "churn":
        return False
    short = bounds.mode != "time"
    small = len(examples.frame) <= MAX_ROWS
    return setting == "on" or (short and small and bounds.test_snapshots > 1)


def rolling_origin(
    examples: Examples,
    bounds: Boundaries,
    *,
    horizon_days: int,
    config: LgbConfig | None = None,
) -> Rolling:
    """Refit and score at each test cut-off of `bounds` (see the module docstring)."""
    from training.fit import fit_examples

    frame = examples.frame
    times = pd.to_datetime(frame[examples.time], utc=True)
    stamps = sorted(times.unique())
    result = Rolling()
    for origin in (s for s in stamps if s >= bounds.test_start):
        upto = [s for s in stamps if s <= origin]
        subset = replace(examples, frame=frame.loc[(times <= origin).to_numpy()])
        try:
            split = plan_split(
                upto, horizon_days=horizon_days, test_snapshots=1, cadence=bounds.cadence
            )
            fitted = fit_examples(subset, split, config=config, horizon_days=horizon_days)
        except InvalidInput as exc:
            result.skipped.append(f"{origin.date()}: {exc}")
            log.warning("rolling origin %s skipped: %s", origin.date(), exc)
            continue
        labels = fitted.labels
        metrics = evaluate(labels, fitted.test["model"].to_numpy())
        result.origins.append(
            Origin(origin, split.describe(), fitted.learner, len(labels), metrics)
        )
        log.info(
            "rolling origin %s: AUC %.4f, ECE %.4f on %d examples (%s)",
            origin.date(),
            metrics["roc_auc"],
            metrics["ece"],
            len(labels),
            split.mode,
        )
    return result
