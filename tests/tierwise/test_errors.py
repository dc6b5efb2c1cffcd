from tierwise.errors import DataValidationError, NotFound, Problem, RulebookError, TierwiseError


def test_problem_names_every_location_part() -> None:
    p = Problem("not a number", file="deals.csv", table="deals", row=3, column="amount", value="x")
    assert str(p) == "deals.csv, table deals, row 3, column amount: not a number"


def test_problem_without_location_is_just_the_message() -> None:
    assert str(Problem("boom")) == "boom"


def test_problem_to_dict_drops_empty_fields_and_reprs_odd_values() -> None:
    d = Problem("bad", line=4, value=[1, 2]).to_dict()
    assert d == {"message": "bad", "line": 4, "value": "[1, 2]"}


def test_errors_carry_their_http_status() -> None:
    assert NotFound("x").status == 404
    assert RulebookError("x").status == 422
    assert DataValidationError("x").status == 422
    assert TierwiseError("x").status == 500


def test_error_text_lists_its_problems() -> None:
    err = RulebookError("2 problems", [Problem("a", line=1), Problem("b", line=2)])
    assert str(err).splitlines() == ["2 problems", "  - line 1: a", "  - line 2: b"]
