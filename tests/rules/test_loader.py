import shutil
from pathlib import Path

import pytest

from rules import load_rulebook
from tierwise.errors import RulebookError

from .conftest import BROKEN_DIR, DEFAULT_DIR, write_book


def problems_of(path: Path) -> list:
    with pytest.raises(RulebookError) as info:
        load_rulebook(path)
    return info.value.problems


# (broken file, line, rule id, message fragment) — one per validation error kind
BROKEN = [
    ("yaml_syntax.yaml", 7, None, "YAML syntax error: while parsing a flow sequence (line 5)"),
    ("duplicate_key.yaml", 8, None, "duplicate key 'description'"),
    ("shape.yaml", 9, "retention_call", "missing required key 'description'"),
    ("shape.yaml", 11, "retention_call", "weight: Input should be a valid number"),
    ("shape.yaml", 12, "retention_call", "unknown key 'colldown_days'"),
    (
        "unknown_feature.yaml",
        9,
        "resell/Gold",
        "unknown feature 'revenue_won_356d' (did you mean 'revenue_won_365d'?)",
    ),
    (
        "numeric_op_on_category.yaml",
        11,
        "big_partner_bonus",
        "type mismatch: '>=' needs a number, but 'partner_type' is a category",
    ),
    (
        "in_on_number.yaml",
        11,
        "round_numbers",
        "type mismatch: 'in' needs a category, but 'deals_won_365d' is a number",
    ),
    (
        "malformed_threshold.yaml",
        10,
        "resell/Platinum",
        "malformed threshold '1,000,000' for 'revenue_won_365d'",
    ),
    (
        "shadowed_tier.yaml",
        9,
        "resell/Gold",
        "unreachable tier 'resell/Gold': tier 'resell/Silver' comes first and matches every",
    ),
    (
        "contradictory_tier.yaml",
        8,
        "resell/Gold",
        "unreachable tier 'resell/Gold': its conditions can never all hold",
    ),
    ("missing_fallback.yaml", 9, "resell/Silver", "missing fallback tier"),
    ("missing_fallback_track.yaml", 9, "resell", "missing fallback track"),
    (
        "duplicate_ids.yaml",
        13,
        "event_tickets",
        "duplicate id 'event_tickets' (first defined at line 9)",
    ),
    (
        "unknown_model_output.yaml",
        12,
        "retention_call",
        "unknown model output 'churn_riks' (did you mean 'churn_risk'?)",
    ),
    ("action_values.yaml", 12, "bare_feature", "value 'revenue_won_365d' has no unit"),
    ("action_values.yaml", 16, "in_euros", "is in EUR, but the program's unit of value is USD"),
    ("action_values.yaml", 20, "counted", "'customer_count * churn_risk' is in a pure number"),
    ("action_values.yaml", 24, "unitless", "value of 'unitless' has no unit: add unit: USD"),
    ("action_values.yaml", 28, "quarterly", "is over 90 days, but every value is over 365"),
    ("action_values.yaml", 32, "sneaky", "'__import__('os').system('true')' is not allowed"),
    ("action_values.yaml", 36, "mixed_sum", "adds or subtracts amounts in different units"),
    (
        "action_values.yaml",
        39,
        "bad_sentence",
        "unknown field '{days_since_last_activty}' in the reason (did you mean",
    ),
    ("unknown_tier.yaml", 14, "gold_commission", "unknown tier 'Goldd' (did you mean 'Gold'?)"),
    (
        "track_in_tier.yaml",
        9,
        "resell/Gold",
        "'track' cannot be used here: a tier already belongs to one track",
    ),
]


@pytest.mark.parametrize(("name", "line", "rule_id", "message"), BROKEN)
def test_broken_rulebook_names_file_line_rule_and_message(
    name: str, line: int, rule_id: str | None, message: str
) -> None:
    problems = problems_of(BROKEN_DIR / name)
    hits = [p for p in problems if message in p.message]
    assert hits, [p.message for p in problems]
    assert hits[0].file == str(BROKEN_DIR / name)
    assert (hits[0].line, hits[0].rule_id) == (line, rule_id)


def test_every_broken_file_is_covered_by_a_case() -> None:
    assert {p.name for p in BROKEN_DIR.glob("*.yaml")} - {b[0] for b in BROKEN} == {
        "many_problems.yaml"
    }


def test_all_problems_are_reported_in_one_pass() -> None:
    problems = problems_of(BROKEN_DIR / "many_problems.yaml")
    messages = [(p.line, p.message.split(":")[0]) for p in problems]
    assert [line for line, _ in messages] == [1, 8, 9, 11, 15]
    assert any("certifed_staff" in p.message for p in problems)
    assert any(p.value == "Platinum" for p in problems)


def test_bad_values_are_carried() -> None:
    (p,) = problems_of(BROKEN_DIR / "malformed_threshold.yaml")
    assert p.value == "1,000,000"


def test_default_rulebook_loads_with_version_and_hash() -> None:
    book = load_rulebook(DEFAULT_DIR)
    assert book.version == "2026.1"
    assert len(book.content_hash) == 64
    assert [t.id for t in book.tracks] == ["referral", "msp", "si", "distributor", "resell"]
    tiers = {t.id: [tier.id for tier in t.tiers] for t in book.tracks}
    assert tiers == {
        "referral": ["Ambassador", "Advocate", "Referrer"],
        "msp": ["Premier", "Advanced", "Provider"],
        "si": ["Expert", "Specialist", "Associate"],
        "distributor": ["Strategic", "Preferred", "Authorized"],
        "resell": ["Platinum", "Gold", "Silver", "Registered"],
    }


def test_features_needed_lists_every_name_read_but_decided_ones() -> None:
    book = load_rulebook(DEFAULT_DIR)
    assert {
        "revenue_won_365d",
        "partner_type",
        "churn_risk",
        "deal_acceptance",
        "customer_retention",
        "open_pipeline",
    } <= book.features_needed
    assert not {"tier", "tier_change", "track"} & book.features_needed


def test_hash_ignores_comments_and_layout_but_not_content(tmp_path: Path) -> None:
    first = load_rulebook(write_book(tmp_path, name="a.yaml"))
    text = (tmp_path / "a.yaml").read_text()
    (tmp_path / "b.yaml").write_text(
        "# a comment\n" + text.replace('version: "1"', "version:   '1'")
    )
    (tmp_path / "c.yaml").write_text(text.replace(">= 50000", ">= 60000"))
    assert load_rulebook(tmp_path / "b.yaml").content_hash == first.content_hash
    assert load_rulebook(tmp_path / "c.yaml").content_hash != first.content_hash


def test_directory_sections_split_across_files(tmp_path: Path) -> None:
    shutil.copytree(DEFAULT_DIR, tmp_path / "book")
    assert load_rulebook(tmp_path / "book").content_hash == load_rulebook(DEFAULT_DIR).content_hash


def test_section_defined_twice_across_files(tmp_path: Path) -> None:
    shutil.copytree(DEFAULT_DIR, tmp_path / "book")
    (tmp_path / "book" / "more.yaml").write_text("incentives: []\n")
    (p,) = problems_of(tmp_path / "book")
    assert p.file.endswith("more.yaml") and p.line == 1
    assert "section 'incentives' is also defined in" in p.message


def test_unknown_section_suggests(tmp_path: Path) -> None:
    path = write_book(tmp_path)
    path.write_text(path.read_text() + "incentive: []\n")
    (p,) = problems_of(path)
    assert p.message == "unknown section 'incentive' (did you mean 'incentives'?)"


def test_missing_directory_and_empty_directory(tmp_path: Path) -> None:
    assert "no rulebook at" in problems_of(tmp_path / "nope")[0].message
    (tmp_path / "empty").mkdir()
    assert "no *.yaml rulebook files" in problems_of(tmp_path / "empty")[0].message


def test_tier_conditions_cannot_use_the_tier(tmp_path: Path) -> None:
    tiers = """\
      - id: Gold
        description: circular
        when: tier == Gold
      - id: Registered
        description: everyone"""
    (p,) = problems_of(write_book(tmp_path, tiers=tiers))
    assert "'tier' cannot be used here" in p.message and p.line == 8


def test_scorecard_feature_must_be_a_known_number(tmp_path: Path) -> None:
    path = write_book(tmp_path)
    path.write_text(
        path.read_text()
        + """scorecard:
  - id: coverage
    description: regions
    parts:
      - {feature: region, breakpoints: [[0, 0], [1, 100]]}
      - {feature: revenu_won_365d, breakpoints: [[0, 0], [1, 100]]}
      - {feature: tenure_days, breakpoints: [[5, 0], [1, 100]]}
"""
    )
    problems = problems_of(path)
    assert [p.line for p in problems] == [22, 23, 24]
    assert "type mismatch: 'region' is a category" in problems[0].message
    assert "did you mean 'revenue_won_365d'" in problems[1].message
    assert "breakpoints of tenure_days must have increasing values: [5.0, 1.0]" in (
        problems[2].message
    )


def test_deal_routing_bands_must_be_ordered(tmp_path: Path) -> None:
    path = write_book(tmp_path)
    path.write_text(
        path.read_text() + "settings:\n  deal_routing: {fast_track: 0.2, likely_reject: 0.6}\n"
    )
    (p,) = problems_of(path)
    assert "likely_reject (0.6) must not exceed fast_track (0.2)" in p.message


def test_shadowing_respects_strictness_and_other_names(tmp_path: Path) -> None:
    tiers = """\
      - id: Gold
        description: strictly more
        when: revenue_won_365d > 100
      - id: Silver
        description: exactly 100 is still reachable
        when: revenue_won_365d >= 100
      - id: Bronze
        description: another feature, reachable
        when: certified_people >= 1
      - id: Registered
        description: everyone"""
    assert load_rulebook(write_book(tmp_path, tiers=tiers)).version == "1"


def test_tiers_after_an_unconditional_tier_are_unreachable(tmp_path: Path) -> None:
    tiers = """\
      - id: Registered
        description: everyone
      - id: Gold
        description: never reached
        when: revenue_won_365d >= 1"""
    problems = problems_of(write_book(tmp_path, tiers=tiers))
    assert any(
        "tier 'resell/Registered' comes first and has no condition" in p.message for p in problems
    )


def test_a_rulebook_file_that_is_not_utf8_is_a_problem(tmp_path: Path) -> None:
    shutil.copytree(DEFAULT_DIR, tmp_path / "book")
    (tmp_path / "book" / "zz_broken.yaml").write_bytes(b"tracks: \xff\n")
    problems = problems_of(tmp_path / "book")
    assert any(
        p.message.startswith("cannot read") and p.file.endswith("zz_broken.yaml") for p in problems
    )
