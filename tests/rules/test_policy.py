from datetime import timedelta

import pandas as pd
import pytest

from rules import Rulebook, TierState, evaluate_frame, evaluate_partner
from tierwise.errors import InvalidInput

from .conftest import AS_OF, base_features

GOLD = {"revenue_won_365d": 200_000.0, "deals_won_365d": 6.0, "certified_people": 3.0}


def decide(book: Rulebook, previous: TierState | None, **features: object):  # type: ignore[no-untyped-def]
    return evaluate_partner(book, base_features(**features), previous=previous, as_of=AS_OF)


def test_promotion_is_immediate(book: Rulebook) -> None:
    d = decide(book, TierState("Silver"), **GOLD)
    assert (d.tier, d.tier_change, d.tier_basis, d.state) == (
        "Gold",
        "promoted",
        "rules",
        TierState("Gold", 0),
    )


def test_demotion_waits_for_grace(book: Rulebook) -> None:
    assert book.demotion_grace == 2
    first = decide(book, TierState("Gold"))
    assert (first.tier, first.tier_change, first.tier_basis) == ("Gold", "unchanged", "grace")
    assert first.evaluated_tier == "Registered" and first.state.missed_evaluations == 1
    second = decide(book, first.state)
    assert (second.tier, second.tier_change, second.state) == (
        "Registered",
        "demoted",
        TierState("Registered", 0),
    )


def test_meeting_the_tier_again_resets_the_count(book: Rulebook) -> None:
    d = decide(book, TierState("Gold", missed_evaluations=1), **GOLD)
    assert (d.tier, d.tier_change, d.state.missed_evaluations) == ("Gold", "unchanged", 0)


def test_no_previous_state_is_new(book: Rulebook) -> None:
    assert decide(book, None).tier_change == "new"


def test_previous_tier_of_another_track_starts_afresh(book: Rulebook) -> None:
    d = decide(book, TierState("Gold"), partner_type="referral")
    assert (d.tier, d.tier_change) == ("Referrer", "new")


def test_override_wins_until_it_expires(book: Rulebook) -> None:
    pinned = TierState("Silver", 0, "Platinum", "launch partner", AS_OF + timedelta(days=1))
    d = decide(book, pinned)
    assert (d.tier, d.tier_basis, d.tier_change, d.evaluated_tier) == (
        "Platinum",
        "override",
        "promoted",
        "Registered",
    )
    assert d.state == TierState(
        "Platinum", 0, "Platinum", "launch partner", AS_OF + timedelta(days=1)
    )


def test_override_expires_at_its_date(book: Rulebook) -> None:
    expired = TierState("Platinum", 0, "Platinum", "launch partner", AS_OF)
    d = decide(book, expired)
    assert (d.tier, d.tier_basis, d.state) == ("Platinum", "grace", TierState("Platinum", 1))
    assert d.state.override_tier is None


def test_override_without_expiry_holds(book: Rulebook) -> None:
    d = decide(book, TierState(None, 0, "Gold", "strategic", None))
    assert (d.tier, d.tier_basis) == ("Gold", "override")


def test_override_to_a_tier_outside_the_track_is_an_error(book: Rulebook) -> None:
    with pytest.raises(InvalidInput, match="override tier 'Ambassador'"):
        decide(book, TierState(None, 0, "Ambassador", "wrong track", None))
    frame_prev = pd.DataFrame([{"partner_id": "P1", "override_tier": "Ambassador"}])
    frame = pd.DataFrame([base_features()])
    with pytest.raises(InvalidInput) as info:
        evaluate_frame(book, frame, previous=frame_prev, as_of=AS_OF)
    assert info.value.problems[0].rule_id == "P1"


def test_naive_override_until_is_utc(book: Rulebook) -> None:
    until = (AS_OF + timedelta(hours=1)).replace(tzinfo=None)
    assert decide(book, TierState("Gold", 0, "Gold", "x", until)).tier_basis == "override"


def test_frame_policy_matches_partner_policy(book: Rulebook) -> None:
    states = [
        None,
        TierState("Gold"),
        TierState("Gold", 1),
        TierState("Silver"),
        TierState("Registered", 0, "Platinum", "pin", AS_OF + timedelta(days=3)),
        TierState("Platinum", 0, "Platinum", "old pin", AS_OF - timedelta(days=3)),
        TierState("Ambassador"),
    ]
    rows = [base_features(partner_id=f"P{i}") for i in range(len(states))]
    rows[3].update(GOLD)
    prev = pd.DataFrame(
        [{"partner_id": f"P{i}", **vars(s)} for i, s in enumerate(states) if s is not None]
    )
    fd = evaluate_frame(book, pd.DataFrame(rows), previous=prev, as_of=AS_OF)
    for i, (row, state) in enumerate(zip(rows, states, strict=True)):
        d = evaluate_partner(book, row, previous=state, as_of=AS_OF)
        t = fd.tiers.iloc[i]
        assert (t["tier"], t["tier_change"], t["tier_basis"], t["missed_evaluations"]) == (
            d.tier,
            d.tier_change,
            d.tier_basis,
            d.state.missed_evaluations,
        )
        assert (t["override_tier"] if pd.notna(t["override_tier"]) else None) == (
            d.state.override_tier
        )


def test_frame_state_feeds_the_next_evaluation(book: Rulebook) -> None:
    frame = pd.DataFrame([base_features(partner_id="P1")])
    prev = pd.DataFrame([{"partner_id": "P1", "tier": "Gold", "missed_evaluations": 0}])
    first = evaluate_frame(book, frame, previous=prev, as_of=AS_OF)
    second = evaluate_frame(book, frame, previous=first.state, as_of=AS_OF)
    assert first.tiers["tier"].iloc[0] == "Gold"
    assert second.tiers["tier"].iloc[0] == "Registered"
    assert second.tiers["tier_change"].iloc[0] == "demoted"


def test_duplicate_partners_in_previous_state_are_an_error(book: Rulebook) -> None:
    prev = pd.DataFrame([{"partner_id": "P1", "tier": "Gold"}] * 2)
    with pytest.raises(InvalidInput, match="duplicate"):
        evaluate_frame(book, pd.DataFrame([base_features()]), previous=prev, as_of=AS_OF)


def test_review_changes_tell_each_movement_apart(book: Rulebook) -> None:
    from rules.model import STATE_COLUMNS
    from rules.policy import REVIEW_CHANGES, review_changes

    rows = [  # (features, previous state, expected review change)
        (GOLD, TierState("Silver"), "promoted"),
        ({}, TierState("Gold", missed_evaluations=1), "demoted"),
        ({}, TierState("Gold"), "grace"),
        (GOLD, TierState("Gold"), "unchanged"),
        ({}, TierState("Gold", 0, "Gold", "key account", None), "override"),
        (GOLD, None, "new"),
    ]
    frame = pd.DataFrame(
        [base_features(partner_id=f"P{i}", **f) for i, (f, _, _) in enumerate(rows)]
    )
    previous = pd.DataFrame(
        [
            {"partner_id": f"P{i}", **{c: getattr(p, c) for c in STATE_COLUMNS}}
            for i, (_, p, _) in enumerate(rows)
            if p is not None
        ]
    )
    tiers = evaluate_frame(book, frame, previous=previous, as_of=AS_OF).tiers
    before = tiers["partner_id"].map(previous.set_index("partner_id")["tier"])
    got = review_changes(tiers, before)
    assert list(got) == [want for *_, want in rows]
    assert set(got) == set(REVIEW_CHANGES)


def test_review_changes_of_no_partners_is_empty(book: Rulebook) -> None:
    from rules.policy import review_changes

    empty = pd.DataFrame({"tier_change": [], "tier_basis": [], "missed_evaluations": []})
    assert len(review_changes(empty, [])) == 0
