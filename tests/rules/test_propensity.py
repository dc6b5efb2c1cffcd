"""A learned propensity in the rulebook: its prior, what it is until there is evidence, and
every way to write it wrong (named at its YAML line)."""

from pathlib import Path

import pytest

from rules import evaluate_frame, evaluate_partner, load_rulebook
from rules.reasons import reasons
from serving.arbitration import arbitrate_one
from tierwise.errors import RulebookError

from .conftest import AS_OF, base_features, random_frame, write_book

ACTION = """\
  - id: help
    description: help
    when: churn_risk >= 0.5
    propensity: {propensity}
    value: {{expr: churn_risk * revenue_won_365d, unit: USD, horizon_days: 365}}"""


def book_with(tmp_path: Path, propensity: str) -> Path:
    return write_book(tmp_path, actions=ACTION.format(propensity=propensity))


def problems(path: Path) -> list:
    with pytest.raises(RulebookError) as info:
        load_rulebook(path)
    return info.value.problems


@pytest.mark.parametrize(
    ("propensity", "prior"),
    [
        ("{learned: true, prior: {mean: 0.2, strength: 10}}", (2.0, 8.0)),
        ("{learned: true, prior: {alpha: 3, beta: 9}}", (3.0, 9.0)),
    ],
)
def test_a_prior_is_alpha_beta_or_mean_strength(
    tmp_path: Path, propensity: str, prior: tuple[float, float]
) -> None:
    (action,) = load_rulebook(book_with(tmp_path, propensity)).actions
    assert action.learned and action.prior == pytest.approx(prior)
    assert action.propensity is None
    assert action.prior_mean == pytest.approx(prior[0] / sum(prior))


def test_until_there_is_evidence_the_prior_mean_is_the_propensity(tmp_path: Path) -> None:
    book = load_rulebook(book_with(tmp_path, "{learned: true, prior: {alpha: 3, beta: 9}}"))
    row = base_features(churn_risk=0.8, revenue_won_365d=1000.0)
    (one,) = evaluate_partner(book, row, previous=None, as_of=AS_OF).actions
    assert (one.propensity, one.value) == (pytest.approx(0.25), pytest.approx(800.0))
    frame = random_frame(50).assign(churn_risk=0.9)
    many = evaluate_frame(book, frame, as_of=AS_OF).actions
    assert len(many) == 50 and (many["propensity"] == 0.25).all()
    ranked, _ = arbitrate_one([one], history={}, as_of=AS_OF, k=3)
    assert "propensity 0.250 (prior) × value $800" in reasons(book, ranked[0], [])[-1]


@pytest.mark.parametrize(
    ("propensity", "fragment"),
    [
        ("learned", "a learned propensity needs a prior"),
        ("{learned: true}", "a learned propensity needs a prior"),
        ("{prior: {mean: 0.2, strength: 10}}", "a prior is for a learned propensity only"),
        (
            "{learned: true, output: churn_risk, prior: {mean: 0.2, strength: 10}}",
            "a learned propensity names no model output (got 'churn_risk')",
        ),
        (
            "{learned: true, prior: {mean: 0.2, alpha: 3}}",
            "a prior is {alpha, beta} or {mean, strength}",
        ),
        ("{learned: true, prior: {alpha: 3}}", "a prior is {alpha, beta} or {mean, strength}"),
        ("{learned: true, prior: {mean: 1.5, strength: 10}}", "less than 1"),
        ("{learned: true, prior: {alpha: 0, beta: 2}}", "greater than 0"),
    ],
)
def test_a_bad_learned_propensity_is_named_at_its_line(
    tmp_path: Path, propensity: str, fragment: str
) -> None:
    path = book_with(tmp_path, propensity)
    line = next(
        i for i, text in enumerate(path.read_text().splitlines(), 1) if "propensity:" in text
    )
    (p,) = problems(path)
    assert fragment in p.message
    assert (p.rule_id in (None, "help"), p.line) == (True, line)
