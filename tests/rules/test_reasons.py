"""rules.reasons: the column-wise building blocks of the frame reasons.

That the frame reasons equal `recommend_one`'s, string for string, is tested on simulated
partners in test_recommend.py; here the pieces that make it exact and cheap.
"""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd
import pytest

from rules import Rulebook
from rules.reasons import _by_value, _collector_paused, _patterns, frame_reasons


@pytest.mark.parametrize("width", [1, 3, 62, 63, 70])
def test_patterns_number_each_row_by_its_distinct_pass_pattern(width: int) -> None:
    rng = np.random.default_rng(width)
    base = rng.random((6, width)) < 0.5  # few distinct patterns, repeated over many rows
    matrix = base[rng.integers(0, len(base), 500)]
    patterns, group = _patterns(list(matrix.T))
    assert (patterns[group] == matrix).all()
    assert len(patterns) == len(np.unique(matrix, axis=0))


def test_patterns_of_rows_that_all_pass_everything_is_one_group() -> None:
    patterns, group = _patterns([np.ones(4, dtype=bool), np.ones(4, dtype=bool)])
    assert patterns.tolist() == [[True, True]]
    assert group.tolist() == [0, 0, 0, 0]


def test_by_value_renders_each_distinct_value_once_and_tells_signed_zeros_apart() -> None:
    seen: list[float] = []

    def render(v: float) -> str:
        seen.append(v)
        return f"{v:,.0f}"

    x = np.array([1234.4, -0.0, 0.0, 1234.4, -0.0, 7.0])
    assert _by_value(x, render).tolist() == ["1,234", "-0", "0", "1,234", "-0", "7"]
    assert len(seen) == 4


def test_collector_paused_restores_the_collector_even_on_error() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), _collector_paused():
        assert not gc.isenabled()
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with _collector_paused():
            pass
        assert not gc.isenabled()  # was off before: stays off
    finally:
        gc.enable()


def test_frame_reasons_of_no_actions_is_empty(book: Rulebook) -> None:
    ranked = pd.DataFrame(
        columns=["partner_id", "action_id", "rank", "priority", "propensity", "value", "weight"]
    )
    tiers = pd.DataFrame({"tier": [], "tier_change": [], "track": []}, dtype="category")
    assert frame_reasons(book, ranked, pd.DataFrame({"partner_id": []}), tiers) == []
