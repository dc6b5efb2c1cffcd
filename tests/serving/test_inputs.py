"""Tolerant, consistent inputs: partial feature sets with warnings, UTC `Z` out, clean ids."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from serving.convert import FEATURE_NAMES
from tests.serving.conftest import headers, score_body

Frame = tuple[pd.DataFrame, datetime]
SCORER = headers("scorer")


@pytest.fixture
def body(feature_frame: Frame) -> dict[str, Any]:
    return score_body(*feature_frame, row=4)


def test_a_full_feature_set_has_no_warnings(client: TestClient, body: dict[str, Any]) -> None:
    r = client.post("/v1/score", json=body, headers=SCORER)
    assert r.status_code == 200 and r.json()["warnings"] == []


def test_a_partial_feature_set_is_scored_with_a_warning(
    client: TestClient, body: dict[str, Any]
) -> None:
    keep = ("partner_type", "revenue_won_365d", "tenure_days", "deals_won_90d")
    body["features"] = {k: body["features"][k] for k in keep}
    r = client.post("/v1/score", json=body, headers=SCORER)
    assert r.status_code == 200, r.text
    [warning] = r.json()["warnings"]
    assert warning["code"] == "features_missing"
    total = len(FEATURE_NAMES)
    assert len(warning["features"]) == total - 4 and "tenure_days" not in warning["features"]
    assert f"{total - 4} of {total} features not sent" in warning["message"]
    assert "rules read" in warning["message"] and "models read" in warning["message"]


def test_all_null_features_are_scored_with_a_warning(
    client: TestClient, body: dict[str, Any]
) -> None:
    body["features"] = dict.fromkeys(body["features"])
    r = client.post("/v1/score", json=body, headers=SCORER)
    assert r.status_code == 200, r.text
    assert [w["code"] for w in r.json()["warnings"]] == ["no_features"]


def test_timestamps_come_back_in_utc_with_z(client: TestClient, body: dict[str, Any]) -> None:
    as_of = pd.Timestamp(body["as_of"])
    body["as_of"] = as_of.tz_convert("Europe/Berlin").isoformat()  # +01:00
    r = client.post("/v1/score", json=body, headers=SCORER)
    got = r.json()["versions"]["as_of"]
    assert got.endswith("Z") and pd.Timestamp(got) == as_of


@pytest.mark.parametrize("pid", [" P1", "P1 ", "P1\t", ""])
def test_ids_with_surrounding_whitespace_are_refused(
    client: TestClient, body: dict[str, Any], pid: str
) -> None:
    body["partner_id"] = pid
    r = client.post("/v1/score", json=body, headers=SCORER)
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "partner_id"]


def _deal(frame: Frame, **changes: Any) -> dict[str, Any]:
    from tests.serving.test_api_score import deal_body

    body = {**deal_body(), "partner_id": str(frame[0]["partner_id"].iloc[2]), **changes}
    return body


def test_a_deal_answer_echoes_customer_and_currency(
    client: TestClient, feature_frame: Frame
) -> None:
    r = client.post(
        "/v1/deal-registrations/score",
        json=_deal(feature_frame, customer_id="C42", currency="USD"),
        headers=SCORER,
    )
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["customer_id"], got["currency"], got["partner_exited"]) == ("C42", "USD", False)


def test_an_unknown_product_or_another_currency_is_refused(
    client: TestClient, feature_frame: Frame
) -> None:
    body = _deal(feature_frame, currency="EUR")
    body["deal"]["product"] = "platinum_widget"
    r = client.post("/v1/deal-registrations/score", json=body, headers=SCORER)
    assert r.status_code == 422
    errors = {tuple(e["loc"]): e for e in r.json()["errors"]}
    assert errors[("body", "deal", "product")]["value"] == "platinum_widget"
    assert "core" in errors[("body", "deal", "product")]["message"]
    assert errors[("body", "currency")]["value"] == "EUR"


def test_an_exited_partner_is_flagged(client: TestClient, feature_frame: Frame) -> None:
    frame, as_of = feature_frame
    partner = dict(score_body(frame, as_of, row=2)["features"], exited=True)
    body = {**_deal(feature_frame), "partner_features": partner, "as_of": as_of.isoformat()}
    del body["partner_id"]
    r = client.post("/v1/deal-registrations/score", json=body, headers=SCORER)
    assert r.status_code == 200, r.text
    assert r.json()["partner_exited"] is True
    assert "exited" in r.json()["warnings"][0]
