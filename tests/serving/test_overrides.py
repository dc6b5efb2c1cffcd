"""Overrides checked against the partner's track: entered, stored, used."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from serving.overrides import (
    checked_tier,
    invalid_overrides,
    override_report,
    partner_track,
    without_overrides,
)
from serving.service_state import Loaded
from tests.serving.conftest import MakeClient, headers, score_body
from tierwise.errors import InvalidInput

Frame = tuple[pd.DataFrame, datetime]
RESELL = ["Platinum", "Gold", "Silver", "Registered"]


RESELL_TYPES = ["VAR", "reseller"]  # the default rulebook's resell track


def test_an_entered_tier_is_one_of_the_tracks_tiers_in_the_rulebooks_spelling() -> None:
    assert checked_tier("gold", allowed=RESELL, partner_id="P1") == "Gold"
    with pytest.raises(InvalidInput, match="Platinum, Gold, Silver, Registered") as err:
        checked_tier("Diamond", allowed=RESELL, partner_id="P1")
    assert err.value.problems[0].value == "Diamond"


def _previous(frame: pd.DataFrame, as_of: datetime, tiers: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "partner_id": list(tiers),
            "tier": ["Silver"] * len(tiers),
            "missed_evaluations": [0] * len(tiers),
            "override_tier": list(tiers.values()),
            "override_reason": ["pinned"] * len(tiers),
            "override_until": [as_of + timedelta(days=30)] * len(tiers),
        }
    )


def test_stored_overrides_outside_the_partners_track_are_found(
    loaded: Loaded, feature_frame: Frame
) -> None:
    frame, as_of = feature_frame
    resell = frame.loc[frame["partner_type"].isin(RESELL_TYPES), "partner_id"].astype(str)
    referral = frame.loc[frame["partner_type"] == "referral", "partner_id"].astype(str)
    tiers = {resell.iloc[0]: "Gold", resell.iloc[1]: "Diamond", referral.iloc[0]: "Gold"}
    previous = _previous(frame, as_of, tiers)
    bad = invalid_overrides(loaded.rulebook, frame, previous, as_of=as_of)
    assert sorted(bad["partner_id"]) == sorted([resell.iloc[1], referral.iloc[0]])
    report = override_report(bad)
    assert {r["override_tier"] for r in report} == {"Diamond", "Gold"}
    assert all(r["allowed"] for r in report)
    cleaned = without_overrides(previous, bad["partner_id"])
    assert cleaned["override_tier"].isna().sum() == 2
    assert cleaned.loc[cleaned["partner_id"] == resell.iloc[0], "override_tier"].item() == "Gold"


def test_the_partner_track_is_what_the_rules_say(loaded: Loaded, feature_frame: Frame) -> None:
    frame, as_of = feature_frame
    row = score_body(frame, as_of, row=0)["features"]
    tracks = {"referral": "referral", "MSP": "msp", "SI": "si", "distributor": "distributor"}
    expected = tracks.get(row["partner_type"], "resell")
    assert partner_track(loaded.rulebook, row, as_of=as_of) == expected


def test_a_stored_bad_override_does_not_make_the_partner_a_422(
    make_client: MakeClient, feature_frame: Frame, tmp_path: Path, a_manager: str
) -> None:
    from serving.db import Partner, TierDecision, TierOverride, get_engine, session_scope, upgrade
    from serving.db.week import save_snapshot

    frame, as_of = feature_frame
    row = frame.loc[frame["partner_type"].isin(RESELL_TYPES)].iloc[0]
    pid = str(row["partner_id"])
    url = f"sqlite:///{tmp_path / 'service.db'}"
    engine = get_engine(url)
    upgrade(engine)
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
        save_snapshot(s, frame.loc[frame["partner_id"] == pid], week="2026-W48", as_of=as_of)
        s.add(
            TierDecision(
                partner_id=pid,
                week="2026-W47",
                as_of=as_of - timedelta(days=7),
                tier="Silver",
                change="new",
                missed_evaluations=0,
            )
        )
        s.add(
            TierOverride(
                partner_id=pid,
                tier="Diamond",
                reason="typo",
                until=as_of + timedelta(days=60),
                set_by="ann",
            )
        )
    c = make_client(database_url=url)
    r = c.post(f"/v1/partners/{pid}/score", headers=headers("scorer"))
    assert r.status_code == 200, r.text
    assert r.json()["tier"]["basis"] != "override"
