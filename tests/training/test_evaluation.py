from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from simulation.program import simulate
from training.evaluation import evaluate_scores, oracle_probabilities
from training.examples import churn_examples
from training.labels import monthly_as_ofs


def scored(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0.05, 0.6, n)
    return pd.DataFrame(
        {
            "label": (rng.random(n) < truth).astype(int),
            "oracle": truth,
            "model": np.clip(truth + rng.normal(0, 0.15, n), 0.01, 0.99),
            "baseline": rng.uniform(0, 1, n),
        }
    )


def test_gap_is_oracle_auc_minus_model_auc() -> None:
    ev = evaluate_scores(scored(), "label")
    assert ev.oracle_gap == pytest.approx(
        ev.metrics["oracle"]["roc_auc"] - ev.metrics["model"]["roc_auc"]
    )
    assert ev.metrics["oracle"]["roc_auc"] > ev.metrics["baseline"]["roc_auc"]


def test_oracle_scored_only_where_the_truth_covers() -> None:
    frame = scored()
    frame.loc[:99, "oracle"] = np.nan
    ev = evaluate_scores(frame, "label")
    assert ev.oracle_coverage == pytest.approx(0.75)
    assert ev.examples == 400  # model and baseline still use every row


def test_flat_metrics_carry_the_score_name() -> None:
    flat = evaluate_scores(scored(), "label").flat()
    assert {"model_roc_auc", "baseline_ece", "oracle_brier", "oracle_gap"} <= set(flat)


@pytest.mark.slow
def test_simulator_truth_covers_every_churn_example() -> None:
    sim = simulate(partners=300, years=2, seed=5, end=datetime(2026, 11, 23, tzinfo=UTC))
    last = monthly_as_ofs(sim.tables, horizon_days=90)[-1]
    ex = churn_examples(sim.tables, horizon_days=90, as_ofs=[last])
    oracle = oracle_probabilities("churn", ex.frame, sim.truth, horizon_days=90, paths=64)
    assert not np.isnan(oracle).any()
    ev = evaluate_scores(ex.frame.assign(model=oracle), "churned")
    assert ev.metrics["model"]["roc_auc"] > 0.8  # the truth ranks our labels well
