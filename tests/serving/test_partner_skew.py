"""No training/serving skew for partners: every partner of a simulated program gets, from
the one-partner path (a request's features as JSON values, `Scorer.encode`, scalar BG/NBD),
the model input and the probabilities the frame path (`encode_frame`, vector BG/NBD, the
weekly job and training) gives it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from features import registry
from features.deal_features import typical_deal, typical_deal_frame
from serving.recommend import model_outputs, model_outputs_frame
from serving.service_state import Loaded
from serving.snapshots import clean_value
from tests.serving.conftest import headers

Frame = tuple[pd.DataFrame, datetime]


def _requests(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """What a PRM system sends for each partner: every registry feature as a JSON value."""
    return [{n: clean_value(row[n]) for n in registry.FEATURES} for row in frame.to_dict("records")]


def test_every_partner_encodes_as_in_the_frame(feature_frame: Frame, loaded: Loaded) -> None:
    frame, _ = feature_frame
    churn, deal = loaded.models.churn, loaded.models.deal
    assert deal is not None and len(frame) > 100
    rows = _requests(frame)
    one = np.vstack([churn.encode([row]) for row in rows])
    np.testing.assert_allclose(one, churn.encode_frame(frame), rtol=1e-12, atol=0)
    deal_one = np.vstack([deal.encode([{**row, **typical_deal(row)}]) for row in rows])
    np.testing.assert_allclose(
        deal_one, deal.encode_frame(typical_deal_frame(frame)), rtol=1e-12, atol=0
    )
    derived = [churn.features.index(n) for n in churn.features if n.startswith("bgnbd_")]
    assert derived and np.isfinite(one[:, derived]).mean() > 0.5  # computed per request


def test_every_partner_scores_as_in_the_frame(feature_frame: Frame, loaded: Loaded) -> None:
    frame, _ = feature_frame
    expected = model_outputs_frame(frame, loaded.models)
    one = pd.DataFrame([model_outputs(row, loaded.models) for row in _requests(frame)])
    for name in ("churn_risk", "deal_acceptance"):
        np.testing.assert_allclose(one[name], expected[name], rtol=1e-12, atol=1e-15)
    assert expected["churn_risk"].nunique() > 10


@pytest.mark.slow
def test_every_partner_scores_over_http_as_in_the_frame(
    feature_frame: Frame, loaded: Loaded, client: TestClient
) -> None:
    frame, as_of = feature_frame
    expected = model_outputs_frame(frame, loaded.models)
    for i, features in enumerate(_requests(frame)):
        body = {"partner_id": str(frame["partner_id"].iloc[i]), "as_of": as_of.isoformat()}
        response = client.post(
            "/v1/score", json={**body, "features": features}, headers=headers("scorer")
        )
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["churn_risk"] == pytest.approx(expected["churn_risk"][i], rel=1e-12)
        assert answer["deal_acceptance"] == pytest.approx(expected["deal_acceptance"][i], rel=1e-12)
