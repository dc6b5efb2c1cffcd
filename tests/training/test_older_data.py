"""A program exported before issue 15 — no certifications table, no revenue type, ARR,
attribution or parent partner — still validates, builds features and trains."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from features.io import load_tables, write_tables
from features.snapshot import build_features
from simulation.program import simulate
from training.train import fit_model

END = datetime(2026, 11, 23, tzinfo=UTC)
NEW_FEATURES = ("certified_people", "specialisations", "arr_won_365d", "recurring_share_365d",
                "sourced_revenue_365d", "sub_resellers", "sell_through_365d")  # fmt: skip


@pytest.mark.slow
def test_an_older_export_validates_builds_features_and_trains(tmp_path: Path) -> None:
    sim = simulate(partners=500, years=1.5, seed=13, end=END)
    t = sim.tables
    older = replace(
        t,
        partners=t.partners.drop(columns=["parent_partner_id"]),
        deals=t.deals.drop(columns=["revenue_type", "arr", "attribution"]),
        certifications=None,
    )
    write_tables(older, tmp_path, fmt="csv")
    assert not (tmp_path / "certifications.csv").exists()
    tables = load_tables(tmp_path)
    assert tables.certifications is None
    frame = build_features(tables, as_of=datetime(2026, 6, 1, tzinfo=UTC))
    assert frame[list(NEW_FEATURES)].isna().all().all() and len(frame) > 200
    for kind in ("churn", "deal"):
        fitted, evaluation = fit_model(kind, tables, horizon_days=90, refit_all=False)
        assert evaluation.metrics["model"]["roc_auc"] > 0.6, kind
        assert fitted.counts["train"] > 0 and fitted.scorer.version is not None
