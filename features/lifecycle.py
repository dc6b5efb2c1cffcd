"""Where each partner stands at as_of, and its recency–frequency summary.

A *sign of life* is anything the partner does: a deal registration or a partner activity
(manager contacts are the manager's doing and do not count — the churn label's definition).

Lifecycle status at as_of, computed once here from the feature columns:

- `exited`: formally left the program before as_of;
- `new`: joined less than `LIFECYCLE_DAYS` ago;
- `active`: showed a sign of life in the last `LIFECYCLE_DAYS`;
- `lapsed`: in the program for `LIFECYCLE_DAYS` or more, and quiet for at least that long.

Recency–frequency (the buy-till-you-die summary, counted from the partner's first sign of
life): `rf_frequency` = repeat signs of life (all of them but the first), `rf_recency_days` =
days from the first to the last, `rf_age_days` = days from the first to as_of (the tenure when
there was none), `rf_monetary` = the average amount of the deals registered to date.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

import numpy as np
import pandas as pd

from features.windows import NAT, EventIndex, IntArray, days, days_since, ratio

LIFECYCLE_DAYS: Final = 90
STATUSES: Final = ("new", "active", "lapsed", "exited")
NOT_SIGN_OF_LIFE: Final = ("manager_contact",)


def lifecycle_status(
    tenure_days: np.ndarray, exited: np.ndarray, days_since_last: np.ndarray
) -> pd.Series:
    """Status per row from tenure, the exited flag and days since the last sign of life."""
    tenure = np.asarray(tenure_days, dtype=np.float64)
    quiet = np.asarray(days_since_last, dtype=np.float64)
    recent = quiet < LIFECYCLE_DAYS  # NaN (never) is not recent
    status = np.select(
        [np.asarray(exited, dtype=bool), tenure < LIFECYCLE_DAYS, recent],
        ["exited", "new", "active"],
        "lapsed",
    )
    return pd.Series(status, dtype="str")


STATUS: Final = "lifecycle_status"
# features read from every sign of life: registrations, plus activities when that table exists
SIGN_OF_LIFE_FEATURES: Final = (
    STATUS,
    "days_since_last_sign_of_life",
    "signs_of_life_90d",
    "rf_frequency",
    "rf_recency_days",
    "rf_age_days",
)


def status_of(features: Mapping[str, Any]) -> str | None:
    """The status one partner's features carry, or derive from tenure, exited and recency."""
    given = features.get(STATUS)
    if isinstance(given, str) and given in STATUSES:
        return given
    tenure = features.get("tenure_days")
    if not isinstance(tenure, int | float) or tenure != tenure:
        return None
    quiet = features.get("days_since_last_sign_of_life")
    quiet = float(quiet) if isinstance(quiet, int | float) else np.nan
    exited = bool(features.get("exited") or False)
    return str(lifecycle_status(np.array([tenure]), np.array([exited]), np.array([quiet]))[0])


def signs_of_life_index(
    deal_entity: IntArray,
    deal_times: IntArray,
    activity_entity: IntArray | None,
    activity_times: IntArray | None,
    n_partners: int,
) -> EventIndex:
    """One stream of every sign of life (registrations + partner activities) per partner."""
    entity, times = [deal_entity], [deal_times]
    if activity_entity is not None and activity_times is not None:
        entity.append(activity_entity)
        times.append(activity_times)
    return EventIndex.build(np.concatenate(entity), np.concatenate(times), n_partners)


def recency_columns(
    signs: EventIndex, registered: EventIndex, p: IntArray, t: IntArray, tenure_days: np.ndarray
) -> Iterator[dict[str, np.ndarray]]:
    """Recency, frequency, age and monetary value of (partner, as_of) pairs (partner order)."""
    probe = signs.probe(p, t)
    count = probe.count()
    last = probe.last_time()
    first = _first_time(signs, p, count)
    has = first != NAT
    reg = registered.probe(p, t)
    yield {
        "days_since_last_sign_of_life": days_since(t, last),
        "signs_of_life_90d": probe.count(LIFECYCLE_DAYS),
        "rf_frequency": np.maximum(count - 1, 0),
        "rf_recency_days": np.where(has, days(np.where(has, last - first, 0)), 0.0),
        "rf_age_days": np.where(has, days(t - np.where(has, first, t)), tenure_days),
        "rf_monetary": ratio(reg.total("amount"), reg.count()),
    }


def _first_time(index: EventIndex, p: IntArray, count: np.ndarray) -> IntArray:
    """Time of each partner's first sign of life; NAT when it has none before its as_of."""
    if len(index) == 0:
        return np.full(len(p), NAT, dtype=np.int64)
    first = index.times[np.minimum(index.starts[p], len(index) - 1)]
    return np.where(count > 0, first, NAT)
