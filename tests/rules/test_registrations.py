"""Deal-registration eligibility: the `registrations:` section, its checks and its verdicts."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rules import Rulebook, load_rulebook
from rules.registrations import REFUSALS, assess
from rules.testcases import case_file, run_cases
from tierwise.errors import RulebookError

from .conftest import DEFAULT_DIR, write_book

AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def clean(**changes: Any) -> dict[str, Any]:
    """A registration every default rule accepts."""
    return {
        "customer_id": "C042",
        "amount": 40_000.0,
        "product": "core",
        "deal_kind": "new",
        "customer_is_existing": False,
        "customer_has_open_direct_deal": False,
        **changes,
    }


def codes(book: Rulebook, **changes: Any) -> list[str]:
    assert book.registrations is not None
    return assess(book.registrations, clean(**changes), registered_at=AT).codes


def test_a_clean_registration_is_protected_and_expires(book: Rulebook) -> None:
    assert book.registrations is not None
    verdict = assess(book.registrations, clean(), registered_at=AT)
    assert verdict.eligible and verdict.refusals == ()
    assert verdict.protected_until == AT + timedelta(days=book.registrations.protection_days)
    assert verdict.expires_at == AT + timedelta(days=book.registrations.expiry_days)
    assert [f.check for f in verdict.findings] == [
        "minimum_amount",
        "deal_kind",
        "channel_conflict",
    ]


def test_an_open_direct_opportunity_is_a_channel_conflict(book: Rulebook) -> None:
    assert book.registrations is not None
    verdict = assess(
        book.registrations, clean(customer_has_open_direct_deal=True), registered_at=AT
    )
    assert not verdict.eligible and verdict.protected_until is None and verdict.expires_at is None
    (refusal,) = verdict.refusals
    assert (refusal.code, refusal.field, refusal.value) == (
        "channel_conflict",
        "customer_has_open_direct_deal",
        True,
    )
    assert refusal.sentence.startswith("C042 has an open direct opportunity")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"amount": 2_499.0}, ["below_minimum"]),
        ({"amount": 8_000.0, "product": "enterprise_suite"}, ["below_minimum"]),
        ({"deal_kind": "renewal", "customer_is_existing": True}, ["kind_not_eligible"]),
        ({"customer_is_existing": True}, ["not_new_customer"]),
        ({"deal_kind": "upsell"}, ["not_an_expansion"]),
        ({"deal_kind": "cross_sell", "customer_is_existing": True}, []),
        ({"amount": None}, ["missing_information"]),
        ({"customer_has_open_direct_deal": float("nan")}, ["missing_information"]),
        (
            {"amount": 100.0, "customer_has_open_direct_deal": True},
            ["below_minimum", "channel_conflict"],
        ),
    ],
)
def test_each_rule_refuses_with_its_code(
    book: Rulebook, changes: dict[str, Any], expected: list[str]
) -> None:
    assert codes(book, **changes) == expected


def test_the_refusal_names_the_value_and_threshold_that_decided(book: Rulebook) -> None:
    assert book.registrations is not None
    verdict = assess(book.registrations, clean(amount=2_000.0), registered_at=AT)
    (refusal,) = verdict.refusals
    assert (refusal.value, refusal.threshold) == (2_000.0, book.registrations.minimum("core"))
    assert refusal.sentence == "$2,000 is below the $2,500 minimum for a core registration"


def test_a_rulebook_without_the_section_checks_nothing(tmp_path: Path) -> None:
    assert load_rulebook(write_book(tmp_path)).registrations is None


def _with_section(tmp_path: Path, section: str) -> Path:
    path = write_book(tmp_path)
    path.write_text(path.read_text() + "\n" + section, encoding="utf-8")
    return path


def problems(path: Path) -> list[tuple[int | None, str, Any]]:
    with pytest.raises(RulebookError) as info:
        load_rulebook(path)
    return [(p.line, p.message, p.value) for p in info.value.problems]


def test_bad_sections_name_every_problem_with_its_line(tmp_path: Path) -> None:
    path = _with_section(
        tmp_path,
        "registrations:\n"
        "  protection_days: 30\n"
        "  expiry_days: 45\n"
        "  deal_kinds: {new: new_customer, renewl: never}\n"
        "  sentences:\n"
        "    below_minimum: '{amount} is under {treshold}'\n"
        "    channel_conflct: 'no'\n",
    )
    start = path.read_text().splitlines().index("registrations:") + 1
    got = problems(path)
    assert (start + 2, "expiry_days (45) must not exceed protection_days (30): a "
            "registration cannot expire after its protection ends", 45) in got  # fmt: skip
    assert (start + 3, "unknown deal kind 'renewl' (did you mean 'renewal'?)", "renewl") in got
    bad_field = [m for line, m, v in got if line == start + 5 and v == "treshold"]
    assert bad_field and "{minimum}" in bad_field[0]
    assert (
        start + 6,
        "unknown refusal code 'channel_conflct' (did you mean 'channel_conflict'?)",
        "channel_conflct",
    ) in got
    assert len(got) == 4


def test_shape_errors_name_key_and_line(tmp_path: Path) -> None:
    path = _with_section(
        tmp_path, "registrations:\n  protection_days: -3\n  deal_kinds: {new: sometimes}\n"
    )
    start = path.read_text().splitlines().index("registrations:") + 1
    got = problems(path)
    assert [line for line, *_ in got] == [start + 1, start + 2]
    assert got[0][2] == -3 and got[1][2] == "sometimes"


def test_the_section_changes_the_content_hash(tmp_path: Path) -> None:
    plain = load_rulebook(write_book(tmp_path, name="a.yaml")).content_hash
    with_rules = load_rulebook(_with_section(tmp_path, "registrations: {expiry_days: 30}"))
    assert with_rules.content_hash != plain
    assert with_rules.registrations is not None and with_rules.registrations.expiry_days == 30


@pytest.fixture
def book_dir(tmp_path: Path) -> Path:
    shutil.copytree(DEFAULT_DIR, tmp_path / "book")
    return tmp_path / "book"


def test_default_cases_produce_every_refusal_code() -> None:
    report = run_cases(load_rulebook(DEFAULT_DIR), case_file(DEFAULT_DIR))
    ids = [r.id for r in report.results if r.id.startswith("registration_")]
    assert len(ids) >= len(REFUSALS) and report.uncovered["refusals"] == []


def test_a_failing_registration_case_says_what_differs(book_dir: Path) -> None:
    cases = book_dir / "tests.yaml"
    text = cases.read_text()
    cases.write_text(
        text.replace(
            "expect: {eligible: false, refusals: [channel_conflict]}", "expect: {eligible: true}"
        )
    )
    report = run_cases(load_rulebook(book_dir), cases)
    (bad,) = [r for r in report.results if not r.ok]
    assert bad.id == "registration_channel_conflict" and bad.line is not None
    assert bad.failures == ["eligible: expected True, got False ['channel_conflict']"]


def test_registration_cases_with_unknown_names_are_refused_with_lines(book_dir: Path) -> None:
    cases = book_dir / "tests.yaml"
    text = cases.read_text()
    cases.write_text(
        text.replace("refusals: [kind_not_eligible]", "refusals: [kind_not_allowed]").replace(
            "customer_is_existing: false}\n    expect: {eligible: false, refusals: [missing",
            "customer_existing: false}\n    expect: {eligible: false, refusals: [missing",
        )
    )
    with pytest.raises(RulebookError) as info:
        run_cases(load_rulebook(book_dir), cases)
    found = {(p.rule_id, p.value) for p in info.value.problems}
    assert found == {
        ("registration_renewal", "kind_not_allowed"),
        ("registration_missing_conflict_flag", "customer_existing"),
    }
    assert all(p.line for p in info.value.problems)


def test_uncovered_refusal_codes_are_reported(book_dir: Path) -> None:
    cases = book_dir / "tests.yaml"
    text = cases.read_text()
    start = text.index("  - id: registration_renewal")
    end = text.index("  - id: registration_new_on_existing_customer")
    cases.write_text(text[:start] + text[end:])
    report = run_cases(load_rulebook(book_dir), cases)
    assert report.ok and report.uncovered["refusals"] == ["kind_not_eligible"]
