"""Property: the explanation of every condition tells what the engine decided.

For every rule a partner's evaluation tried, each check's outcome (pass | fail | missing)
equals that leaf's outcome in the vector view of the same compiled condition over the
frame, the rule's outcome equals the condition's vector outcome, the tier, incentives and
actions follow from those outcomes, and the gap to the next tier is empty exactly when the
next tier's condition holds. Random partners (hypothesis) and every partner of a small
simulated program.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from features.snapshot import build_features
from features.tables import Tables
from rules import Rulebook, TierState, evaluate_frame, evaluate_partner
from rules.columns import Columns, inject_decided
from rules.compile import Compiled, Masks
from rules.decision import PartnerDecision
from rules.model import STATE_COLUMNS

from ..conftest import SIM_END
from .conftest import AS_OF
from .test_properties import BOOK, QUICK, Rows, population


def _rules(book: Rulebook) -> dict[tuple[str, str], Compiled]:
    """Every rule's compiled condition, keyed as the spans of a decision name it."""
    out = {("track", t.id): t.compiled for t in book.tracks}
    out |= {("tier", f"{tr.id}/{t.id}"): t.compiled for tr in book.tracks for t in tr.tiers}
    out |= {("incentive", i.id): i.compiled for i in book.incentives}
    return out | {("action", a.id): a.compiled for a in book.actions}


def _word(t: np.bool_, f: np.bool_) -> str:
    return "pass" if t else "fail" if f else "missing"


def _outcome(r: Any) -> str:
    return "missing" if r is None else "pass" if r else "fail"


class Vectors:
    """Each rule's and each of its leaves' masks over the frame, after the frame decision."""

    def __init__(self, book: Rulebook, frame: pd.DataFrame, tiers: pd.DataFrame) -> None:
        cols = Columns(frame.reset_index(drop=True))
        inject_decided(cols, tiers)
        self.rules = _rules(book)
        self.masks: dict[tuple[str, str], Masks] = {
            k: c.vector(cols) for k, c in self.rules.items()
        }
        self.leaves = {k: [leaf.vector(cols) for leaf in c.leaves()] for k, c in self.rules.items()}

    def rule(self, key: tuple[str, str], i: int) -> str:
        t, f = self.masks[key]
        return _word(t[i], f[i])

    def checks(self, key: tuple[str, str], i: int) -> list[str]:
        return [_word(t[i], f[i]) for t, f in self.leaves[key]]


def check_explanation(d: PartnerDecision, vectors: Vectors, i: int) -> None:
    hits: dict[str, list[str]] = {"track": [], "tier": [], "incentive": [], "action": []}
    for section, rule_id, start, end, outcome in d.spans:
        key = (section, rule_id)
        checks = d.checks[start:end]
        assert {(c.section, c.rule_id) for c in checks} <= {key}
        assert [c.outcome for c in checks] == vectors.checks(key, i), (d.partner_id, key)
        assert _outcome(outcome) == vectors.rule(key, i), (d.partner_id, key)
        if outcome:
            hits[section].append(rule_id)
    assert hits["track"] == [d.track]  # FIRST hit: the tracks tried end at the one that holds
    assert hits["tier"] == [f"{d.track}/{d.evaluated_tier}"]
    assert hits["incentive"] == [a.incentive_id for a in d.incentives]
    assert hits["action"] == [a.action_id for a in d.actions]
    if d.next_tier is not None:
        holds = vectors.rule(("tier", f"{d.track}/{d.next_tier}"), i) == "pass"
        assert (d.gap == []) is holds, (d.partner_id, d.next_tier, d.gap)


def check_all(
    book: Rulebook, frame: pd.DataFrame, states: list[TierState | None], as_of: Any
) -> int:
    prev = pd.DataFrame(
        [
            {"partner_id": pid, **{c: getattr(s, c) for c in STATE_COLUMNS}}
            for pid, s in zip(frame["partner_id"], states, strict=True)
            if s is not None
        ]
    )
    fd = evaluate_frame(book, frame, previous=prev if len(prev) else None, as_of=as_of)
    vectors = Vectors(book, frame, fd.tiers)
    records = cast(list[dict[str, Any]], frame.to_dict("records"))
    for i, (row, state) in enumerate(zip(records, states, strict=True)):
        check_explanation(evaluate_partner(book, row, previous=state, as_of=as_of), vectors, i)
    return len(records)


@QUICK
@given(population())
def test_explanations_match_the_decisions(rows: Rows) -> None:
    check_all(BOOK, pd.DataFrame([r for r, _ in rows]), [s for _, s in rows], AS_OF)


@pytest.mark.slow
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(population())
def test_explanations_match_the_decisions_thoroughly(rows: Rows) -> None:
    check_all(BOOK, pd.DataFrame([r for r, _ in rows]), [s for _, s in rows], AS_OF)


def _with_model_outputs(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Model outputs the rules read, some missing (the rules see them as inputs)."""
    rng = np.random.default_rng(seed)
    n = len(frame)
    churn = np.where(rng.random(n) < 0.05, np.nan, rng.random(n))
    return frame.assign(churn_risk=churn, deal_acceptance=rng.random(n))


def test_explanations_match_the_decisions_for_every_simulated_partner(
    book: Rulebook, tables: Tables
) -> None:
    """Two reviews a quarter apart, so the second has tier history (grace, promotions)."""
    first_as_of, as_of = SIM_END - timedelta(days=91), SIM_END
    first = _with_model_outputs(build_features(tables, as_of=first_as_of), 1)
    state = evaluate_frame(book, first, as_of=first_as_of).state.set_index("partner_id")
    frame = _with_model_outputs(build_features(tables, as_of=as_of), 2)
    states = [
        TierState(**state.loc[pid].to_dict()) if pid in state.index else None
        for pid in frame["partner_id"]
    ]
    assert check_all(book, frame, states, as_of) == len(frame) > 100
