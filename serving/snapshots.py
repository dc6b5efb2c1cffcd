"""Where a known partner's features come from when a PRM system sends only its id.

Only the service database: the weekly job stores a snapshot per partner, plus tier state
and action history. A partner without a stored snapshot is unknown (a fast 404); no request
ever builds features for the program (that takes seconds and gigabytes at 100k partners).
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from rules.model import TierState
from tierwise.errors import NotReady
from tierwise.settings import Settings

log = logging.getLogger(__name__)

_EVENT_TIMES = {
    "deals": "registered_at",
    "activities": "occurred_at",
    "surveys": "answered_at",
    "customers": "acquired_at",
    "partners": "joined_at",
}


@dataclass(frozen=True)
class StoredPartner:
    """A partner's latest features and what the contact and tier policies need."""

    partner_id: str
    features: dict[str, Any]
    as_of: datetime
    manager_id: str | None
    previous: TierState | None = None
    history: dict[str, datetime] = field(default_factory=dict)


def clean_value(value: Any) -> Any:
    """numpy/pandas scalars → plain Python; NaN/NA → None."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        return None if math.isnan(value) else float(value)
    return value


def data_end(tables: Any) -> datetime:
    """The export time of a program's tables: midnight after the latest event."""
    latest = max(
        frame[col].max()
        for name, frame in tables.items()
        if (col := _EVENT_TIMES.get(name)) in frame.columns and len(frame)
    )
    return pd.Timestamp(latest).ceil("D").to_pydatetime()


class PartnerLookup:
    """Finds partners by id in the snapshots the weekly job stored."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()

    def find(self, partner_id: str) -> StoredPartner | None:
        """The partner's latest stored snapshot, state and history; None when never stored."""
        return self._from_database(partner_id)

    # --- the service database -------------------------------------------------------------
    def _engine(self) -> Any:
        from serving.db import ready_engine

        # upgraded once per process under the engine module's lock: Alembic's upgrade is not
        # thread-safe, and the webhook loop or a route may upgrade at the same moment
        return ready_engine(self.settings.db_url)

    def _from_database(self, partner_id: str) -> StoredPartner | None:
        from sqlalchemy.exc import SQLAlchemyError

        from serving.db import queries, session_scope

        try:
            with session_scope(self._engine()) as session:
                found = queries.latest_snapshot(session, partner_id)
                if found is None:
                    return None
                features, as_of = found
                owner = queries.partner_owner(session, partner_id)
                # the evaluation before this snapshot's: the answer's change is against it
                states = queries.tier_states(session, [partner_id], before=as_of)
                history = queries.action_history(session, [partner_id])
        except SQLAlchemyError as exc:
            log.error("service database unavailable: %s", exc)
            raise NotReady(f"The service database is unavailable: {type(exc).__name__}") from exc
        return StoredPartner(
            partner_id,
            {k: clean_value(v) for k, v in features.items()},
            _utc(as_of),
            owner,
            tier_state(states),
            _history(history),
        )


def _utc(when: Any) -> datetime:
    ts = pd.Timestamp(when)
    return (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).to_pydatetime()


def tier_state(states: pd.DataFrame) -> TierState | None:
    if states.empty:
        return None
    row = states.iloc[0]
    until = row["override_until"]
    return TierState(
        tier=clean_value(row["tier"]),
        missed_evaluations=int(row["missed_evaluations"]),
        override_tier=clean_value(row["override_tier"]),
        override_reason=clean_value(row["override_reason"]),
        override_until=None if pd.isna(until) else pd.Timestamp(until).to_pydatetime(),
    )


def _history(history: pd.DataFrame) -> dict[str, datetime]:
    return {
        str(a): pd.Timestamp(t).to_pydatetime()
        for a, t in zip(history["action_id"], history["last_done_or_dismissed_at"], strict=True)
        if not pd.isna(t)
    }
