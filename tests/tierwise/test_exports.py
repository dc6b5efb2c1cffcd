"""Spreadsheet-safe CSV cells."""

from __future__ import annotations

import pandas as pd
import pytest

from tierwise.exports import safe_cell, safe_frame


@pytest.mark.parametrize("text", ['=HYPERLINK("http://x","y")', "+1", "-cmd", "@SUM(A1)", "\tx"])
def test_formula_like_text_is_neutralised(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["Acme Ltd", "", None, -3.5, 7])
def test_other_values_are_kept(value: object) -> None:
    assert safe_cell(value) == value


def test_a_frame_keeps_numbers_and_neutralises_text() -> None:
    frame = pd.DataFrame({"name": ["=1+1", "ok"], "amount": [-5.0, 2.0]})
    out = safe_frame(frame)
    assert out["name"].tolist() == ["'=1+1", "ok"]
    assert out["amount"].tolist() == [-5.0, 2.0]
    assert frame["name"].iloc[0] == "=1+1"  # the input is not changed
