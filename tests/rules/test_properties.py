"""Property: the vectorized path and the per-partner path agree on every row."""

import math
from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features import registry
from features.schema import PARTNER_TYPES
from rules import TierState, evaluate_frame, evaluate_partner, load_rulebook
from rules.conditions import leaves

from .conftest import AS_OF, DEFAULT_DIR

BOOK = load_rulebook(DEFAULT_DIR)
NAN = float("nan")


def _interesting_numbers() -> dict[str, list[float]]:
    """Per numeric feature: every threshold the rulebook uses, just around it, and NaN."""
    out: dict[str, set[float]] = {}
    conds = [t.when for tr in BOOK.tracks for t in tr.tiers] + [
        r.when for r in (*BOOK.incentives, *BOOK.actions)
    ]
    for leaf in (lf for c in conds for lf in leaves(c)):
        if leaf.kind == "number":
            v = leaf.value
            out.setdefault(leaf.name, set()).update({v, v - 1, v + 0.5, v * 0.5})
    for comp in BOOK.scorecard:
        for part in comp.parts:
            out.setdefault(part.feature, set()).update({*part.xs, part.xs[0] - 1, part.xs[-1] + 1})
    return {k: [0.0, NAN, *sorted(v)] for k, v in out.items()}


NUMBERS = _interesting_numbers()


def _value(name: str) -> st.SearchStrategy[Any]:
    if name in NUMBERS:
        return st.sampled_from(NUMBERS[name])
    feature = registry.get(name)
    if feature is not None and feature.kind == "boolean":
        return st.sampled_from([True, False, None])
    if name == "partner_type":
        return st.sampled_from([*PARTNER_TYPES, None])
    return st.floats(0, 1e6) | st.just(NAN)


TIERS = {tr.id: [t.id for t in tr.tiers] for tr in BOOK.tracks}
ALL_TIERS = [tier for tiers in TIERS.values() for tier in tiers]
# the default rulebook's tracks by partner type (resell: every other type, and a missing one)
TRACK_OF = {"referral": "referral", "MSP": "msp", "SI": "si", "distributor": "distributor"}


@st.composite
def partner(draw: st.DrawFn, i: int) -> tuple[dict[str, Any], TierState | None]:
    row = {name: draw(_value(name)) for name in sorted(BOOK.features_needed)}
    row["partner_id"] = f"P{i}"
    tiers = TIERS[TRACK_OF.get(row["partner_type"], "resell")]
    if not draw(st.booleans()):
        return row, None
    override = draw(st.sampled_from([None, *tiers]))
    until = draw(
        st.sampled_from([None, AS_OF - timedelta(days=1), AS_OF, AS_OF + timedelta(days=1)])
    )
    state = TierState(
        draw(st.sampled_from([None, *ALL_TIERS])),
        draw(st.integers(0, 3)),
        override,
        "reason" if override else None,
        until if override else None,
    )
    return row, state


@st.composite
def population(draw: st.DrawFn) -> list[tuple[dict[str, Any], TierState | None]]:
    n = draw(st.integers(1, 12))
    return [draw(partner(i)) for i in range(n)]


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


Rows = list[tuple[dict[str, Any], TierState | None]]
QUICK = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
THOROUGH = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@QUICK
@given(population())
def test_frame_and_partner_paths_agree(rows: Rows) -> None:
    check_agreement(rows)


@pytest.mark.slow
@THOROUGH
@given(population())
def test_frame_and_partner_paths_agree_thoroughly(rows: Rows) -> None:
    check_agreement(rows)


def check_agreement(rows: Rows) -> None:
    frame = pd.DataFrame([r for r, _ in rows])
    prev = pd.DataFrame([{"partner_id": r["partner_id"], **vars(s)} for r, s in rows if s])
    fd = evaluate_frame(BOOK, frame, previous=prev if len(prev) else None, as_of=AS_OF)
    for i, (row, state) in enumerate(rows):
        d = evaluate_partner(BOOK, row, previous=state, as_of=AS_OF)
        t = fd.tiers.iloc[i]
        assert (
            t["track"],
            t["evaluated_tier"],
            t["tier"],
            t["tier_change"],
            t["tier_basis"],
            int(t["missed_evaluations"]),
        ) == (
            d.track,
            d.evaluated_tier,
            d.tier,
            d.tier_change,
            d.tier_basis,
            d.state.missed_evaluations,
        )
        incs = fd.incentives[fd.incentives["partner_id"] == row["partner_id"]]
        assert incs["incentive_id"].astype(str).tolist() == [a.incentive_id for a in d.incentives]
        assert all(_same(x, a.amount) for x, a in zip(incs["amount"], d.incentives, strict=True))
        acts = fd.actions[fd.actions["partner_id"] == row["partner_id"]]
        assert acts["action_id"].astype(str).tolist() == [a.action_id for a in d.actions]
        for (_, r), a in zip(acts.iterrows(), d.actions, strict=True):
            assert _same(r["propensity"], a.propensity) and _same(r["value"], a.value)
        scores = fd.scores.iloc[i]
        assert all(_same(scores[k], v) for k, v in d.scores.items())
