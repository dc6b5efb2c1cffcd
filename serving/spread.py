"""Spreading a manager's weekly slots: capacity, slots per partner, caps per action type.

`spread` walks each manager's candidates in their ranked order and gives a row a slot while
the manager has one left, its partner holds fewer than `per_partner` slots and its action
type fewer than its cap; every other row is overflow, kept in the same order (the manager
can still reach down the list). Rows already holding a slot this week (reviewed, `pinned`)
count against all three. Pure: pandas in, a boolean array out.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np
import pandas as pd

from tierwise.errors import InvalidInput, Problem


def spread(
    ranked: pd.DataFrame,
    *,
    capacity: int,
    per_partner: int = 1,
    caps: Mapping[str, int] | None = None,
    pinned: pd.DataFrame | None = None,
) -> np.ndarray:
    """Overflow flag per row of ``ranked`` (manager_id, partner_id, action_id; already in
    each manager's order). ``pinned``: rows of the same columns already holding slots."""
    if capacity < 1 or per_partner < 1:
        raise InvalidInput(
            "capacity and slots per partner must be at least 1",
            [Problem("too small", value=min(capacity, per_partner))],
        )
    caps = dict(caps or {})
    managers = ranked["manager_id"].astype(str).to_numpy()
    partners = ranked["partner_id"].astype(str).to_numpy()
    actions = ranked["action_id"].astype(str).to_numpy()
    used, by_partner, by_action = _pinned_counts(pinned)
    overflow = np.ones(len(ranked), dtype=bool)
    order = np.argsort(managers, kind="stable")  # each manager's rows, in their given order
    bounds = np.flatnonzero(np.r_[True, managers[order][1:] != managers[order][:-1], True])
    if len(ranked) == 0:
        return overflow
    for start, end in itertools.pairwise(bounds):
        manager = managers[order[start]]
        left = capacity - used.get(manager, 0)
        for i in order[start:end]:
            if left <= 0:
                break
            pkey, akey = (manager, partners[i]), (manager, actions[i])
            if by_partner.get(pkey, 0) >= per_partner:
                continue
            cap = caps.get(actions[i])
            if cap is not None and by_action.get(akey, 0) >= cap:
                continue
            overflow[i] = False
            left -= 1
            by_partner[pkey] = by_partner.get(pkey, 0) + 1
            by_action[akey] = by_action.get(akey, 0) + 1
    return overflow


def _pinned_counts(
    pinned: pd.DataFrame | None,
) -> tuple[dict[str, int], dict[tuple[str, str], int], dict[tuple[str, str], int]]:
    used: dict[str, int] = {}
    by_partner: dict[tuple[str, str], int] = {}
    by_action: dict[tuple[str, str], int] = {}
    if pinned is None or pinned.empty:
        return used, by_partner, by_action
    for m, p, a in zip(
        pinned["manager_id"].astype(str),
        pinned["partner_id"].astype(str),
        pinned["action_id"].astype(str),
        strict=True,
    ):
        used[m] = used.get(m, 0) + 1
        by_partner[(m, p)] = by_partner.get((m, p), 0) + 1
        by_action[(m, a)] = by_action.get((m, a), 0) + 1
    return used, by_partner, by_action
