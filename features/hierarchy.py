"""Two-tier distribution: resellers under a distributor (`partners.parent_partner_id`).

A parent must be another partner of the table, and following parents upward must end: a
chain that comes back to where it started is a cycle. Each problem is a row mask, so
validation reports it row by row; a partner whose parent is set aside follows it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SELF = "is the partner itself"
UNKNOWN = "no such partner_id in partners"
CYCLE = "parent chain loops back to this partner (a cycle)"
FOLLOWS = "refers to a bad row of partners (set aside)"


def parent_problems(partner_ids: pd.Series, parents: pd.Series) -> dict[str, np.ndarray]:
    """{message: row mask} for parents that are the partner itself, unknown, or in a cycle."""
    ids, up = texts(partner_ids), texts(parents)
    has = np.array([p is not None for p in up], dtype=bool)
    self_ref = has & (up == ids)
    known = set(i for i in ids if i is not None)
    unknown = has & ~self_ref & np.array([p not in known for p in up], dtype=bool)
    return {SELF: self_ref, UNKNOWN: unknown, CYCLE: in_cycle(ids, up) & ~self_ref}


def in_cycle(ids: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """True for each partner whose parent chain comes back to it."""
    parent_of = {i: p for i, p in zip(ids, parents, strict=True) if i is not None and p is not None}
    state: dict[str, int] = {}  # 1 = on the current walk, 2 = settled
    cyclic: set[str] = set()
    for start in parent_of:
        walk: list[str] = []
        node: str | None = start
        while node is not None and node in parent_of and state.get(node) is None:
            state[node] = 1
            walk.append(node)
            node = parent_of[node]
        if node is not None and state.get(node) == 1:  # came back onto this walk
            cyclic.update(walk[walk.index(node) :])
        for seen in walk:
            state[seen] = 2
    return np.array([i in cyclic for i in ids], dtype=bool)


def following(partner_ids: pd.Series, parents: pd.Series, bad: np.ndarray) -> np.ndarray:
    """Rows (not bad themselves) whose parent chain reaches a bad row: they follow it aside."""
    ids, up = texts(partner_ids), texts(parents)
    out = np.zeros(len(ids), dtype=bool)
    aside = set(ids[bad].tolist())
    while True:
        new = ~bad & ~out & np.array([p is not None and p in aside for p in up], dtype=bool)
        if not new.any():
            return out
        out |= new
        aside |= set(ids[new].tolist())


def texts(values: pd.Series) -> np.ndarray:
    """Values as an object array of str, None where missing."""
    text = values.astype("str")
    return np.asarray(text.astype(object).where(text.notna(), None), dtype=object)
