"""A program without rejected registrations has no deal model: scores still answer."""

from dataclasses import replace
from datetime import datetime

import pandas as pd

from serving.schemas import EXAMPLE_DEAL
from serving.service_state import Loaded, ServiceState
from tests.serving.conftest import MakeClient, headers, score_body
from tierwise.settings import Settings


def test_scores_without_a_deal_model(
    make_client: MakeClient,
    settings: Settings,
    loaded: Loaded,
    feature_frame: tuple[pd.DataFrame, datetime],
) -> None:
    state = ServiceState(settings)
    state.current = replace(loaded, models=replace(loaded.models, deal=None))
    client = make_client(state=state)
    frame, as_of = feature_frame
    scored = client.post("/v1/score", json=score_body(frame, as_of), headers=headers("scorer"))
    assert scored.status_code == 200, scored.text
    assert scored.json()["deal_acceptance"] is None
    assert [m["name"] for m in scored.json()["versions"]["models"]] == ["tierwise-churn"]
    body = {"partner_id": str(frame["partner_id"].iloc[0]), "deal": EXAMPLE_DEAL}
    deal = client.post("/v1/deal-registrations/score", json=body, headers=headers("scorer"))
    assert deal.status_code == 503, deal.text
    assert "no deal-acceptance model" in deal.json()["detail"]
