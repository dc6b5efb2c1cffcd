from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from simulation.observable import observable_churn_probability
from simulation.program import Simulation, simulate
from tierwise.errors import InvalidInput
from training.labels import churn_labels

pytestmark = pytest.mark.slow
END = datetime(2026, 11, 23, tzinfo=UTC)
AS_OFS = [pd.Timestamp("2026-05-04", tz="UTC"), pd.Timestamp("2026-07-06", tz="UTC")]


@pytest.fixture(scope="module")
def sim() -> Simulation:
    return simulate(partners=400, years=1.5, seed=3, end=END)


@pytest.fixture(scope="module")
def scored(sim: Simulation) -> pd.DataFrame:
    observable = observable_churn_probability(
        sim.truth.latent, sim.tables, AS_OFS, 90, particles=32
    )
    labels = churn_labels(sim.tables, AS_OFS, horizon_days=90)
    full = pd.concat(
        sim.truth.churn_probability(a, 90).rename("full").reset_index().assign(as_of=a)
        for a in AS_OFS
    )
    return labels.merge(observable, on=["partner_id", "as_of"]).merge(
        full, on=["partner_id", "as_of"]
    )


def test_it_scores_the_partners_the_truth_scores(sim: Simulation, scored: pd.DataFrame) -> None:
    labels = churn_labels(sim.tables, AS_OFS, horizon_days=90)
    assert len(scored) == len(labels)
    assert scored["p_churn"].between(0, 1).all()


def test_it_is_calibrated_and_ranks_below_the_full_oracle(scored: pd.DataFrame) -> None:
    assert abs(scored["p_churn"].mean() - scored["churned"].mean()) < 0.05
    observable = roc_auc_score(scored["churned"], scored["p_churn"])
    full = roc_auc_score(scored["churned"], scored["full"])
    assert 0.75 < observable <= full + 0.01


def test_bad_particle_count_is_refused(sim: Simulation) -> None:
    with pytest.raises(InvalidInput, match="particles must be >= 2"):
        observable_churn_probability(sim.truth.latent, sim.tables, AS_OFS, 90, particles=1)
