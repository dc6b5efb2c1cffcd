"""P(the action works): responses, the posterior per action × segment, Thompson draws, and
the table in a real MLflow registry."""

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from tierwise.errors import ModelError
from tierwise.settings import Settings
from training.propensity import (
    ALL,
    Propensities,
    examples,
    fit_propensity,
    responded,
    source,
    unit_draw,
)
from training.propensity_registry import load_propensities, log_propensity
from training.registry import configure_tracking

PRIORS = {"retention_call": (5.0, 15.0), "push_certification": (2.0, 8.0)}


def test_each_action_has_its_own_response() -> None:
    before = pd.DataFrame(
        {
            "exited": [False] * 4,
            "days_since_last_activity": [40.0, 40.0, 40.0, 3.0],
            "cert_passes_90d": [0.0, 0.0, 1.0, 1.0],
        }
    )
    after = pd.DataFrame(
        {
            # an activity 10 days ago, 28 days after the decision: a sign of life; 68: none;
            # the last row left the program (exited) although it was active
            "exited": [False, False, False, True],
            "days_since_last_activity": [10.0, 68.0, 68.0, 1.0],
            "cert_passes_90d": [0.0, 0.0, 2.0, 1.0],
        }
    )
    actions = ["retention_call", "retention_call", "push_certification", "retention_call"]
    got = responded(actions, before, after, elapsed_days=np.full(4, 28.0))
    assert got.tolist() == [True, False, True, False]


def test_a_dismissal_never_works_and_an_open_acceptance_is_left_out() -> None:
    decisions = pd.DataFrame(
        {
            "action_id": ["retention_call"] * 4,
            "status": ["done", "dismissed", "accepted", "done"],
            "elapsed_days": 28.0,
        }
    )
    before = pd.DataFrame(
        {"lifecycle_status": ["active", "active", "lapsed", None], "exited": False}
    ).assign(days_since_last_activity=50.0)
    # every partner shows a sign of life afterwards, the dismissed one too
    after = before.assign(days_since_last_activity=5.0)
    ex = examples(decisions, before, after)
    assert ex["success"].tolist() == [True, False, True]
    assert ex["segment"].tolist() == ["active", "active", "unknown"]


def hand_examples() -> pd.DataFrame:
    # retention_call: active 8 decisions, 6 worked; lapsed 2 decisions, 0 worked
    rows = [("active", True)] * 6 + [("active", False)] * 2 + [("lapsed", False)] * 2
    frame = pd.DataFrame(rows, columns=["segment", "success"]).assign(action_id="retention_call")
    return pd.concat(
        [frame, pd.DataFrame({"action_id": ["not_learned"], "segment": ["new"], "success": [True]})]
    )


def test_the_posterior_is_the_prior_plus_the_evidence() -> None:
    table = fit_propensity(hand_examples(), PRIORS).set_index(["action_id", "segment"])
    # pooled: Beta(5 + 6, 15 + 4) = Beta(11, 19), mean 11/30
    assert list(table.loc[("retention_call", ALL), ["n", "successes"]]) == [10, 6]
    assert table.loc[("retention_call", ALL), "alpha"] == pytest.approx(11.0)
    assert table.loc[("retention_call", ALL), "beta"] == pytest.approx(19.0)
    # a cell: the prior's strength (20) recentred on the pooled mean, plus the cell's counts:
    # active = Beta(20 × 11/30 + 6, 20 × 19/30 + 2) = Beta(13.33, 14.67)
    assert table.loc[("retention_call", "active"), "alpha"] == pytest.approx(20 * 11 / 30 + 6)
    assert table.loc[("retention_call", "active"), "beta"] == pytest.approx(20 * 19 / 30 + 2)
    # no evidence: the prior itself; an action the rulebook does not learn: not in the table
    assert list(table.loc[("push_certification", ALL), ["alpha", "beta"]]) == [2.0, 8.0]
    assert "not_learned" not in table.index.get_level_values(0)


def test_a_cell_with_no_decisions_leans_on_its_action() -> None:
    table = fit_propensity(hand_examples(), PRIORS)
    props = Propensities.from_table(table, PRIORS)
    a, b = props.posterior("retention_call", "new")  # no decision for new partners
    assert a / (a + b) == pytest.approx(11 / 30)
    assert props.evidence("retention_call", "new") == 10
    assert props.evidence("retention_call", "lapsed") == 2
    assert props.evidence("push_certification", "active") == 0


def test_a_prior_changed_after_the_fit_takes_effect_at_once() -> None:
    props = Propensities.from_table(fit_propensity(hand_examples(), PRIORS), PRIORS)
    looser = props.with_priors({"retention_call": (1.0, 1.0)})
    assert looser.posterior("retention_call", ALL) == (7.0, 5.0)  # Beta(1 + 6, 1 + 4)


def test_a_thompson_draw_is_fixed_per_week_and_centred_on_the_posterior() -> None:
    props = Propensities.from_table(fit_propensity(hand_examples(), PRIORS), PRIORS)
    first = props.draw("retention_call", "active", "2026-W49")
    again = Propensities.from_table(fit_propensity(hand_examples(), PRIORS), PRIORS)
    assert again.draw("retention_call", "active", "2026-W49") == first
    assert first[1] == 8
    weeks = [props.draw("retention_call", "active", f"w{i}")[0] for i in range(2000)]
    a, b = props.posterior("retention_call", "active")
    assert len(set(weeks)) == 2000
    assert np.mean(weeks) == pytest.approx(a / (a + b), abs=0.01)
    assert np.std(weeks) == pytest.approx(np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1))), rel=0.1)


def test_draws_of_a_frame_are_the_draws_of_its_rows() -> None:
    props = Propensities.from_table(fit_propensity(hand_examples(), PRIORS), PRIORS)
    ids, segs = ["retention_call", "push_certification", "retention_call"], ["lapsed", None, "x"]
    p, n = props.draws(ids, segs, "2026-W49")
    one = [props.draw(a, s, "2026-W49") for a, s in zip(ids, segs, strict=True)]
    assert p.tolist() == [x for x, _ in one] and n.tolist() == [2, 0, 10]
    assert [source(int(k)) for k in n] == ["learned (n=2)", "prior", "learned (n=10)"]
    assert 0 < unit_draw("a", 1) < 1 and unit_draw("a", 1) != unit_draw("a", 2)


def test_the_table_is_registered_in_mlflow_and_loads_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")  # recorded: what training sets is undone
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", "")  # set_registry_uri writes it too
    monkeypatch.delenv("MLFLOW_REGISTRY_URI")
    uri = configure_tracking(Settings(data_dir=tmp_path))  # sqlite:///<tmp>/mlflow.db
    experiment = mlflow.create_experiment("p", artifact_location=(tmp_path / "art").as_uri())
    table = fit_propensity(hand_examples(), PRIORS)
    with mlflow.start_run(experiment_id=experiment):
        version = log_propensity(table, PRIORS, seed=3)
    loaded = load_propensities(tracking_uri=uri)
    assert (loaded.version, loaded.seed) == (version, 3)
    assert loaded.counts == Propensities.from_table(table, PRIORS).counts
    model = mlflow.pyfunc.load_model("models:/tierwise-propensity@champion")
    out = model.predict(pd.DataFrame({"action_id": ["retention_call"], "segment": [ALL]}))
    assert out["propensity"].tolist() == pytest.approx([11 / 30])
    with pytest.raises(ModelError, match="tierwise-nothing@champion not found"):
        load_propensities("tierwise-nothing", tracking_uri=uri)
