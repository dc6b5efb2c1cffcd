"""The default rulebook ranks in one unit: the expected gain in dollars over a year."""

from datetime import UTC, datetime
from typing import Any

import pytest

from rules import Rulebook, evaluate_partner, load_rulebook
from serving.arbitration import Ranked, arbitrate_one
from tests.rules.conftest import DEFAULT_DIR, base_features

AS_OF = datetime(2026, 11, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def book() -> Rulebook:
    return load_rulebook(DEFAULT_DIR)


def ranked(book: Rulebook, **features: Any) -> dict[str, Ranked]:
    decision = evaluate_partner(book, base_features(**features), previous=None, as_of=AS_OF)
    top, _ = arbitrate_one(decision.actions, history={}, as_of=AS_OF, k=len(book.actions))
    return {r.action_id: r for r in top}


def at_risk(book: Rulebook) -> Ranked:
    """The issue's partner: churn risk 0.86, $36,160 of revenue."""
    return ranked(book, churn_risk=0.86, revenue_won_365d=36_160.0, deals_won_365d=3.0)[
        "retention_call"
    ]


@pytest.mark.parametrize("revenue", [36_160.0, 150_000.0, 250_000.0])
def test_a_retention_call_at_high_risk_outranks_a_certification_push_at_low_risk(
    book: Rulebook, revenue: float
) -> None:
    push = ranked(book, churn_risk=0.006, revenue_won_365d=revenue, deals_won_365d=4.0)
    assert at_risk(book).priority > push["push_certification"].priority


def test_every_value_is_in_dollars_so_no_action_type_is_out_of_reach(book: Rulebook) -> None:
    # the re-engagement used customer_count and could never beat a certification push
    quiet = ranked(book, churn_risk=0.7, revenue_won_365d=80_000.0, days_since_last_activity=90.0)
    push = ranked(book, churn_risk=0.01, revenue_won_365d=80_000.0, deals_won_365d=4.0)
    assert quiet["reengage_dormant"].priority > push["push_certification"].priority


def test_a_low_risk_partner_gets_no_retention_call(book: Rulebook) -> None:
    assert "retention_call" not in ranked(book, churn_risk=0.1, revenue_won_365d=1e6)
