"""The notebook tables: per segment, per snapshot and at the rulebook's thresholds."""

import numpy as np
import pandas as pd
import pytest

from rules import load_rulebook
from training.segment_report import (
    Threshold,
    at_thresholds,
    by_segment,
    by_snapshot,
    rulebook_thresholds,
)

# six examples: label, score, partner type, snapshot
FRAME = pd.DataFrame(
    {
        "y": [1, 0, 1, 0, 0, 0],
        "model": [0.9, 0.4, 0.35, 0.1, 0.2, 0.6],
        "partner_type": ["VAR", "VAR", "MSP", "MSP", "SI", "SI"],
        "as_of": pd.to_datetime(["2026-01-01"] * 3 + ["2026-02-01"] * 3, utc=True),
    }
)


def test_precision_and_recall_at_each_cut() -> None:
    table = at_thresholds(
        FRAME,
        "y",
        "model",
        [Threshold(0.3, ">=", "action call"), Threshold(0.3, "<", "route reject")],
    )
    # >= 0.3 flags 0.9, 0.4, 0.35, 0.6 (4 of 6): positives among them 2 → precision 2/4,
    # recall 2/2. < 0.3 flags 0.1, 0.2, targets negatives: both are → precision 1, recall 2/4
    high, low = table.to_dict("records")
    assert (high["flagged_share"], high["precision"], high["recall"]) == (4 / 6, 0.5, 1.0)
    assert (low["targets"], low["precision"], low["recall"]) == ("negatives", 1.0, 0.5)


def test_a_one_class_segment_has_no_auc() -> None:
    table = by_segment(FRAME, "y", "partner_type", ("model",))
    # VAR: 0.9 (1) above 0.4 (0) → AUC 1; SI: no positive → NaN
    assert table.loc["VAR", "model_roc_auc"] == 1.0
    assert np.isnan(table.loc["SI", "model_roc_auc"])
    assert table.loc["SI", "positive_rate"] == 0.0
    assert table["examples"].sum() == len(FRAME)


def test_snapshots_come_oldest_first() -> None:
    table = by_snapshot(FRAME, "y", "as_of", ("model",))
    assert list(table["positive_rate"]) == pytest.approx([2 / 3, 0.0])
    assert table.index.is_monotonic_increasing


def test_the_thresholds_are_read_from_the_rulebook() -> None:
    book = load_rulebook()
    churn = {(t.value, t.op, t.used_by) for t in rulebook_thresholds(book, "churn_risk")}
    assert (0.3, ">=", "action retention_call") in churn
    deal = {t.used_by: t.value for t in rulebook_thresholds(book, "deal_acceptance")}
    assert deal["deal route fast_track"] == book.deal_routing.fast_track
    assert deal["deal route likely_reject"] == book.deal_routing.likely_reject
    assert deal["action deal_desk_help"] == 0.5
