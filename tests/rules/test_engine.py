import math
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from rules import Rulebook, evaluate_frame, evaluate_partner, load_rulebook
from tierwise.errors import InvalidInput

from .conftest import AS_OF, base_features, random_frame, write_book


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def decide(book: Rulebook, **features: object):  # type: ignore[no-untyped-def]
    return evaluate_partner(book, base_features(**features), previous=None, as_of=AS_OF)


def test_first_hit_wins_from_the_top(book: Rulebook) -> None:
    d = decide(
        book,
        revenue_won_365d=500_000.0,
        deals_won_365d=9.0,
        certified_people=5.0,
        satisfaction_avg_365d=9.0,
    )
    assert (d.track, d.tier, d.evaluated_tier) == ("resell", "Platinum", "Platinum")
    assert [c.rule_id for c in d.checks if c.section == "tier"] == ["resell/Platinum"] * 4


def test_fallback_tier_when_nothing_else_holds(book: Rulebook) -> None:
    d = decide(book)
    assert d.tier == "Registered" and d.next_tier == "Silver"


def test_track_by_partner_type(book: Rulebook) -> None:
    d = decide(book, partner_type="referral", leads_registered_365d=13.0)
    assert (d.track, d.tier) == ("referral", "Advocate")
    assert d.benefits["referral_fee_rate"] == 0.08


def test_incentives_are_collected_with_amounts(book: Rulebook) -> None:
    d = decide(
        book,
        revenue_won_365d=200_000.0,
        revenue_won_qtd=50_000.0,
        deals_won_365d=10.0,
        certified_people=3.0,
        business_reviews_365d=1.0,
    )
    awards = {a.incentive_id: a for a in d.incentives}
    assert set(awards) == {
        "commission_gold",
        "ten_deals_bonus",
        "mdf_grant",
        "priority_listing",
    }
    assert awards["commission_gold"].amount == pytest.approx(0.15 * 50_000)  # on the quarter
    assert (awards["ten_deals_bonus"].reward_type, awards["ten_deals_bonus"].amount) == (
        "bonus",
        5000.0,
    )


def test_missing_basis_costs_nothing(book: Rulebook) -> None:
    d = decide(book, revenue_won_qtd=float("nan"))
    (award,) = d.incentives
    assert (award.incentive_id, award.amount) == ("commission_standard", 0.0)


def test_nan_fails_its_condition_and_is_reported_missing(book: Rulebook) -> None:
    d = decide(
        book,
        revenue_won_365d=500_000.0,
        deals_won_365d=9.0,
        certified_people=5.0,
        satisfaction_avg_365d=float("nan"),
    )
    assert d.tier == "Silver"
    missing = [c for c in d.checks if c.outcome == "missing" and c.section == "tier"]
    assert {(c.rule_id, c.feature) for c in missing} == {
        ("resell/Platinum", "satisfaction_avg_365d"),
        ("resell/Gold", "satisfaction_avg_365d"),
    }


def test_none_is_missing_too(book: Rulebook) -> None:
    assert decide(book, churn_risk=None).actions == []


def test_not_of_missing_stays_missing(tmp_path: Path) -> None:
    actions = """\
  - id: call
    description: not churning
    when: {not: churn_risk >= 0.5}"""
    small = load_rulebook(write_book(tmp_path, actions=actions))
    row = base_features(churn_risk=float("nan"))
    assert evaluate_partner(small, row, previous=None, as_of=AS_OF).actions == []
    row["churn_risk"] = 0.1
    assert len(evaluate_partner(small, row, previous=None, as_of=AS_OF).actions) == 1


def test_any_holds_when_one_branch_holds_despite_missing(book: Rulebook) -> None:
    d = decide(book, days_since_last_manager_contact=None, manager_contacts_365d=0.0)
    assert [a.action_id for a in d.actions] == ["scheduled_checkin"]


def test_absent_feature_is_an_error_naming_it(book: Rulebook) -> None:
    row = base_features()
    del row["certified_people"], row["churn_risk"]
    with pytest.raises(InvalidInput) as info:
        evaluate_partner(book, row, previous=None, as_of=AS_OF)
    assert {p.column for p in info.value.problems} == {"certified_people", "churn_risk"}
    assert "certified_people" in str(info.value)


def test_absent_column_is_an_error_in_the_frame_too(book: Rulebook) -> None:
    frame = random_frame(5).drop(columns=["deal_acceptance"])
    with pytest.raises(InvalidInput, match="deal_acceptance"):
        evaluate_frame(book, frame, as_of=AS_OF)


def test_wrong_type_value_is_an_error(book: Rulebook) -> None:
    with pytest.raises(InvalidInput) as info:
        decide(book, revenue_won_365d="lots")
    (p,) = info.value.problems
    assert (p.column, p.value) == ("revenue_won_365d", "lots")


def test_wrong_type_column_is_an_error(book: Rulebook) -> None:
    frame = random_frame(3)
    frame["certified_people"] = pd.Series(["1", "two", None], dtype=object)
    with pytest.raises(InvalidInput) as info:
        evaluate_frame(book, frame, as_of=AS_OF)
    (p,) = info.value.problems
    assert (p.column, p.row, p.value) == ("certified_people", 1, "two")


def test_actions_carry_propensity_value_weight_and_cooldown(book: Rulebook) -> None:
    d = decide(
        book,
        deal_acceptance=0.2,
        deals_registered_90d=2.0,
        open_pipeline=30_000.0,
        churn_risk=0.6,
        revenue_won_365d=1000.0,
    )
    by_id = {a.action_id: a for a in d.actions}
    retention = by_id["retention_call"]
    # a learned propensity with prior {mean: 0.25}: the prior's mean until there is evidence;
    # the value is the gain when the call works: P(churn) × revenue × 0.7
    assert (retention.propensity, retention.value) == (0.25, pytest.approx(0.6 * 1000.0 * 0.7))
    assert (retention.weight, retention.cooldown_days) == (1.0, 30)


def test_an_inverted_propensity_is_one_minus_the_output(tmp_path: Path) -> None:
    action = """\
  - id: help
    description: help
    when: deal_acceptance < 0.5
    propensity: {output: deal_acceptance, invert: true}
    value: {expr: open_pipeline * 0.1, unit: USD, horizon_days: 365}"""
    small = load_rulebook(write_book(tmp_path, actions=action))
    (a,) = decide(small, deal_acceptance=0.2, open_pipeline=30_000.0).actions
    assert (a.propensity, a.value) == (pytest.approx(0.8), pytest.approx(3_000.0))


def test_actions_without_model_or_value_get_one(tmp_path: Path) -> None:
    action = "  - {id: hello, description: hi, when: manager_contacts_365d == 0}"
    small = load_rulebook(write_book(tmp_path, actions=action))
    (a,) = decide(small, manager_contacts_365d=0.0).actions
    assert (a.action_id, a.propensity, a.value) == ("hello", 1.0, 1.0)


def test_scores_are_piecewise_linear_and_weighted(book: Rulebook) -> None:
    d = decide(book, sourced_revenue_365d=10_000.0, leads_registered_365d=6.0)
    # contribution: sourced 10k is half way to 20k → 20; influenced 0 → 0; leads 6 → 25;
    # weights 2:1:1
    assert d.scores["contribution"] == pytest.approx((2 * 20 + 0 + 25) / 4)
    assert all(0 <= v <= 100 for v in d.scores.values())
    weights = {c.id: c.weight for c in book.scorecard}
    overall = sum(weights[k] * d.scores[k] for k in weights) / sum(weights.values())
    assert d.scores["overall"] == pytest.approx(overall)


def test_scores_clamp_and_use_missing_default(book: Rulebook) -> None:
    d = decide(book, satisfaction_avg_365d=2.0, customer_retention=None)
    assert d.scores["customer_success"] == pytest.approx((2 * 0 + 1 * 50) / 3)


def test_every_decision_carries_version_and_hash(book: Rulebook) -> None:
    d = decide(book)
    assert d.to_dict()["rulebook_version"] == "2026.1"
    assert d.to_dict()["rulebook_hash"] == book.content_hash
    fd = evaluate_frame(book, random_frame(3), as_of=AS_OF)
    assert (fd.rulebook_version, fd.rulebook_hash) == ("2026.1", book.content_hash)


def test_naive_as_of_is_taken_as_utc(book: Rulebook) -> None:
    d = evaluate_partner(book, base_features(), previous=None, as_of=AS_OF.replace(tzinfo=None))
    assert d.as_of == AS_OF


def test_frame_long_tables_are_sorted_and_typed(book: Rulebook) -> None:
    frame = random_frame(50, seed=3)
    fd = evaluate_frame(book, frame, as_of=AS_OF)
    assert list(fd.tiers["partner_id"]) == list(frame["partner_id"])
    assert list(fd.incentives.columns) == [
        "partner_id",
        "incentive_id",
        "reward_type",
        "amount",
        "unit",
    ]
    assert list(fd.actions.columns) == [
        "partner_id",
        "action_id",
        "propensity",
        "value",
        "weight",
        "cooldown_days",
    ]
    eligible = fd.eligible.drop(columns="partner_id").to_numpy().sum()
    assert eligible == len(fd.actions)
    assert fd.scores.shape == (50, 1 + len(book.scorecard) + 1)


def test_frame_index_is_ignored(book: Rulebook) -> None:
    frame = random_frame(10, seed=4)
    shuffled = frame.set_index(pd.Index(np.arange(10)[::-1] * 7))
    a = evaluate_frame(book, frame, as_of=AS_OF).tiers
    b = evaluate_frame(book, shuffled, as_of=AS_OF).tiers
    assert a["tier"].tolist() == b["tier"].tolist()


def test_frame_accepts_nullable_and_bool_dtypes(book: Rulebook) -> None:
    frame = random_frame(20, seed=5)
    frame["exited"] = frame["exited"].astype("boolean")
    frame["certified_people"] = frame["certified_people"].round().astype("Int64")
    frame["partner_type"] = frame["partner_type"].astype("string")
    fd = evaluate_frame(book, frame, as_of=AS_OF)
    for i, row in enumerate(records(frame)):
        d = evaluate_partner(book, row, previous=None, as_of=AS_OF)
        assert d.tier == fd.tiers["tier"].iloc[i]


def test_empty_frame(book: Rulebook) -> None:
    fd = evaluate_frame(book, random_frame(0), as_of=AS_OF)
    assert len(fd.tiers) == len(fd.incentives) == len(fd.actions) == 0


def test_deal_routing_bands(book: Rulebook) -> None:
    routing = book.deal_routing
    assert [routing.route(p) for p in (0.9, 0.75, 0.5, 0.3, 0.1)] == [
        "fast_track",
        "fast_track",
        "review",
        "review",
        "likely_reject",
    ]
    assert routing.routes(np.array([0.9, 0.5, 0.1])).tolist() == [
        "fast_track",
        "review",
        "likely_reject",
    ]
    assert book.max_actions_per_partner == 3


def test_scores_identical_in_both_paths_at_breakpoints(book: Rulebook) -> None:
    frame = random_frame(1)
    frame["revenue_won_365d"] = 40_000.0
    d = evaluate_partner(book, records(frame)[0], previous=None, as_of=AS_OF)
    s = evaluate_frame(book, frame, as_of=AS_OF).scores.iloc[0]
    assert math.isclose(d.scores["contribution"], s["contribution"], rel_tol=1e-12)


def test_simulated_program_both_paths_agree(book: Rulebook, tables: Any) -> None:
    from features.snapshot import build_features

    frame = build_features(tables, as_of=AS_OF)
    rng = np.random.default_rng(0)
    frame["churn_risk"] = rng.random(len(frame))
    frame["deal_acceptance"] = rng.random(len(frame))
    fd = evaluate_frame(book, frame, as_of=AS_OF)
    assert fd.tiers["tier"].nunique() >= 3
    actions = fd.actions.groupby("partner_id")["action_id"].apply(lambda s: sorted(s.astype(str)))
    for i, row in enumerate(records(frame)):
        d = evaluate_partner(book, row, previous=None, as_of=AS_OF)
        assert d.tier == fd.tiers["tier"].iloc[i]
        assert sorted(a.action_id for a in d.actions) == actions.get(row["partner_id"], [])


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+00:03", "9999-12-31T23:59:59-00:03"])
def test_an_as_of_utc_cannot_hold_is_invalid_input_naming_it(book: Rulebook, text: str) -> None:
    as_of = datetime.fromisoformat(text)
    with pytest.raises(InvalidInput) as one:
        evaluate_partner(book, base_features(), previous=None, as_of=as_of)
    with pytest.raises(InvalidInput) as frame:
        evaluate_frame(book, random_frame(3), as_of=as_of)
    for info in (one, frame):
        (problem,) = info.value.problems
        assert (problem.column, problem.value) == ("as_of", text)
        assert text in str(info.value)
