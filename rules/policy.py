"""Tier policy: previous state + the tier the rules give now → the tier decided and the new
state. Tiers change on review evaluations (`rules.calendar`): a promotion at once or at the
review (as the calendar says), a demotion only at a review and after ``demotion_grace``
consecutive reviews below the tier; between reviews the tier is held (basis ``calendar``).
An active manager override (``as_of < override_until``, or no expiry) wins. When the override
expires, the policy continues from the overridden tier, so a demotion again waits out grace.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from rules.model import STATE_COLUMNS, Rulebook, TierState, Track
from tierwise.errors import InvalidInput, Problem

CHANGES = ("promoted", "demoted", "unchanged", "new")
BASES = ("rules", "grace", "override", "calendar")
PROMOTED, DEMOTED, UNCHANGED, NEW = range(4)
RULES, GRACE, OVERRIDE, CALENDAR = range(4)


def _compare(rank: int, prev: int) -> int:
    if prev < 0:
        return NEW
    return PROMOTED if rank > prev else DEMOTED if rank < prev else UNCHANGED


def decide(
    track: Track,
    evaluated: int,
    previous: TierState | None,
    as_of: datetime,
    grace: int,
    *,
    review: bool = True,
    promote_at_once: bool = True,
) -> tuple[int, int, int, TierState]:
    """(rank decided, change code, basis code, new state) for one partner.

    ``review``: this evaluation is a tier review; ``promote_at_once``: promotions need not
    wait for one."""
    if previous is None:  # a partner seen for the first time: the rules alone decide
        return evaluated, NEW, RULES, track.fresh[evaluated]
    prev = previous
    by_name = track.ranks
    prev_rank = by_name.get(prev.tier, -1) if prev.tier is not None else -1
    if prev.override_active(as_of):
        rank = by_name.get(prev.override_tier or "", -1)
        if rank < 0:
            raise _bad_override(track, [prev.override_tier], [None])
        state = TierState(
            prev.override_tier, 0, prev.override_tier, prev.override_reason, prev.override_until
        )
        return rank, _compare(rank, prev_rank), OVERRIDE, state
    names = track.by_rank
    if prev_rank >= 0 and not review and evaluated != prev_rank:
        if evaluated < prev_rank or not promote_at_once:  # wait for the review
            state = TierState(names[prev_rank], prev.missed_evaluations)
            return prev_rank, UNCHANGED, CALENDAR, state
        return evaluated, PROMOTED, RULES, track.fresh[evaluated]
    if prev_rank >= 0 and not review:  # between reviews, at its tier: nothing counts
        state = TierState(names[prev_rank], prev.missed_evaluations)
        fresh = track.fresh[prev_rank]
        return prev_rank, UNCHANGED, RULES, state if prev.missed_evaluations else fresh
    missed, basis, rank = 0, RULES, evaluated
    if prev_rank >= 0 and evaluated < prev_rank:
        missed = prev.missed_evaluations + 1
        if missed < grace:
            rank, basis = prev_rank, GRACE
        else:
            missed = 0
    change = UNCHANGED if basis == GRACE else _compare(rank, prev_rank)
    return rank, change, basis, TierState(names[rank], missed) if missed else track.fresh[rank]


def _bad_override(track: Track, tiers: list[Any], partners: list[Any]) -> InvalidInput:
    known = ", ".join(t.id for t in track.tiers)
    return InvalidInput(
        "a manager override names a tier that is not in the partner's track",
        [
            Problem(
                f"override tier '{t}' is not a tier of track '{track.id}' (tiers: {known})",
                column="override_tier",
                value=t,
                rule_id=None if p is None else str(p),
            )
            for t, p in zip(tiers, partners, strict=True)
        ][:20],
    )


def align_previous(previous: pd.DataFrame | None, partner_ids: pd.Series) -> pd.DataFrame | None:
    """Previous state rows in the order of ``partner_ids`` (missing partners: empty state);
    None when there is no previous state at all."""
    if previous is None or previous.empty:
        return None
    prev = previous.set_index("partner_id") if "partner_id" in previous.columns else previous
    dupes = prev.index[prev.index.duplicated()]
    if len(dupes):
        raise InvalidInput(
            "previous tier state has duplicate partners",
            [
                Problem("duplicate partner_id in previous state", column="partner_id", value=str(p))
                for p in dupes[:20]
            ],
        )
    out = prev.reindex(columns=list(STATE_COLUMNS))
    out = out.reindex(partner_ids.to_numpy()).reset_index(drop=True)
    out["missed_evaluations"] = (
        pd.to_numeric(out["missed_evaluations"], errors="coerce").fillna(0).astype("int64")
    )
    out["override_until"] = pd.to_datetime(out["override_until"], utc=True)
    return out


def decide_frame(
    book: Rulebook,
    track_idx: np.ndarray,
    evaluated: np.ndarray,
    previous: pd.DataFrame | None,
    partner_ids: pd.Series,
    as_of: datetime,
    review: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The vectorized twin of `decide`: arrays of rank, change, basis, missed and override.

    ``review``: per row, is this evaluation a tier review (None: every row is)."""
    n = len(track_idx)
    if previous is None:
        return {
            "rank": evaluated,
            "change": np.full(n, NEW),
            "basis": np.full(n, RULES),
            "missed": np.zeros(n, dtype=np.int64),
            "active": np.zeros(n, dtype=bool),
        }
    prev_rank = np.full(n, -1)
    over_rank = np.full(n, -1)
    prev_tier = previous["tier"]
    over_tier = previous["override_tier"]
    until = previous["override_until"]
    active = (over_tier.notna() & (until.isna() | (until > pd.Timestamp(as_of)))).to_numpy()
    for k, track in enumerate(book.tracks):
        rows = track_idx == k
        if not rows.any():
            continue
        ranks = {t.id: t.rank for t in track.tiers}
        prev_rank[rows] = prev_tier[rows].map(ranks).fillna(-1).to_numpy(dtype="int64")
        over_rank[rows] = over_tier[rows].map(ranks).fillna(-1).to_numpy(dtype="int64")
        bad = rows & active & (over_rank < 0)
        if bad.any():
            raise _bad_override(track, list(over_tier[bad]), list(partner_ids[bad]))
    missed_prev = previous["missed_evaluations"].to_numpy(dtype="int64")
    review = np.ones(n, dtype=bool) if review is None else review
    below = (prev_rank >= 0) & (evaluated < prev_rank)
    missed = np.where(below, missed_prev + 1, 0)
    held = below & (missed < book.demotion_grace) & ~active & review
    missed = np.where(held, missed, 0)
    rank = np.where(held, prev_rank, evaluated)
    basis = np.where(held, GRACE, RULES)
    # between reviews the tier holds; a promotion goes through if the calendar says at once
    between = (prev_rank >= 0) & ~review & ~active
    promote = between & (evaluated > prev_rank) & book.calendar.promote_at_once
    hold = between & ~promote
    rank = np.where(hold, prev_rank, rank)
    basis = np.where(hold, np.where(evaluated != prev_rank, CALENDAR, RULES), basis)
    missed = np.where(hold, missed_prev, np.where(promote, 0, missed))
    rank = np.where(active, over_rank, rank)
    basis = np.where(active, OVERRIDE, basis)
    missed = np.where(active, 0, missed)
    change = np.where(
        prev_rank < 0,
        NEW,
        np.where(rank > prev_rank, PROMOTED, np.where(rank < prev_rank, DEMOTED, UNCHANGED)),
    )
    change = np.where(held, UNCHANGED, change)
    return {"rank": rank, "change": change, "basis": basis, "missed": missed, "active": active}


# how a review reports each partner's tier: the tier change, told apart further by why
REVIEW_CHANGES = ("new", "promoted", "demoted", "grace", "override", "unchanged")


def review_changes(decisions: pd.DataFrame, previous_tier: Any) -> np.ndarray:
    """Each partner's tier movement as a review (the weekly plan) reports it, one of
    `REVIEW_CHANGES`: ``new`` when the partner had no previous tier, ``grace`` when a
    demotion is being held (or misses are counting), ``override`` when a manager override
    holds the tier unchanged, else the engine's ``tier_change`` (promoted | demoted |
    unchanged).

    ``decisions`` has the columns tier_change, tier_basis and missed_evaluations
    (`FrameDecision.tiers`, `recommend_frame(...).decisions`); ``previous_tier`` is
    row-aligned with it, None/NaN where the partner had none."""
    change = decisions["tier_change"].astype(str).to_numpy(dtype=object)
    basis = decisions["tier_basis"].astype(str).to_numpy()
    missed = decisions["missed_evaluations"].to_numpy(dtype="int64")
    out = change.copy()
    out[(basis == "grace") | (missed > 0)] = "grace"
    out[(basis == "override") & (change == "unchanged")] = "override"
    out[pd.isna(np.asarray(previous_tier, dtype=object))] = "new"
    return out
