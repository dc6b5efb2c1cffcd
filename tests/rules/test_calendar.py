"""The program calendar: periods, review dates, and tiers that change only at reviews."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rules import Rulebook, TierState, evaluate_frame, evaluate_partner, load_rulebook
from rules.calendar import ProgramCalendar
from tierwise.errors import RulebookError

from .conftest import BROKEN_DIR, DEFAULT_DIR, base_features

PROGRAM = BROKEN_DIR / "program"
GOLD = {"revenue_won_365d": 200_000.0, "deals_won_365d": 6.0, "certified_people": 1.0}


def utc(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("kind", "year_start", "day", "label", "start", "end"),
    [
        ("quarter", 1, "2026-11-30", "2026-Q4", "2026-10-01", "2027-01-01"),
        ("quarter", 2, "2026-01-15", "2025-Q4", "2025-11-01", "2026-02-01"),
        ("quarter", 2, "2026-02-01", "2026-Q1", "2026-02-01", "2026-05-01"),
        ("month", 4, "2026-03-31", "2026-03", "2026-03-01", "2026-04-01"),
        ("year", 7, "2026-06-30", "2025", "2025-07-01", "2026-07-01"),
    ],
)
def test_periods_count_from_the_program_year(
    kind: str, year_start: int, day: str, label: str, start: str, end: str
) -> None:
    period = ProgramCalendar(year_start=year_start).period(kind, utc(day))
    assert (period.label, period.start, period.end) == (label, utc(start), utc(end))


def test_once_has_no_dates() -> None:
    assert ProgramCalendar().period("once", utc("2026-01-05")).label == "once"


@pytest.mark.parametrize(
    ("cadence", "day", "review", "next_review"),
    [
        ("quarterly", "2025-06-30", False, "2025-07-01"),
        ("quarterly", "2025-07-07", True, "2025-10-01"),  # Jul 1 falls in (Jun 30, Jul 7]
        ("quarterly", "2025-07-14", False, "2025-10-01"),
        ("monthly", "2025-09-01", True, "2025-10-01"),
        ("semiannual", "2025-07-07", True, "2026-01-01"),
        ("annual", "2025-07-07", False, "2026-01-01"),
    ],
)
def test_reviews_take_effect_at_the_first_evaluation_on_or_after_their_date(
    cadence: str, day: str, review: bool, next_review: str
) -> None:
    cal = ProgramCalendar(tier_review=cadence)
    assert cal.is_review(utc(day)) is review
    assert cal.next_review(utc(day)) == utc(next_review)


def test_anniversary_reviews_are_per_partner() -> None:
    cal = ProgramCalendar(tier_review="anniversary")
    tenure = np.array([365.25 * 2 + 3, 365.25 * 2 + 8, 200.0, np.nan])
    assert cal.reviews(utc("2025-07-07"), tenure).tolist() == [True, False, False, False]
    assert [cal.is_partner_review(utc("2025-07-07"), t) for t in tenure] == [
        True,
        False,
        False,
        False,
    ]
    assert cal.next_review(utc("2025-07-07"), 10.0) == utc("2026-06-27")


# --- the policy on the calendar of the default rulebook (quarterly, grace: one review) ----


def decide(book: Rulebook, previous: TierState | None, day: str, **features: object):  # type: ignore[no-untyped-def]
    return evaluate_partner(book, base_features(**features), previous=previous, as_of=utc(day))


def test_between_reviews_a_demotion_waits_and_nothing_is_counted(book: Rulebook) -> None:
    d = decide(book, TierState("Gold"), "2025-08-04")
    assert (d.tier, d.tier_change, d.tier_basis, d.state) == (
        "Gold",
        "unchanged",
        "calendar",
        TierState("Gold", 0),
    )
    assert (d.on_course_for, d.next_review) == ("Registered", utc("2025-10-01"))
    assert "held until the next tier review on 2025-10-01: on course for Registered" in "\n".join(
        d.explain()
    )
    assert d.to_dict()["next_review"] == "2025-10-01T00:00:00+00:00"


def test_promotion_between_reviews_is_immediate(book: Rulebook) -> None:
    d = decide(book, TierState("Silver"), "2025-08-04", **GOLD)
    assert (d.tier, d.tier_change, d.tier_basis) == ("Gold", "promoted", "rules")


def test_demotion_at_the_review_after_a_grace_review(book: Rulebook) -> None:
    """Weekly evaluations from July to October: Gold is lost at the Q4 review, not before."""
    state: TierState | None = TierState("Gold")
    tiers = []
    day = utc("2025-06-30")
    while day <= utc("2025-10-13"):
        d = evaluate_partner(book, base_features(), previous=state, as_of=day)
        tiers.append((f"{day:%m-%d}", d.tier, d.tier_basis))
        state = d.state
        day += timedelta(days=7)
    assert tiers[1] == ("07-07", "Gold", "grace")  # the Q3 review: one grace review
    assert {t for _, t, _ in tiers[:14]} == {"Gold"}  # through 09-29
    assert tiers[14] == ("10-06", "Registered", "rules")  # the Q4 review demotes
    assert tiers[15] == ("10-13", "Registered", "rules")


def test_promotion_at_review_waits_for_the_review(tmp_path: Path) -> None:
    text = (DEFAULT_DIR / "rulebook.yaml").read_text()
    book_dir = tmp_path / "book"
    book_dir.mkdir()
    for f in DEFAULT_DIR.glob("*.yaml"):
        (book_dir / f.name).write_text(f.read_text())
    (book_dir / "rulebook.yaml").write_text(
        text.replace("promotion: immediately", "promotion: at_review")
    )
    book = load_rulebook(book_dir)
    waits = decide(book, TierState("Silver"), "2025-08-04", **GOLD)
    assert (waits.tier, waits.tier_basis, waits.on_course_for) == ("Silver", "calendar", "Gold")
    review = decide(book, TierState("Silver"), "2025-10-06", **GOLD)
    assert (review.tier, review.tier_change) == ("Gold", "promoted")


@pytest.mark.parametrize("day", ["2025-08-04", "2025-07-07", "2025-10-06"])
def test_frame_and_partner_agree_on_the_calendar(book: Rulebook, day: str) -> None:
    rows = [
        base_features(partner_id="A"),
        base_features(partner_id="B", **GOLD),
        base_features(partner_id="C"),
        base_features(partner_id="D"),
    ]
    states = [TierState("Gold"), TierState("Silver"), TierState("Gold", 1), None]
    frame = pd.DataFrame(rows)
    prev = pd.DataFrame(
        [{"partner_id": r["partner_id"], **vars(s)} for r, s in zip(rows, states, strict=True) if s]
    )
    fd = evaluate_frame(book, frame, previous=prev, as_of=utc(day))
    for i, (row, state) in enumerate(zip(rows, states, strict=True)):
        d = evaluate_partner(book, row, previous=state, as_of=utc(day))
        got = fd.tiers.iloc[i]
        assert (got["tier"], got["tier_basis"], got["missed_evaluations"]) == (
            d.tier,
            d.tier_basis,
            d.state.missed_evaluations,
        )


# --- broken calendar, budgets and incentive periods: file:line for every problem ----------

BROKEN = [
    ("calendar.yaml", 2, None, "tier_policy.demotion_grace and calendar.demotion_grace_reviews"),
    ("calendar.yaml", 5, None, "'Febuary' is not a month: write 1-12 or a month name"),
    ("calendar.yaml", 6, None, "tier_review: Input should be 'weekly', 'monthly', 'quarterly'"),
    ("calendar.yaml", 7, None, "promotion: Input should be 'immediately' or 'at_review'"),
    ("calendar.yaml", 8, None, "demotion_grace_reviews: Input should be greater than or equal"),
    ("calendar.yaml", 9, None, "unknown key 'review_day'"),
    (
        "budgets.yaml",
        18,
        "mdf",
        "the split amounts add up to 120,000, more than the pool's 100,000",
    ),
    ("budgets.yaml", 19, "mdf", "unknown tier 'Gld' (did you mean 'Gold'?)"),
    ("budgets.yaml", 20, "mdf", "unknown model output 'churn' (known: churn_risk"),
    ("budgets.yaml", 20, "mdf", "unknown feature 'revenue_won_356d'"),
    ("budgets.yaml", 21, "mdf", "duplicate id 'mdf' (first defined at line 12)"),
    ("budgets.yaml", 27, "events", "amount: Input should be greater than 0"),
    ("budgets.yaml", 28, "events", "period: Input should be 'month', 'quarter' or 'year'"),
    (
        "incentive_period.yaml",
        18,
        "commission",
        "basis 'revenue_won_365d' is not measured per quarter: a quarterly incentive is paid on "
        "what happened in the quarter (e.g. 'revenue_won_qtd')",
    ),
    ("incentive_period.yaml", 22, "weekly_bonus", "period: Input should be 'once', 'month'"),
    ("incentive_period.yaml", 28, "mdf_grant", "unknown budget pool 'mfd' (did you mean 'mdf'?)"),
    ("incentive_period.yaml", 33, "mdf_yearly", "period 'year' does not match pool 'mdf'"),
    ("incentive_period.yaml", 35, "mdf_yearly", "unit 'EUR' does not match pool 'mdf'"),
]


@pytest.mark.parametrize(("name", "line", "rule_id", "message"), BROKEN)
def test_broken_program_sections_name_file_line_and_value(
    name: str, line: int, rule_id: str | None, message: str
) -> None:
    with pytest.raises(RulebookError) as info:
        load_rulebook(PROGRAM / name)
    hits = [p for p in info.value.problems if message in p.message and p.line == line]
    assert hits, [(p.line, p.message) for p in info.value.problems]
    assert (hits[0].file, hits[0].rule_id) == (str(PROGRAM / name), rule_id)


def test_every_problem_of_each_broken_file_is_listed() -> None:
    for name in {b[0] for b in BROKEN}:
        with pytest.raises(RulebookError) as info:
            load_rulebook(PROGRAM / name)
        assert len(info.value.problems) == sum(b[0] == name for b in BROKEN), name


def test_default_rulebook_calendar_and_pool() -> None:
    book = load_rulebook(DEFAULT_DIR)
    assert (book.calendar.tier_review, book.calendar.promotion, book.demotion_grace) == (
        "quarterly",
        "immediately",
        2,
    )
    (pool,) = book.budgets
    assert (pool.id, pool.amount, pool.period, pool.caps) == (
        "mdf",
        250_000,
        "quarter",
        {
            "Gold": 15_000,
            "Premier": 20_000,
            "Expert": 30_000,
            "Platinum": 50_000,
            "Strategic": 60_000,
        },
    )
    periods = {i.id: i.period for i in book.incentives}
    assert periods["first_deal_bonus"] == "once" and periods["commission_gold"] == "quarter"
    assert periods["event_tickets"] == periods["elite_training"] == "year"
