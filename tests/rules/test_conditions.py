from typing import Any

import pytest

from rules.conditions import All, AnyOf, Issue, Leaf, Not, Vocabulary, parse, parse_number, to_text

VOCAB = Vocabulary.default(("Gold", "Silver", "Registered"), ("resell", "referral"))


def ok(raw: Any) -> Any:
    issues: list[Issue] = []
    cond = parse(raw, VOCAB, ("when",), issues)
    assert issues == []
    return cond


def bad(raw: Any, vocab: Vocabulary = VOCAB) -> list[Issue]:
    issues: list[Issue] = []
    assert parse(raw, vocab, ("when",), issues) is None
    return issues


def test_numeric_comparison() -> None:
    leaf = ok("revenue_won_365d >= 250000")
    assert (leaf.name, leaf.op, leaf.value, leaf.kind) == (
        "revenue_won_365d",
        ">=",
        250000.0,
        "number",
    )


@pytest.mark.parametrize("op", [">=", ">", "<=", "<", "==", "!="])
def test_every_numeric_operator(op: str) -> None:
    assert ok(f"certified_people {op} 3").op == op


def test_thresholds_accept_underscores_decimals_and_signs() -> None:
    assert ok("revenue_won_365d >= 1_000_000").value == 1_000_000
    assert ok("churn_risk < .5").value == 0.5
    assert ok("revenue_won_trend > -0.25").value == -0.25


def test_category_equality_becomes_membership() -> None:
    leaf = ok("partner_type == referral")
    assert (leaf.op, leaf.value) == ("in", frozenset({"referral"}))
    assert ok("partner_type != referral").op == "not in"


def test_membership_lists_with_quotes() -> None:
    leaf = ok("partner_type not in [VAR, 'MSP', \"SI\"]")
    assert (leaf.op, leaf.value) == ("not in", frozenset({"VAR", "MSP", "SI"}))
    assert leaf.threshold == ["MSP", "SI", "VAR"]


def test_boolean_forms() -> None:
    assert ok("onboarded").value is True
    assert ok("not exited").value is False
    assert ok("exited == false").value is False
    assert ok("exited != true").value is False


def test_list_is_all_and_mappings_combine() -> None:
    cond = ok({"any": ["churn_risk >= 0.5", {"all": ["tier == Gold", {"not": "onboarded"}]}]})
    assert isinstance(cond, AnyOf)
    inner = cond.children[1]
    assert isinstance(inner, All) and isinstance(inner.children[1], Not)
    assert isinstance(ok(["tenure_days > 3", "onboarded"]), All)


def test_single_item_list_is_the_leaf_itself() -> None:
    assert isinstance(ok(["tenure_days > 3"]), Leaf)


def test_to_text_renders_the_tree() -> None:
    cond = ok({"any": ["churn_risk >= 0.5", {"not": "onboarded"}]})
    assert to_text(cond) == "(churn_risk >= 0.5 or not (onboarded))"


def test_unknown_feature_suggests_closest() -> None:
    (issue,) = bad("revenue_won_356d >= 5")
    assert "unknown feature 'revenue_won_356d'" in issue.message
    assert "did you mean 'revenue_won_365d'" in issue.message
    assert issue.value == "revenue_won_356d"


def test_malformed_threshold_is_named() -> None:
    (issue,) = bad("revenue_won_365d >= 1,000,000")
    assert "malformed threshold '1,000,000'" in issue.message
    assert issue.value == "1,000,000"


@pytest.mark.parametrize("raw", ["$5000", "5k", "1e", "--3", "five"])
def test_parse_number_rejects_non_numbers(raw: str) -> None:
    assert parse_number(raw) is None


def test_numeric_operator_on_category_is_a_type_mismatch() -> None:
    (issue,) = bad("partner_type >= 3")
    assert "type mismatch" in issue.message and "category" in issue.message


def test_membership_on_number_is_a_type_mismatch() -> None:
    (issue,) = bad("deals_won_365d in [1, 2]")
    assert "type mismatch: 'in' needs a category" in issue.message


def test_number_compared_to_category_value() -> None:
    (issue,) = bad("partner_type == 5")
    assert "not a category value" in issue.message


def test_bare_number_feature_is_not_a_boolean() -> None:
    (issue,) = bad("tenure_days")
    assert "not a boolean" in issue.message


def test_unknown_tier_name() -> None:
    (issue,) = bad("tier in [Gold, Sliver]")
    assert issue.message == "unknown tier 'Sliver' (did you mean 'Silver'?)"
    assert issue.value == "Sliver"


def test_unknown_tier_change_lists_known_values() -> None:
    (issue,) = bad("tier_change == sideways")
    assert "unknown tier_change value 'sideways'" in issue.message


def test_forbidden_name_says_why() -> None:
    vocab = VOCAB.without(("tier",), "tiers are decided by these conditions")
    (issue,) = bad("tier == Gold", vocab)
    assert "'tier' cannot be used here: tiers are decided" in issue.message


def test_unreadable_condition_and_bad_shapes() -> None:
    assert "cannot read condition" in bad("revenue_won_365d between 1 and 2")[0].message
    assert "a condition is a string" in bad(42)[0].message
    assert "needs a non-empty list" in bad({"all": []})[0].message
    assert "needs a non-empty list" in bad({"either": ["onboarded"]})[0].message


def test_every_problem_is_collected_with_its_path() -> None:
    issues = bad(["revenue_won_356d >= 5", "tenure_days >= 1", "partner_type >= 2"])
    assert [i.path for i in issues] == [("when", 0), ("when", 2)]
