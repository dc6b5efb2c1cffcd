"""Tolerant, consistent inputs: partial feature sets with warnings, UTC `Z` out, clean ids."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

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
    assert len(warning["features"]) == 75 and "tenure_days" not in warning["features"]
    assert "75 of 79 features not sent" in warning["message"]
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
