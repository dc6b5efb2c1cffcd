"""The weekly job's test recommender: the REAL `recommend_frame` with stub models."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from rules import Rulebook, load_rulebook
from serving.recommend import Models, Recommendations, recommend_frame


class _StubScorer:
    """Churn/deal 'model': a fixed function of days since the last activity (no MLflow)."""

    version = "stub"

    def encode_frame(self, frame: pd.DataFrame) -> np.ndarray:
        days = pd.to_numeric(frame["days_since_last_activity"]).fillna(365.0)
        return days.to_numpy(dtype=np.float64)[:, None]

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.clip(x[:, 0] / 120.0, 0.01, 0.99)


RULEBOOK = load_rulebook()
STUB_MODELS = Models(churn=_StubScorer(), deal=_StubScorer())  # type: ignore[arg-type]
HOSTILE_REASON = "<b>retention_call</b> because churn_risk >= 0.3"


@dataclass
class Recommender:
    """The real `recommend_frame` (default rulebook, stub models); records its calls.

    `fail` raises instead; `hostile` appends a reason with markup to every action (escaping).
    """

    calls: list[dict[str, Any]] = field(default_factory=list)
    fail: bool = False
    hostile: bool = False
    rulebook: Rulebook = RULEBOOK

    def __call__(
        self, frame: pd.DataFrame, *, previous: pd.DataFrame, history: pd.DataFrame, as_of: datetime
    ) -> Recommendations:
        self.calls.append({"previous": previous, "history": history, "as_of": as_of})
        if self.fail:
            raise RuntimeError("model exploded")
        recs = recommend_frame(
            frame,
            rulebook=self.rulebook,
            models=STUB_MODELS,
            previous=previous,
            history=history,
            as_of=as_of,
        )
        if self.hostile:
            recs.actions["reasons"] = [[*r, HOSTILE_REASON] for r in recs.actions["reasons"]]
        return recs
