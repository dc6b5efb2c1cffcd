"""No training/serving skew for deal registrations: every decided deal of a simulated program,
scored over HTTP with its attributes and its partner's features, gets exactly the model input
(and so the likelihood) its training example has."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from features import registry
from features.deal_features import DEAL_INPUTS, deal_example
from features.io import load_tables
from serving.service_state import Loaded
from serving.snapshots import clean_value
from tests.serving.conftest import headers
from training.examples import Examples, deal_examples


@pytest.fixture(scope="module")
def examples(served_dir: Path) -> Examples:
    return deal_examples(load_tables(served_dir))


def _request(row: pd.Series) -> dict[str, Any]:
    """What a PRM system sends for this registration: its attributes and partner features."""
    return {
        "deal_id": str(row["deal_id"]),
        "partner_features": {n: clean_value(row[n]) for n in registry.FEATURES},
        "as_of": pd.Timestamp(row["registered_at"]).floor("us").isoformat(),
        "deal": {f.name: clean_value(row[f.name]) for f in DEAL_INPUTS},
    }


def test_the_serving_row_encodes_like_the_training_example(
    examples: Examples, loaded: Loaded
) -> None:
    model = loaded.models.deal
    trained = model.encode_frame(examples.frame)
    served = model.encode(
        [deal_example(r["deal"], r["partner_features"]) for r in map(_request, _rows(examples))]
    )
    assert len(trained) > 100
    np.testing.assert_array_equal(served, trained)


@pytest.mark.slow
def test_every_decided_deal_scores_over_http_as_in_training(
    examples: Examples, loaded: Loaded, client: TestClient
) -> None:
    model = loaded.models.deal
    expected = model.predict(model.encode_frame(examples.frame))
    for i, row in enumerate(_rows(examples)):
        response = client.post(
            "/v1/deal-registrations/score", json=_request(row), headers=headers("scorer")
        )
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["acceptance_likelihood"] == pytest.approx(expected[i], abs=1e-12), row
        for reason in answer["reasons"]:
            assert reason["value"] == pytest.approx(clean_value(row[reason["feature"]])), reason


def _rows(examples: Examples) -> list[pd.Series]:
    return [row for _, row in examples.frame.iterrows()]
