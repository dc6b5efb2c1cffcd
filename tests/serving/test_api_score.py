"""The scoring endpoints over HTTP (TestClient): answers, versions, roles, ownership."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from serving.recommend import recommend_one
from serving.service_state import Loaded
from tests.serving.conftest import MakeClient, headers, score_body

Frame = tuple[pd.DataFrame, datetime]


def test_score_answers_tier_incentives_scorecard_risk_actions_and_versions(
    client: TestClient, feature_frame: Frame, loaded: Loaded
) -> None:
    frame, as_of = feature_frame
    body = score_body(frame, as_of, row=3)
    r = client.post("/v1/score", json=body, headers=headers("scorer"))
    assert r.status_code == 200, r.text
    got = r.json()
    expected = recommend_one(
        body["features"],
        rulebook=loaded.rulebook,
        models=loaded.models,
        as_of=as_of,
        partner_id=body["partner_id"],
    )
    assert got["partner_id"] == body["partner_id"]
    assert got["tier"]["tier"] == expected.decision.tier
    assert got["churn_risk"] == pytest.approx(expected.churn_risk)
    assert [a["action_id"] for a in got["actions"]] == [a.action_id for a in expected.actions]
    assert set(got["scorecard"]["components"]) == {c.id for c in loaded.rulebook.scorecard}
    v = got["versions"]
    assert v["rulebook_hash"] == loaded.rulebook.content_hash
    assert {m["name"]: m["version"] for m in v["models"]} == {
        "tierwise-churn": str(loaded.models.churn.version),
        "tierwise-deal-acceptance": str(loaded.models.deal.version),
    }
    assert pd.Timestamp(v["as_of"]) == pd.Timestamp(as_of)


def test_score_explains_tier_checks_and_everything_on_request(
    client: TestClient, feature_frame: Frame
) -> None:
    body = score_body(*feature_frame, row=4)
    short = client.post("/v1/score", json=body, headers=headers("scorer")).json()
    full = client.post("/v1/score?explain=true", json=body, headers=headers("scorer")).json()
    assert {c["section"] for c in short["tier"]["checks"]} <= {"track", "tier"}
    assert {"incentive", "action"} & {c["section"] for c in full["tier"]["checks"]}
    if short["tier"]["next_tier"] is not None:
        assert short["tier"]["gap_to_next"]


def test_previous_state_and_history_change_the_answer(
    client: TestClient, feature_frame: Frame, loaded: Loaded
) -> None:
    frame, as_of = feature_frame
    for row in range(len(frame)):
        body = score_body(frame, as_of, row=row)
        first = client.post("/v1/score", json=body, headers=headers("scorer")).json()
        if first["actions"]:
            break
    top = first["actions"][0]["action_id"]
    body["history"] = [{"action_id": top, "last_done_or_dismissed_at": as_of.isoformat()}]
    body["previous"] = {
        "tier": loaded.rulebook.tracks[0].tiers[0].id,
        "missed_evaluations": 0,
        "override_tier": first["tier"]["tier"],
        "override_reason": "pinned",
    }
    again = client.post("/v1/score", json=body, headers=headers("scorer")).json()
    assert top not in [a["action_id"] for a in again["actions"]]
    assert again["suppressed"][0]["action_id"] == top
    assert again["tier"]["basis"] == "override"


def _lean(answer: dict[str, Any]) -> dict[str, Any]:
    """A /v1/score answer without what only explanations give (checks, gap)."""
    return {**answer, "tier": {**answer["tier"], "checks": [], "gap_to_next": []}}


def test_batch_scores_each_partner_like_single_calls(
    client: TestClient, feature_frame: Frame
) -> None:
    bodies = [score_body(*feature_frame, row=i) for i in range(25)]
    r = client.post("/v1/score/batch", json={"partners": bodies}, headers=headers("scorer"))
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["partner_id"] for x in results] == [b["partner_id"] for b in bodies]
    assert [x["index"] for x in results] == list(range(25))
    assert r.json()["scored"] == 25 and r.json()["failed"] == 0
    for i in range(25):
        single = client.post("/v1/score", json=bodies[i], headers=headers("scorer")).json()
        got = results[i]["score"]
        assert got["churn_risk"] == pytest.approx(single["churn_risk"])
        assert got["deal_acceptance"] == pytest.approx(single["deal_acceptance"])
        got["churn_risk"], got["deal_acceptance"] = single["churn_risk"], single["deal_acceptance"]
        for a, b in zip(got["actions"], single["actions"], strict=True):
            # model outputs (and the values/priorities computed from them) agree to ~1e-15:
            # one partner is scored with plain floats, a batch with numpy
            for name in ("priority", "propensity", "value"):
                assert a[name] == pytest.approx(b[name], rel=1e-12)
                a[name] = b[name]
        assert got == _lean(single)


def test_batch_explains_on_request_like_single_calls(
    client: TestClient, feature_frame: Frame
) -> None:
    bodies = [score_body(*feature_frame, row=i) for i in range(3)]
    r = client.post(
        "/v1/score/batch?explain=true", json={"partners": bodies}, headers=headers("scorer")
    )
    single = client.post("/v1/score?explain=true", json=bodies[2], headers=headers("scorer"))
    assert r.json()["results"][2]["score"] == single.json()


def test_a_bad_item_gets_its_own_problem_and_the_others_are_scored(
    client: TestClient, feature_frame: Frame
) -> None:
    bodies = [score_body(*feature_frame, row=i) for i in range(3)]
    bodies[1]["features"]["deals_won_90d"] = -1
    bodies.append(dict(bodies[0]))  # the same partner again
    r = client.post("/v1/score/batch", json={"partners": bodies}, headers=headers("scorer"))
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == [200, 422, 200, 200]
    assert results[1]["score"] is None
    assert results[1]["problem"]["errors"][0]["loc"] == [
        "body",
        "partners",
        1,
        "features",
        "deals_won_90d",
    ]
    assert results[3]["duplicate_of"] == 0 and results[0]["duplicate_of"] is None
    assert results[3]["score"] == results[0]["score"]
    assert r.json()["failed"] == 1


def test_a_huge_batch_names_the_item_limit(client: TestClient, feature_frame: Frame) -> None:
    body = score_body(*feature_frame, row=0)
    r = client.post(
        "/v1/score/batch", json={"partners": [body] * 10_001}, headers=headers("scorer")
    )
    assert r.status_code in (413, 422)
    assert "500" in r.json()["detail"]


def test_a_batch_over_the_limit_is_refused(make_client: MakeClient, feature_frame: Frame) -> None:
    c = make_client(max_batch=2)
    bodies = [score_body(*feature_frame, row=i) for i in range(3)]
    r = c.post("/v1/score/batch", json={"partners": bodies}, headers=headers("scorer"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "partners"]
    assert r.json()["errors"][0]["value"] == 3


def test_partner_score_reads_the_stored_snapshot(client: TestClient, feature_frame: Frame) -> None:
    frame, as_of = feature_frame
    pid = str(frame["partner_id"].iloc[7])
    by_id = client.post(f"/v1/partners/{pid}/score", headers=headers("scorer"))
    inline = client.post(
        "/v1/score", json=score_body(frame, as_of, row=7), headers=headers("scorer")
    )
    assert by_id.status_code == 200, by_id.text
    assert by_id.json()["churn_risk"] == pytest.approx(inline.json()["churn_risk"])
    assert by_id.json()["tier"] == inline.json()["tier"]
    assert pd.Timestamp(by_id.json()["versions"]["as_of"]) == pd.Timestamp(as_of)


def test_no_request_builds_features_for_the_program(
    make_client: MakeClient, feature_frame: Frame, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import features.snapshot

    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("a request built the program's features")

    monkeypatch.setattr(features.snapshot, "build_features", refuse)
    c = make_client(database_url=f"sqlite:///{tmp_path / 'empty.db'}")  # no weekly run yet
    pid = str(feature_frame[0]["partner_id"].iloc[7])  # in the data directory, not stored
    r = c.post(f"/v1/partners/{pid}/score", headers=headers("scorer"))
    assert r.status_code == 404, r.text
    deal = {**deal_body(), "partner_id": pid}
    r = c.post("/v1/deal-registrations/score", json=deal, headers=headers("scorer"))
    assert r.status_code == 404, r.text
    assert r.json()["errors"][0]["value"] == pid


def test_an_unknown_partner_is_404_problem_json(client: TestClient) -> None:
    r = client.post("/v1/partners/P999999/score", headers=headers("scorer"))
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["value"] == "P999999"


def test_a_manager_scores_own_partners_only(
    client: TestClient, feature_frame: Frame, a_manager: str
) -> None:
    frame, _ = feature_frame
    own = str(frame.loc[frame["manager_id"] == a_manager, "partner_id"].iloc[0])
    other = str(frame.loc[frame["manager_id"] != a_manager, "partner_id"].iloc[0])
    assert client.post(f"/v1/partners/{own}/score", headers=headers("manager")).status_code == 200
    r = client.post(f"/v1/partners/{other}/score", headers=headers("manager"))
    assert r.status_code == 403
    assert other in r.json()["detail"]
    r = client.post(f"/v1/partners/{own}/score", headers=headers("other_manager"))
    assert r.status_code == 403


def test_managers_may_not_score_inline_features(client: TestClient, feature_frame: Frame) -> None:
    r = client.post("/v1/score", json=score_body(*feature_frame), headers=headers("manager"))
    assert r.status_code == 403
    assert r.headers["content-type"] == "application/problem+json"


def deal_body(**changes: Any) -> dict[str, Any]:
    deal = {
        "amount": 48000.0,
        "product": "core",
        "deal_kind": "new",
        "customer_has_open_direct_deal": False,
        "customer_is_existing": False,
        "customer_open_partner_deals": 0.0,
        "partner_customer_deals": 1.0,
        "partner_deals_in_flight": 2.0,
    }
    return {"deal_id": "D1", "deal": {**deal, **changes}}


def test_deal_registration_score_by_partner_id(
    client: TestClient, feature_frame: Frame, loaded: Loaded
) -> None:
    pid = str(feature_frame[0]["partner_id"].iloc[2])
    r = client.post(
        "/v1/deal-registrations/score",
        json={**deal_body(), "partner_id": pid},
        headers=headers("scorer"),
    )
    assert r.status_code == 200, r.text
    got = r.json()
    p = got["acceptance_likelihood"]
    routing = loaded.rulebook.deal_routing
    assert 0 < p < 1
    assert got["routing"] == routing.route(p)
    assert got["bands"] == {
        "fast_track": routing.fast_track,
        "likely_reject": routing.likely_reject,
    }
    assert 1 <= len(got["reasons"]) <= 5
    contributions = [abs(x["contribution"]) for x in got["reasons"]]
    assert contributions == sorted(contributions, reverse=True)
    assert all(x["feature"] in loaded.models.deal.features for x in got["reasons"])


def test_deal_registration_inline_features_and_a_channel_conflict(
    client: TestClient, feature_frame: Frame
) -> None:
    frame, as_of = feature_frame
    partner = score_body(frame, as_of, row=2)["features"]
    base = {"partner_features": partner, "as_of": as_of.isoformat()}
    clean = client.post(
        "/v1/deal-registrations/score", json={**deal_body(), **base}, headers=headers("scorer")
    )
    by_id = client.post(
        "/v1/deal-registrations/score",
        json={**deal_body(), "partner_id": str(frame["partner_id"].iloc[2])},
        headers=headers("scorer"),
    )
    assert clean.status_code == 200, clean.text
    assert clean.json()["acceptance_likelihood"] == pytest.approx(
        by_id.json()["acceptance_likelihood"]
    )


def test_deal_registration_needs_exactly_one_partner_source(
    client: TestClient, feature_frame: Frame
) -> None:
    r = client.post("/v1/deal-registrations/score", json=deal_body(), headers=headers("scorer"))
    assert r.status_code == 422
    assert "exactly one of partner_id or partner_features" in r.text


def test_partner_score_prefers_the_stored_snapshot_and_tier_state(
    make_client: MakeClient, feature_frame: Frame, tmp_path: Any, a_manager: str
) -> None:
    from datetime import timedelta

    from serving.db import (
        FeatureSnapshot,
        Partner,
        TierDecision,
        TierOverride,
        get_engine,
        session_scope,
    )
    from serving.db import upgrade as db_upgrade

    frame, as_of = feature_frame
    resell = frame[
        (frame["manager_id"] == a_manager) & frame["partner_type"].isin(["VAR", "reseller"])
    ]
    row = resell.iloc[0]  # "Silver" is a tier of the resell track
    pid = str(row["partner_id"])
    stored = score_body(frame, as_of, row=int(frame.index[frame["partner_id"] == pid][0]))
    features = dict(stored["features"], tenure_days=9999.0)
    week_as_of = as_of + timedelta(days=7)
    url = f"sqlite:///{tmp_path / 'service.db'}"
    engine = get_engine(url)
    db_upgrade(engine)
    with session_scope(engine) as s:
        s.add(
            Partner(
                partner_id=pid,
                name="Acme",
                partner_type=str(row["partner_type"]),
                region=str(row["region"]),
                manager_id=a_manager,
            )
        )
        s.add(FeatureSnapshot(partner_id=pid, as_of=week_as_of, week="2026-W49", features=features))
        s.add(
            TierDecision(  # the evaluation before the snapshot's week: its state is used
                partner_id=pid,
                week="2026-W48",
                as_of=as_of,
                tier="Registered",
                change="new",
                missed_evaluations=0,
            )
        )
        s.add(
            TierOverride(
                partner_id=pid,
                tier="Silver",
                reason="strategic",
                until=week_as_of + timedelta(days=60),
                set_by="admin",
            )
        )
    c = make_client(database_url=url)
    r = c.post(f"/v1/partners/{pid}/score?explain=true", headers=headers("manager"))
    assert r.status_code == 200, r.text
    got = r.json()
    assert pd.Timestamp(got["versions"]["as_of"]) == pd.Timestamp(week_as_of)
    assert got["tier"]["basis"] == "override"
    assert got["tier"]["override_tier"] == "Silver"
    assert got["tier"]["override_reason"] == "strategic"
    tenure = [c["actual"] for c in got["tier"]["checks"] if c["feature"] == "tenure_days"]
    assert tenure and set(tenure) == {9999.0}  # the stored features, not the data dir's
