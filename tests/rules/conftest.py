"""Shared helpers for the rules tests: the default rulebook and hand-built feature frames."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features import registry
from features.schema import PARTNER_TYPES
from rules import Rulebook, load_rulebook

AS_OF = datetime(2025, 7, 7, tzinfo=UTC)  # a Monday: the default quarterly Q3 review
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "rules" / "default"
BROKEN_DIR = Path(__file__).resolve().parent / "broken"


@pytest.fixture(scope="session")
def book() -> Rulebook:
    return load_rulebook(DEFAULT_DIR)


def base_features(**overrides: Any) -> dict[str, Any]:
    """A quiet resell partner: every registry feature present, numbers 0, flags false."""
    out: dict[str, Any] = {"partner_id": "P1", "manager_id": "M1", "as_of": AS_OF}
    for f in registry.FEATURES.values():
        out[f.name] = {"number": 0.0, "boolean": False, "category": "x"}[f.kind]
    out.update(
        partner_type="VAR",
        region="EMEA",
        recruited_via="event",
        tenure_days=400.0,
        churn_risk=0.1,
        deal_acceptance=0.6,
        satisfaction_avg_365d=7.5,
        days_since_last_activity=5.0,
        days_since_last_manager_contact=5.0,
        manager_contacts_365d=4.0,
        materials_downloaded_90d=3.0,
    )
    out.update(overrides)
    return out


def random_frame(n: int, seed: int = 0, nan_share: float = 0.1) -> pd.DataFrame:
    """Random partners over every registry feature + model outputs (some values missing)."""
    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {
        "partner_id": [f"P{i}" for i in range(n)],
        "manager_id": [f"M{i % 7}" for i in range(n)],
    }
    for f in registry.FEATURES.values():
        if f.kind == "category":
            values = PARTNER_TYPES if f.name == "partner_type" else ("a", "b")
            col = pd.Series(rng.choice(values, n), dtype=object)
        elif f.kind == "boolean":
            col = pd.Series(rng.random(n) < 0.2, dtype=object)
        else:
            scale = 2_000_000 if f.unit == "USD" else 10 if f.unit in ("count", "score") else 1
            if f.unit == "days":
                scale = 800
            col = pd.Series(np.round(rng.random(n) * scale, 1))
        col = col.astype(object).where(rng.random(n) >= nan_share, None)
        cols[f.name] = col if f.kind != "number" else col.astype("float64")
    cols["churn_risk"] = rng.random(n)
    cols["deal_acceptance"] = rng.random(n)
    frame = pd.DataFrame(cols)
    frame["as_of"] = AS_OF
    return frame


MINIMAL = """\
version: "1"
tracks:
  - id: resell
    description: everyone
    tiers:
{tiers}
incentives:
{incentives}
actions:
{actions}
"""

DEFAULT_TIERS = """\
      - id: Gold
        description: big
        when: [revenue_won_365d >= 250000, certified_staff >= 3]
      - id: Silver
        description: some
        when: revenue_won_365d >= 50000
      - id: Registered
        description: everyone"""


def write_book(
    tmp_path: Path,
    *,
    tiers: str = DEFAULT_TIERS,
    incentives: str = "  []",
    actions: str = "  []",
    name: str = "book.yaml",
) -> Path:
    """A one-file rulebook with the given (indented) YAML sections."""
    path = tmp_path / name
    path.write_text(
        MINIMAL.format(tiers=tiers, incentives=incentives, actions=actions), encoding="utf-8"
    )
    return path
