"""Loader checks of a learned propensity: P(the action works), with the rulebook's prior.

    propensity: {learned: true, prior: {mean: 0.25, strength: 20}}   # or {alpha: 5, beta: 15}

A learned propensity is the chance that the action works — the manager does it and the
partner responds in the outcome window (`training.propensity.RESPONSES`). Until the review
history holds evidence the prior's mean is used; the fitted posterior (`tierwise train --model
propensity`) replaces it in serving. A learned propensity names no model output; its prior is
a Beta written as alpha and beta or as a mean and a strength (alpha + beta, in decisions).
"""

from __future__ import annotations

from rules.checks import Checker
from rules.source import NodePath
from rules.yaml_spec import ActionSpec, PriorSpec, PropensitySpec

LEARNED = "learned"
EXAMPLE = "propensity: {learned: true, prior: {mean: 0.25, strength: 20}}"


def learned_prior(check: Checker, spec: ActionSpec, path: NodePath) -> tuple[float, float] | None:
    """(alpha, beta) of a learned propensity, or None (not learned, or after its problems)."""
    prop = spec.propensity
    where = (*path, "propensity")
    if prop == LEARNED:
        check.add(where, f"a learned propensity needs a prior, e.g. {EXAMPLE}", rule_id=spec.id)
        return None
    if not isinstance(prop, PropensitySpec) or not (prop.learned or prop.prior):
        return None
    if not prop.learned:
        check.add(
            (*where, "prior"),
            f"a prior is for a learned propensity only: add learned: true, e.g. {EXAMPLE}",
            rule_id=spec.id,
        )
        return None
    if prop.output is not None:
        check.add(
            (*where, "output"),
            f"a learned propensity names no model output (got '{prop.output}')",
            rule_id=spec.id,
            value=prop.output,
        )
        return None
    if prop.prior is None:
        check.add(where, f"a learned propensity needs a prior, e.g. {EXAMPLE}", rule_id=spec.id)
        return None
    return _beta(check, prop.prior, (*where, "prior"), spec.id)


def _beta(
    check: Checker, prior: PriorSpec, where: NodePath, rule_id: str
) -> tuple[float, float] | None:
    pair = (prior.alpha, prior.beta)
    mean = (prior.mean, prior.strength)
    if all(v is not None for v in pair) and all(v is None for v in mean):
        return float(prior.alpha or 0.0), float(prior.beta or 0.0)
    if all(v is not None for v in mean) and all(v is None for v in pair):
        m, k = float(prior.mean or 0.0), float(prior.strength or 0.0)
        return m * k, (1.0 - m) * k
    given = {k: v for k, v in prior.model_dump().items() if v is not None}
    check.add(
        where,
        "a prior is {alpha, beta} or {mean, strength}, both of one pair and nothing else "
        f"(got {given})",
        rule_id=rule_id,
        value=str(given),
    )
    return None
