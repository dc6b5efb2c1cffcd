"""Bad input over HTTP: every bad field named in problem+json, always 4xx, never a default."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.serving.conftest import MakeClient, headers, score_body

Frame = tuple[pd.DataFrame, datetime]
SCORER = headers("scorer")


@pytest.fixture
def body(feature_frame: Frame) -> dict[str, Any]:
    return score_body(*feature_frame, row=1)


def post_raw(client: TestClient, text: str, path: str = "/v1/score") -> Any:
    return client.post(
        path, content=text.encode(), headers={**SCORER, "Content-Type": "application/json"}
    )


def locs(r: Any) -> list[list[Any]]:
    assert r.headers["content-type"] == "application/problem+json", r.text
    return [e["loc"] for e in r.json()["errors"]]


def test_every_bad_field_is_named_at_once(client: TestClient, body: dict[str, Any]) -> None:
    body["features"]["deals_won_90d"] = -3
    body["features"]["partner_type"] = "franchise"
    body["features"]["onboarded"] = "yes"
    body["features"]["revenue_won_365"] = 1200.0
    body["as_of"] = "2026-11-23T00:00:00"  # no UTC offset
    r = client.post("/v1/score", json=body, headers=SCORER)
    assert r.status_code == 422
    assert r.json()["title"] == "Invalid input"
    assert sorted(map(str, locs(r))) == sorted(
        map(
            str,
            [
                ["body", "as_of"],
                ["body", "features", "deals_won_90d"],
                ["body", "features", "partner_type"],
                ["body", "features", "onboarded"],
                ["body", "features", "revenue_won_365"],
            ],
        )
    )
    unknown = next(e for e in r.json()["errors"] if e["loc"][-1] == "revenue_won_365")
    assert "did you mean 'revenue_won_365d'" in unknown["message"]
    negative = next(e for e in r.json()["errors"] if e["loc"][-1] == "deals_won_90d")
    assert negative["value"] == -3


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_nan_and_infinity_are_refused(
    client: TestClient, body: dict[str, Any], literal: str
) -> None:
    doc = json.dumps(body)
    value = json.dumps(body["features"]["revenue_won_365d"])
    doc = doc.replace(f'"revenue_won_365d": {value}', f'"revenue_won_365d": {literal}', 1)
    r = post_raw(client, doc)
    assert r.status_code == 422
    assert locs(r) == [["body", "features", "revenue_won_365d"]]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("market_share", 1.5),
        ("satisfaction_latest", 11.0),
        ("certified_staff", "3"),
        ("exited", 1),
        ("region", ""),
        ("recruited_via", "carrier pigeon"),
    ],
)
def test_out_of_range_and_wrong_typed_features(
    client: TestClient, body: dict[str, Any], field: str, value: Any
) -> None:
    body["features"][field] = value
    r = client.post("/v1/score", json=body, headers=SCORER)
    assert r.status_code == 422
    assert locs(r) == [["body", "features", field]]


def test_null_is_missing_not_an_error(client: TestClient, body: dict[str, Any]) -> None:
    body["features"]["satisfaction_latest"] = None
    assert client.post("/v1/score", json=body, headers=SCORER).status_code == 200


def test_unknown_fields_at_the_top_level_are_refused(
    client: TestClient, body: dict[str, Any]
) -> None:
    body["churn_risk"] = 0.01  # a client may not supply model outputs
    r = client.post("/v1/score", json=body, headers=SCORER)
    assert r.status_code == 422
    assert locs(r) == [["body", "churn_risk"]]


def test_unknown_tier_and_action_are_named(client: TestClient, body: dict[str, Any]) -> None:
    body["previous"] = {"tier": "Diamond", "missed_evaluations": 0}
    body["history"] = [
        {"action_id": "send_flowers", "last_done_or_dismissed_at": "2026-11-01T00:00:00Z"}
    ]
    r = client.post("/v1/score", json=body, headers=SCORER)
    assert r.status_code == 422
    assert locs(r) == [["body", "previous", "tier"], ["body", "history", 0, "action_id"]]
    assert r.json()["errors"][0]["value"] == "Diamond"


def test_batch_errors_name_the_item(client: TestClient, feature_frame: Frame) -> None:
    bodies = [score_body(*feature_frame, row=i) for i in range(3)]
    bodies[2]["features"]["deals_won_30d"] = -1
    r = client.post("/v1/score/batch", json={"partners": bodies}, headers=SCORER)
    assert r.status_code == 200  # per-item results: the bad item has its own problem
    item = r.json()["results"][2]
    assert item["status"] == 422
    assert [e["loc"] for e in item["problem"]["errors"]] == [
        ["body", "partners", 2, "features", "deals_won_30d"]
    ]


@pytest.mark.parametrize(
    ("text", "status"), [("{", 400), ('{"a": tru}', 400), ("[]", 422), ("null", 422), ('"a"', 422)]
)
def test_malformed_json_is_400_and_wrong_shapes_422(
    client: TestClient, text: str, status: int
) -> None:
    r = post_raw(client, text)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"


def test_an_oversized_body_is_413_by_content_length(
    make_client: MakeClient, body: dict[str, Any]
) -> None:
    c = make_client(max_body_bytes=2048)
    r = c.post("/v1/score", json=body, headers=SCORER)
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"
    assert "2048" in r.json()["detail"]


def test_an_oversized_streamed_body_is_413_while_reading(
    make_client: MakeClient, body: dict[str, Any]
) -> None:
    c = make_client(max_body_bytes=2048)
    data = json.dumps(body).encode()

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer
        for i in range(0, len(data), 500):
            yield data[i : i + 500]

    r = c.post(
        "/v1/score", content=chunks(), headers={**SCORER, "Content-Type": "application/json"}
    )
    assert r.status_code == 413


def test_a_body_within_the_limit_passes(make_client: MakeClient, body: dict[str, Any]) -> None:
    size = len(json.dumps(body).encode())
    c = make_client(max_body_bytes=size + 10)
    assert c.post("/v1/score", json=body, headers=SCORER).status_code == 200


def test_unknown_routes_and_methods_are_problem_json(client: TestClient) -> None:
    assert client.get("/v1/nothing").headers["content-type"] == "application/problem+json"
    r = client.get("/v1/score", headers=SCORER)
    assert r.status_code == 405
    assert r.headers["content-type"] == "application/problem+json"


def test_garbage_never_gives_a_500(client: TestClient, body: dict[str, Any]) -> None:
    cases: list[Any] = [
        {**body, "features": None},
        {**body, "features": []},
        {**body, "partner_id": ""},
        {**body, "history": "x"},
        {**body, "previous": {"tier": None}},
        {**body, "as_of": "yesterday"},
        {"partners": []},
        42,
    ]
    for case in cases:
        for path in ("/v1/score", "/v1/score/batch", "/v1/deal-registrations/score"):
            r = client.post(path, json=case, headers=SCORER)
            assert 400 <= r.status_code < 500, (path, case, r.text)
            assert r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "as_of", [0, 1_700_000_000, "0001-01-01T00:00:00+00:03", "9999-12-31T23:59:59-00:01"]
)
@pytest.mark.parametrize("path", ["/v1/score", "/v1/score/batch"])
def test_an_epoch_number_or_extreme_as_of_is_422_not_500(
    client: TestClient, body: dict[str, Any], as_of: Any, path: str
) -> None:
    body["as_of"] = as_of
    if path == "/v1/score":
        r = client.post(path, json=body, headers=SCORER)
        assert r.status_code == 422, r.text
        assert any(loc[-1] == "as_of" for loc in locs(r))
        return
    r = client.post(path, json={"partners": [body]}, headers=SCORER)
    item = r.json()["results"][0]
    assert item["status"] == 422, r.text
    assert [e["loc"][-1] for e in item["problem"]["errors"]] == ["as_of"]


def test_huge_features_are_422_naming_the_field(client: TestClient, body: dict[str, Any]) -> None:
    body["features"]["revenue_won_365d"] = 1e308
    r = client.post("/v1/score", json=body, headers=SCORER)
    assert r.status_code == 422
    assert ["body", "features", "revenue_won_365d"] in locs(r)


def test_the_largest_accepted_features_give_finite_numbers(
    client: TestClient, body: dict[str, Any]
) -> None:
    from features import registry
    from serving.schemas import FEATURE_MAX

    for name, value in body["features"].items():
        if isinstance(value, float) and registry.get(name).unit in ("USD", "count"):
            body["features"][name] = FEATURE_MAX
    r = client.post("/v1/score?explain=true", json=body, headers=SCORER)
    assert r.status_code == 200, r.text

    def refuse(token: str) -> None:
        raise AssertionError(f"non-finite number {token} in the answer")

    answer = json.loads(r.text, parse_constant=refuse)
    numbers = [a["priority"] for a in answer["actions"]]
    numbers += [i["amount"] for i in answer["incentives"]]
    assert all(isinstance(n, float | int) and abs(n) < 1e300 for n in numbers)
    assert "null" not in json.dumps([a["priority"] for a in answer["actions"]])
