from pathlib import Path

import pytest

from rules import Rulebook, TierState, evaluate_partner, load_rulebook
from rules.explain import fmt_amount, gap_items

from .conftest import AS_OF, base_features, write_book


def decide(book: Rulebook, previous: TierState | None = None, **features: object):  # type: ignore[no-untyped-def]
    return evaluate_partner(book, base_features(**features), previous=previous, as_of=AS_OF)


def test_checks_report_actual_threshold_and_outcome(book: Rulebook) -> None:
    d = decide(book, revenue_won_365d=45_000.0, deals_won_365d=2.0, certified_people=1.0)
    silver = [c for c in d.checks if c.rule_id == "resell/Silver"]
    assert [(c.feature, c.op, c.threshold, c.actual, c.outcome) for c in silver] == [
        ("revenue_won_365d", ">=", 20000.0, 45000.0, "pass"),
        ("deals_won_365d", ">=", 2.0, 2.0, "pass"),
    ]
    assert silver[0].text() == (
        "[pass] tier resell/Silver: revenue_won_365d >= 20000 (actual $45,000)"
    )


def test_every_rule_section_is_explained(book: Rulebook) -> None:
    d = decide(book)
    assert {c.section for c in d.checks} == {"track", "tier", "incentive", "action"}
    assert {c.rule_id for c in d.checks if c.section == "action"} == {a.id for a in book.actions}


def test_category_thresholds_are_sorted_lists(book: Rulebook) -> None:
    d = decide(book)
    (check,) = [c for c in d.checks if c.rule_id == "commission_standard"]
    assert (check.threshold, check.actual, check.outcome) == (
        ["Registered", "Silver"],
        "Registered",
        "pass",
    )


def test_gap_to_next_tier_in_units(book: Rulebook) -> None:
    d = decide(
        book,
        revenue_won_365d=30_000.0,
        deals_won_365d=3.0,
        certified_people=0.0,
        satisfaction_avg_365d=6.5,
    )
    assert (d.tier, d.next_tier) == ("Silver", "Gold")
    assert [g.text for g in d.gap] == [
        "$30,000 more revenue_won_365d",
        "1 more deals_won_365d",
        "1 more certified_people",
        "0.5 points more satisfaction_avg_365d",
    ]
    assert [g.shortfall for g in d.gap] == [30_000.0, 1, 1, 0.5]


def test_gap_reports_missing_values(book: Rulebook) -> None:
    d = decide(
        book,
        revenue_won_365d=200_000.0,
        deals_won_365d=6.0,
        certified_people=3.0,
        satisfaction_avg_365d=None,
    )
    assert d.next_tier == "Gold"
    assert [g.text for g in d.gap] == ["satisfaction_avg_365d is missing"]


def test_no_gap_at_the_top(book: Rulebook) -> None:
    d = decide(
        book,
        revenue_won_365d=500_000.0,
        deals_won_365d=9.0,
        certified_people=5.0,
        satisfaction_avg_365d=9.0,
    )
    assert (d.tier, d.next_tier, d.gap) == ("Platinum", None, [])


def test_gap_from_an_overridden_tier_evaluates_the_tier_above(book: Rulebook) -> None:
    pinned = TierState(None, 0, "Silver", "pinned", None)
    d = decide(
        book,
        pinned,
        revenue_won_365d=500_000.0,
        deals_won_365d=9.0,
        certified_people=5.0,
        satisfaction_avg_365d=9.0,
    )
    assert (d.tier, d.next_tier, d.gap) == ("Silver", "Gold", [])


def test_strict_count_gap_needs_one_past_the_threshold(tmp_path: Path) -> None:
    tiers = """\
      - id: Gold
        description: more than two certified
        when: [certified_people > 2, days_since_last_activity <= 30, partner_type == MSP]
      - id: Registered
        description: everyone"""
    small = load_rulebook(write_book(tmp_path, tiers=tiers))
    row = base_features(certified_people=2.0, days_since_last_activity=42.0)
    gap = evaluate_partner(small, row, previous=None, as_of=AS_OF).gap
    assert [g.text for g in gap] == [
        "1 more certified_people",
        "12 days less days_since_last_activity",
        "partner_type must be one of [MSP] (is VAR)",
    ]


def test_any_gap_lists_alternatives(tmp_path: Path) -> None:
    tiers = """\
      - id: Gold
        description: either
        when: {any: [revenue_won_365d >= 100, leads_registered_365d >= 10]}
      - id: Registered
        description: everyone"""
    small = load_rulebook(write_book(tmp_path, tiers=tiers))
    gap = evaluate_partner(small, base_features(), previous=None, as_of=AS_OF).gap
    assert [(g.text, g.alternative) for g in gap] == [
        ("$100 more revenue_won_365d", True),
        ("10 more leads_registered_365d", True),
    ]


def test_gap_items_of_negation(book: Rulebook) -> None:
    from rules.compile import compile_condition
    from rules.conditions import Issue, Vocabulary, parse

    vocab = Vocabulary.default(book.tier_names, ("resell",))
    issues: list[Issue] = []
    cond = compile_condition(parse({"not": "exited"}, vocab, (), issues))
    assert gap_items(cond, {"exited": False}) == []
    assert [g.text for g in gap_items(cond, {"exited": True})] == ["must not hold: not (exited)"]
    assert [g.text for g in gap_items(cond, {"exited": None})] == ["exited is missing"]


@pytest.mark.parametrize(
    ("name", "amount", "text"),
    [
        ("revenue_won_365d", 42_000.0, "$42,000"),
        ("revenue_won_365d", 0.5, "$0.50"),
        ("certified_people", 3.0, "3"),
        ("tenure_days", 12.0, "12 days"),
        ("satisfaction_avg_365d", 0.25, "0.25 points"),
        ("win_rate_365d", 0.125, "0.125"),
    ],
)
def test_amounts_formatted_by_registry_unit(name: str, amount: float, text: str) -> None:
    assert fmt_amount(name, amount) == text


def test_explain_text_covers_tier_gap_incentives_scores_actions(book: Rulebook) -> None:
    d = decide(book, TierState("Gold"), churn_risk=0.8)
    text = "\n".join(d.explain())
    assert "tier Gold (unchanged, by grace; rules alone give Registered)" in text
    assert "held for now: 1 of 2 consecutive misses" in text
    assert "gap to Platinum:" in text
    assert "incentives: commission_gold" in text
    assert "actions: retention_call" in text
    assert d.to_dict()["gap"][0]["feature"] == "revenue_won_365d"
