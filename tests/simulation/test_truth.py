"""The churn truth's contract: deterministic, subset-consistent, cached, with standard errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simulation.truth_oracle as truth_module
from simulation.program import Simulation, load_truth
from simulation.truth import Truth, churn_estimate
from tierwise.errors import InvalidInput

AS_OF = pd.Timestamp("2026-04-08 15:30", tz="UTC")  # a Wednesday afternoon: a partial week
ROOT = Path(__file__).resolve().parents[2]


def _fresh(sim: Simulation) -> Truth:
    """The same truth without the session's cache."""
    return Truth(deal_acceptance=sim.truth.deal_acceptance, latent=sim.truth.latent)


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> int:
    """Blocks of 25 partners, simulated 100 rows at a time, so a call spans many of both."""
    monkeypatch.setattr(truth_module, "BLOCK_PARTNERS", 25)
    monkeypatch.setattr(truth_module, "BLOCK_ROWS", 100)
    return 25


# ---- determinism -----------------------------------------------------------------------------


def test_same_inputs_give_identical_values(sim: Simulation) -> None:
    a = _fresh(sim).churn_probability(AS_OF, 45)
    b = _fresh(sim).churn_probability(AS_OF, 45)
    pd.testing.assert_series_equal(a, b, check_exact=True)
    assert a.nunique() > 10  # not trivially constant


def test_values_survive_a_write_and_load_round_trip(sim: Simulation, sim_dir: Path) -> None:
    in_memory = _fresh(sim).churn_estimate(AS_OF, 45)
    loaded = load_truth(sim_dir).churn_estimate(AS_OF, 45)
    pd.testing.assert_frame_equal(in_memory, loaded, check_exact=True)


def test_values_do_not_depend_on_the_process(sim: Simulation, sim_dir: Path) -> None:
    code = (
        "import json, sys; import pandas as pd; from simulation.program import load_truth; "
        "p = load_truth(sys.argv[1]).churn_probability(pd.Timestamp(sys.argv[2]), 45); "
        "print(json.dumps({k: v.hex() for k, v in p.items()}))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run(
        [sys.executable, "-c", code, str(sim_dir), AS_OF.isoformat()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    other = {k: float.fromhex(v) for k, v in json.loads(done.stdout).items()}
    here = _fresh(sim).churn_probability(AS_OF, 45)
    assert other == here.to_dict()


def test_inputs_that_change_the_question_change_the_draws(sim: Simulation) -> None:
    base = _fresh(sim).churn_estimate(AS_OF, 45, paths=16)
    later = _fresh(sim).churn_estimate(AS_OF + pd.Timedelta(hours=1), 45, paths=16)
    more = _fresh(sim).churn_estimate(AS_OF, 45, paths=17)
    moving = base["se"] > 0
    assert moving.sum() > 50
    assert not np.allclose(base.loc[moving, "p_churn"], later.loc[moving, "p_churn"])
    assert not np.allclose(base.loc[moving, "p_churn"], more.loc[moving, "p_churn"])


# ---- a subset of partners --------------------------------------------------------------------


@pytest.mark.parametrize("paths", [16, None])
def test_a_subset_gets_the_values_of_the_full_call(
    sim: Simulation, small_blocks: int, paths: int | None
) -> None:
    full = _fresh(sim).churn_estimate(AS_OF, 45, paths=paths)
    assert len(full) > 4 * small_blocks  # the call spans several blocks
    ids = list(full.index[3::7][::-1])  # scattered over the blocks, in reverse order
    part = _fresh(sim).churn_estimate(AS_OF, 45, paths=paths, partner_ids=ids)
    assert part.index.tolist() == ids
    pd.testing.assert_frame_equal(part, full.loc[ids], check_exact=True)


def test_a_subset_leaves_out_partners_not_active_at_as_of(sim: Simulation) -> None:
    everyone = sim.tables.partners["partner_id"].tolist()
    p = _fresh(sim).churn_probability(AS_OF, 45, paths=8, partner_ids=everyone)
    full = _fresh(sim).churn_probability(AS_OF, 45, paths=8)
    assert p.index.tolist() == sorted(full.index, key=everyone.index)
    assert len(p) < len(everyone)  # some had not joined yet, or had exited


def test_a_subset_with_an_unknown_partner_is_refused(sim: Simulation) -> None:
    with pytest.raises(InvalidInput, match="P999999"):
        sim.truth.churn_probability(AS_OF, 45, partner_ids=["P000001", "P999999"])


def test_an_empty_subset_gives_an_empty_series(sim: Simulation) -> None:
    p = sim.truth.churn_probability(AS_OF, 45, partner_ids=[])
    assert p.empty
    assert p.index.name == "partner_id"


# ---- cache -----------------------------------------------------------------------------------


def test_repeated_calls_reuse_the_cached_blocks(
    sim: Simulation, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = truth_module.ESTIMATORS["conditional"]

    def counting(*args: object) -> np.ndarray:
        calls.append(1)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setitem(truth_module.ESTIMATORS, "conditional", counting)
    truth = _fresh(sim)
    first = truth.churn_probability(AS_OF, 45, paths=8)
    n = len(calls)
    assert n > 0
    again = truth.churn_probability(AS_OF, 45, paths=8)
    subset = truth.churn_probability(AS_OF, 45, paths=8, partner_ids=first.index[:5])
    assert len(calls) == n
    pd.testing.assert_series_equal(first, again)
    pd.testing.assert_series_equal(subset, first.iloc[:5])
    truth.churn_probability(AS_OF, 30, paths=8)  # another horizon is another question
    assert len(calls) > n


# ---- standard errors -------------------------------------------------------------------------


def test_standard_errors_are_reported_and_shrink_with_paths(sim: Simulation) -> None:
    few = _fresh(sim).churn_estimate(AS_OF, 90, paths=8)
    many = _fresh(sim).churn_estimate(AS_OF, 90, paths=128)
    assert list(few.columns) == ["p_churn", "se", "paths"]
    quiet = few["p_churn"] == 1.0
    assert quiet.any()
    assert (few.loc[quiet, "se"] == 0).all() and (few.loc[quiet, "paths"] == 0).all()
    moving = (few["se"] > 0) & (many["se"] > 0)
    # sample variances are unbiased (single standard errors of skewed values are not)
    ratio = np.sqrt((few.loc[moving, "se"] ** 2).mean() / (many.loc[moving, "se"] ** 2).mean())
    assert 2.5 < ratio < 6.0  # about sqrt(128 / 8) = 4
    z = (few["p_churn"] - many["p_churn"])[moving] / np.hypot(few["se"], many["se"])[moving]
    assert (np.abs(z) > 4).mean() < 0.02


def test_one_path_has_no_standard_error(sim: Simulation) -> None:
    est = _fresh(sim).churn_estimate(AS_OF, 45, paths=1)
    alive = est["p_churn"] < 1.0
    assert est.loc[alive, "se"].isna().all()
    assert est["p_churn"].between(0, 1).all()


def test_adaptive_paths_aim_at_the_standard_error_target(sim: Simulation) -> None:
    target = 0.004
    est = _fresh(sim).churn_estimate(AS_OF, 90, se_target=target)
    simulated = est["paths"] > 0
    assert est.loc[simulated, "paths"].between(truth_module.MIN_PATHS, truth_module.MAX_PATHS).all()
    assert est["paths"].nunique() > 3  # partners get different numbers of paths
    assert est.loc[simulated, "se"].median() < target
    assert (est.loc[simulated, "se"] > 3 * target).mean() < 0.02
    loose = _fresh(sim).churn_estimate(AS_OF, 90, se_target=4 * target)
    assert loose["paths"].sum() < est["paths"].sum()


# ---- refused inputs --------------------------------------------------------------------------


def test_bad_arguments_are_refused(sim: Simulation) -> None:
    with pytest.raises(InvalidInput, match="paths"):
        sim.truth.churn_estimate(AS_OF, 45, paths=0)
    with pytest.raises(InvalidInput, match="se_target"):
        sim.truth.churn_estimate(AS_OF, 45, se_target=0.0)
    with pytest.raises(InvalidInput, match="'exact'"):
        churn_estimate(sim.truth.latent, AS_OF, 45, method="exact")  # type: ignore[arg-type]
