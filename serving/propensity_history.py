"""The review history as the propensity fit reads it: decisions and the outcomes after them.

Each decided plan row (accepted, dismissed or done) with the partner's stored feature
snapshot of its week (``before``) and the first stored snapshot at least ``window_days``
later (``after``). A decision whose window has not closed yet is left out, unless it was
dismissed (a dismissal never works, whatever follows). What `tierwise train --model
propensity` fits on (`training.propensity.examples`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.db.models import FeatureSnapshot, PlanAction, WeeklyPlan
from training.propensity import STATUSES

DAY_S = 86_400.0


@dataclass(frozen=True)
class ReviewHistory:
    decisions: pd.DataFrame  # partner_id, action_id, week, as_of, status, elapsed_days
    before: pd.DataFrame  # features at the decision, row-aligned
    after: pd.DataFrame  # features at the end of the window, row-aligned (empty row: none)


def review_history(session: Session, *, window_days: int) -> ReviewHistory:
    """Every decided plan row whose outcome is known, with the snapshots around it."""
    rows = session.execute(
        select(
            PlanAction.partner_id,
            PlanAction.action_id,
            PlanAction.week,
            WeeklyPlan.as_of,
            PlanAction.status,
        )
        .join(WeeklyPlan, WeeklyPlan.id == PlanAction.plan_id)
        .where(PlanAction.status.in_(STATUSES))
        .order_by(PlanAction.id)
    ).all()
    decisions = pd.DataFrame(
        rows, columns=["partner_id", "action_id", "week", "as_of", "status"]
    ).astype({"partner_id": str, "action_id": str, "status": str})
    snaps = _snapshots(session, sorted(set(decisions["partner_id"])))
    before, after, elapsed = [], [], []
    for pid, as_of in zip(decisions["partner_id"], decisions["as_of"], strict=True):
        mine = snaps.get(pid, [])
        before.append(next((f for t, f in mine if t == as_of), {}))
        later = next(((t, f) for t, f in mine if t >= as_of + timedelta(days=window_days)), None)
        after.append({} if later is None else later[1])
        elapsed.append(np.nan if later is None else (later[0] - as_of).total_seconds() / DAY_S)
    decisions["elapsed_days"] = np.array(elapsed, dtype=np.float64)
    known = decisions["elapsed_days"].notna() | (decisions["status"] == "dismissed")
    keep = known.to_numpy()
    return ReviewHistory(
        decisions.loc[keep].reset_index(drop=True),
        _frame(before, keep),
        _frame(after, keep),
    )


def _frame(rows: list[dict[str, object]], keep: np.ndarray) -> pd.DataFrame:
    kept = [r for r, k in zip(rows, keep.tolist(), strict=True) if k]
    frame = pd.DataFrame(kept, index=range(len(kept)))
    if "exited" not in frame.columns:
        frame["exited"] = pd.Series([None] * len(kept), dtype=object)
    return frame


def _snapshots(
    session: Session, partner_ids: list[str]
) -> dict[str, list[tuple[object, dict[str, object]]]]:
    out: dict[str, list[tuple[object, dict[str, object]]]] = {}
    for start in range(0, len(partner_ids), 5000):
        chunk = partner_ids[start : start + 5000]
        for pid, as_of, features in session.execute(
            select(FeatureSnapshot.partner_id, FeatureSnapshot.as_of, FeatureSnapshot.features)
            .where(FeatureSnapshot.partner_id.in_(chunk))
            .order_by(FeatureSnapshot.as_of)
        ):
            out.setdefault(str(pid), []).append((as_of, dict(features)))
    return out
