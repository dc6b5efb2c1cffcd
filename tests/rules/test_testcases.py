import shutil
from pathlib import Path

import pytest

from rules import load_rulebook
from rules.testcases import case_file, run_cases
from tierwise.errors import RulebookError

from .conftest import DEFAULT_DIR


@pytest.fixture
def book_dir(tmp_path: Path) -> Path:
    shutil.copytree(DEFAULT_DIR, tmp_path / "book")
    return tmp_path / "book"


def test_default_cases_pass_and_cover_every_rule() -> None:
    report = run_cases(load_rulebook(DEFAULT_DIR), case_file(DEFAULT_DIR))
    assert [r.id for r in report.results if not r.ok] == []
    assert report.uncovered == {"tiers": [], "incentives": [], "actions": [], "refusals": []}
    assert report.mismatches == [] and report.ok and report.complete


def test_a_failing_case_says_what_differs(book_dir: Path) -> None:
    cases = book_dir / "tests.yaml"
    cases.write_text(
        cases.read_text().replace(
            "expect: {tier: Silver, incentives: [commission_standard], "
            "actions: [push_certification]}",
            "expect: {tier: Gold, incentives: [commission_gold], actions: [push_certification]}",
        )
    )
    report = run_cases(load_rulebook(book_dir), cases)
    (bad,) = [r for r in report.results if not r.ok]
    assert bad.id == "silver_var" and bad.line is not None
    assert bad.failures == [
        "tier: expected Gold, got Silver",
        "incentives: expected ['commission_gold'], got ['commission_standard'] "
        "(missing ['commission_gold'], unexpected ['commission_standard'])",
    ]
    assert not report.ok


def test_uncovered_rules_are_reported(book_dir: Path) -> None:
    cases = book_dir / "tests.yaml"
    text = cases.read_text()
    start = text.index("  - id: deal_desk")
    end = text.index("  - id: grace_holds_tier")
    cases.write_text(text[:start] + text[end:])
    report = run_cases(load_rulebook(book_dir), cases)
    assert report.ok and not report.complete
    assert report.uncovered["actions"] == ["deal_desk_help"]


def test_invalid_case_file_names_lines(book_dir: Path) -> None:
    cases = book_dir / "tests.yaml"
    cases.write_text("""\
as_of: "2025-06-30"
cases:
  - id: typo
    features: {revenue_won_356d: 5}
    expect: {tier: Goldd, incentives: [nope], tier_change: sideways}
  - id: shape
    expect: {tier: Gold, colour: red}
""")
    with pytest.raises(RulebookError) as info:
        run_cases(load_rulebook(book_dir), cases)
    found = {(p.line, p.message) for p in info.value.problems}
    assert (7, "cases.1.expect.colour: Extra inputs are not permitted") in found


def test_unknown_names_in_cases(book_dir: Path) -> None:
    cases = book_dir / "tests.yaml"
    cases.write_text("""\
as_of: "2025-06-30"
cases:
  - id: typo
    features: {revenue_won_356d: 5}
    expect: {tier: Goldd, incentives: [nope], tier_change: sideways}
""")
    with pytest.raises(RulebookError) as info:
        run_cases(load_rulebook(book_dir), cases)
    messages = sorted((p.line, p.message) for p in info.value.problems)
    assert messages == [
        (4, "unknown feature 'revenue_won_356d' (did you mean 'revenue_won_365d'?)"),
        (5, "unknown incentive 'nope'"),
        (5, "unknown tier 'Goldd'"),
        (5, "unknown tier_change 'sideways' (one of promoted, demoted, unchanged, new)"),
    ]


def test_missing_case_file(tmp_path: Path) -> None:
    with pytest.raises(RulebookError, match="no test cases"):
        case_file(tmp_path)
