"""What a manager reads for an action: its title and its reason as a sentence.

The rulebook gives each action a ``title`` and a ``reason`` template ("{partner} has been
quiet for {days_since_last_activity} days; {revenue_won_365d} of revenue at stake"); the
codes (conditions and the priority arithmetic) stay in the explanation (`rules.reasons`).
One partner (`sentence`) and every partner (`frame_sentences`, formatting each distinct
value once) give the same text (tested).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from rules.conditions import DECIDED
from rules.model import Action, Rulebook
from rules.values import show


def sentence(action: Action, features: Mapping[str, Any], *, value: float, partner: str) -> str:
    """The action's reason for one partner; its title when the rulebook gives no template."""
    if action.reason is None:
        return action.title
    values = {**features, "partner": partner, "value": value}
    return action.reason.render(values, action.value_unit)


def frame_sentences(
    rulebook: Rulebook,
    ranked: pd.DataFrame,
    scored: pd.DataFrame,
    tiers: pd.DataFrame,
    partners: pd.Series | None = None,
) -> list[str]:
    """`sentence` for every row of ``ranked`` (partner_id, action_id, value); ``scored`` is
    the frame the rules saw and ``tiers`` the decided tiers (row-aligned with it);
    ``partners`` the partner names, row-aligned with ``scored`` (None: the ids)."""
    n = len(ranked)
    if n == 0:
        return []
    rows = pd.Index(scored["partner_id"].astype(str)).get_indexer(
        pd.Index(ranked["partner_id"].astype(str))
    )
    names = scored["partner_id"].astype(str) if partners is None else partners
    name_of = names.reset_index(drop=True).astype(object).to_numpy()
    out = np.empty(n, dtype=object)
    action_ids = ranked["action_id"].astype(str).to_numpy()
    by_id = {a.id: a for a in rulebook.actions}
    for action_id in pd.unique(action_ids):
        at = np.flatnonzero(action_ids == action_id)
        action = by_id[str(action_id)]
        if action.reason is None:
            out[at] = action.title
            continue
        pieces: list[Any] = []
        for literal, field in action.reason.parts:
            pieces.append(literal)
            if field is None:
                continue
            if field == "partner":
                pieces.append([_partner(x) for x in name_of[rows[at]].tolist()])
            elif field == "value":
                pieces.append(_shown(field, ranked["value"].to_numpy()[at], action.value_unit))
            else:
                column = tiers[field] if field in DECIDED else scored[field]
                cells = column.reset_index(drop=True).to_numpy(dtype=object)[rows[at]]
                pieces.append(_shown(field, cells, action.value_unit))
        out[at] = ["".join(p) for p in zip(*(_broadcast(x, len(at)) for x in pieces), strict=True)]
    return out.tolist()


def _partner(name: Any) -> str:
    return "unknown partner" if name is None or name != name else str(name)


def _shown(field: str, cells: np.ndarray, unit: str) -> list[str]:
    """`show` of each cell, called once per distinct value."""
    seen: dict[Any, str] = {}
    out: list[str] = []
    for cell in cells.tolist():
        try:  # -0.0 == 0.0 but shows as "-0": floats are told apart by their text
            key = (cell.__class__, repr(cell) if isinstance(cell, float) else cell)
            hash(key)
        except TypeError:
            key = (cell.__class__, repr(cell))
        text = seen.get(key)
        if text is None:
            text = seen[key] = show(field, cell, unit)
        out.append(text)
    return out


def _broadcast(piece: Any, n: int) -> list[str]:
    return [piece] * n if isinstance(piece, str) else list(piece)
