"""The flattened rulebook: spans rebuilt from rule outcomes, and the gap read from the log."""

from typing import Any

from hypothesis import given, settings

from rules import PartnerDecision, Rulebook, TierState, evaluate_partner
from rules.explain import gap_items
from rules.flat import tier_entries

from .conftest import AS_OF, base_features
from .test_properties import BOOK, partner


def decide(
    book: Rulebook, previous: TierState | None = None, **features: object
) -> PartnerDecision:
    return evaluate_partner(book, base_features(**features), previous=previous, as_of=AS_OF)


def generic_gap(d: PartnerDecision) -> list[Any]:
    """The gap as `gap_items` gives it: the next tier's condition evaluated afresh."""
    track = d.rulebook.track(d.track)
    assert track is not None
    tier = track.tier(d.next_tier)
    return gap_items(tier.compiled, d.features) if tier else []


def check_spans(d: PartnerDecision) -> None:
    """The spans cover the log end to end, in order, and each holds its own rule's entries."""
    ends = [0]
    for section, rule_id, start, end, _ in d.spans:
        assert start == ends[-1]
        assert all(e[:2] == (section, rule_id) for e in d.log[start:end])
        ends.append(end)
    assert ends[-1] == len(d.log)


@settings(max_examples=200, deadline=None)
@given(partner(0))
def test_spans_and_gap_agree_with_the_log_and_the_conditions(
    drawn: tuple[dict[str, Any], TierState | None],
) -> None:
    row, state = drawn
    d = evaluate_partner(BOOK, row, previous=state, as_of=AS_OF)
    check_spans(d)
    assert d.gap == generic_gap(d)


def test_spans_name_every_rule_tried_with_its_outcome(book: Rulebook) -> None:
    d = decide(book, revenue_won_365d=45_000.0, deals_won_365d=2.0, certified_people=1.0)
    check_spans(d)
    tried = [(s[0], s[1], s[4]) for s in d.spans if s[0] in ("track", "tier")]
    assert tried == [
        ("track", "referral", False),
        ("track", "msp", False),
        ("track", "si", False),
        ("track", "distributor", False),
        ("track", "resell", True),
        ("tier", "resell/Platinum", False),
        ("tier", "resell/Gold", False),
        ("tier", "resell/Silver", True),
    ]
    assert [s[1] for s in d.spans if s[0] == "incentive"] == [i.id for i in book.incentives]
    hits = {s[1] for s in d.spans if s[0] == "action" and s[4]}
    assert hits == {a.action_id for a in d.actions}


def test_tier_entries_point_at_a_tiers_log_run_or_none_when_not_tried(book: Rulebook) -> None:
    d = decide(book, revenue_won_365d=45_000.0, deals_won_365d=2.0, certified_people=1.0)
    where = tier_entries(book.flat, d.trace, 1)  # Gold: tried, failed
    assert where is not None
    assert {e[1] for e in d.log[where[0] : where[1]]} == {"resell/Gold"}
    assert where[1] - where[0] == 4
    assert tier_entries(book.flat, d.trace, 3) is None  # Registered: Silver hit first


def test_gap_above_an_override_is_evaluated_when_the_tier_was_not_tried(book: Rulebook) -> None:
    # rules alone give Gold; the override pins Registered, so the next tier (Silver) was
    # never tried: its gap comes from its condition, and it holds, so nothing is missing
    state = TierState("Registered", 0, "Registered", "probation", None)
    d = decide(
        book,
        state,
        revenue_won_365d=200_000.0,
        deals_won_365d=6.0,
        certified_people=3.0,
        satisfaction_avg_365d=7.5,
    )
    assert (d.evaluated_tier, d.tier, d.next_tier) == ("Gold", "Registered", "Silver")
    assert d.gap == [] == generic_gap(d)
    low = decide(book, state, revenue_won_365d=1_000.0)
    assert [g.text for g in low.gap] == [g.text for g in generic_gap(low)]
    assert [g.feature for g in low.gap] == ["revenue_won_365d", "deals_won_365d"]


def test_explanations_are_built_once_on_first_read(book: Rulebook) -> None:
    d = decide(book)
    assert "checks" not in vars(d) and "gap" not in vars(d)
    assert d.checks is d.checks and d.gap is d.gap and d.spans is d.spans
    assert type(PartnerDecision.__dict__["checks"]).__name__ == "lazy"
