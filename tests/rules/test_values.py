import numpy as np
import pytest

from rules import Rulebook
from rules.columns import Columns
from rules.values import ExpressionError, compile_value, parse_template

from .conftest import base_features, random_frame


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('true')",
        "revenue_won_365d.real",
        "revenue_won_365d ** 2",
        "(lambda: 1)()",
        "open('x')",
        "revenue_won_365d if churn_risk else 0",
        "[1][0]",
        "True * revenue_won_365d",
    ],
)
def test_anything_but_arithmetic_is_refused(text: str) -> None:
    with pytest.raises(ExpressionError):
        compile_value(text, "USD")


def test_units_follow_the_arithmetic() -> None:
    assert compile_value("churn_risk * revenue_won_365d * 0.3", "USD").money == 1
    assert compile_value("revenue_won_365d / avg_deal_value_365d", "USD").money == 0
    assert compile_value("revenue_won_365d + 500", "USD").money == 1
    assert compile_value("customer_count * 1200", "USD").money == 0
    assert compile_value("250", "USD").constant
    assert compile_value("revenue_won_365d", "EUR").money == 0  # the registry's USD is not EUR


def test_missing_values_and_division_by_zero_are_missing() -> None:
    expr = compile_value("revenue_won_365d / deals_won_365d", "USD")
    assert np.isnan(expr.scalar({"revenue_won_365d": 10.0, "deals_won_365d": 0.0}))
    assert np.isnan(expr.scalar({"revenue_won_365d": None, "deals_won_365d": 2.0}))
    assert expr.scalar({"revenue_won_365d": 10.0, "deals_won_365d": 4.0}) == 2.5


def test_scalar_and_vector_views_agree_on_every_default_action(book: Rulebook) -> None:
    frame = random_frame(300, nan_share=0.2)
    cols = Columns(frame)
    rows = frame.to_dict("records")
    for action in book.actions:
        assert action.value_expr is not None
        vector = action.value_expr.vector(cols)
        scalar = np.array([action.value_expr.scalar(r) for r in rows])
        np.testing.assert_array_equal(vector, scalar, err_msg=action.id)


def test_a_template_renders_features_as_people_read_them() -> None:
    t = parse_template(
        "{partner} has been quiet for {days_since_last_activity} days; "
        "{revenue_won_365d} of revenue at stake ({churn_risk} risk)"
    )
    text = t.render(
        base_features(days_since_last_activity=64.0, revenue_won_365d=36_160.0, churn_risk=0.86)
        | {"partner": "Acme"}
    )
    assert text == "Acme has been quiet for 64 days; $36,160 of revenue at stake (86% risk)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{partnr} is quiet", "unknown field '{partnr}'"),
        ("{revenue_won_365d:.2f}", "takes no format spec"),
        ("{} is quiet", "empty field"),
        ("{partner is quiet", "bad reason template"),
    ],
)
def test_bad_templates_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message.replace("{", r"\{").replace("(", r"\(")):
        parse_template(text)
