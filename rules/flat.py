"""A rulebook flattened for the hot paths: plain tuples built once per rulebook.

`evaluate_partner` runs inside an HTTP request, so it walks these tuples instead of the
model objects: no attribute chains, no f-strings, no object construction it can avoid.
Every condition logs exactly one entry per leaf (no short-circuit), so the log entries of
each rule are a fixed-size run and the spans (which entries belong to which rule) can be
rebuilt from the rule outcomes alone, when someone asks for them.
`evaluate_frame` takes its categorical dtypes from here (building one validates its
categories, which is most of the fixed cost on a small frame).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, NamedTuple

import pandas as pd

from rules import policy
from rules.compile import Scalar
from rules.conditions import All, Condition, Leaf, leaves

if TYPE_CHECKING:
    from rules.model import Rulebook, TierState, Track

Span = tuple[str, str, int, int, Any]  # section, rule id, log start, log end, outcome


class FlatTier(NamedTuple):
    ev: Scalar
    span_id: str  # "track/tier", as in the log
    rank: int
    size: int  # log entries one evaluation writes
    offset: int  # log entries the tiers above it write (they are tried first)
    flat: tuple[Leaf, ...] | None  # the leaves, in log order, when they are all required


class FlatTrack(NamedTuple):
    ev: Scalar
    id: str
    size: int
    track: Track
    tiers: tuple[FlatTier, ...]  # highest first: FIRST hit wins
    names: tuple[str, ...]  # tier id by rank (0 = fallback)
    fresh: tuple[TierState, ...]  # by rank: the state of a partner with no history


FlatIncentive = tuple[str, str, float, str, str | None]  # id, reward type, amount, unit, basis
# id, propensity (a model output; a float: a learned action's prior mean; None → 1), invert,
# value (the expression's scalar view; None → 1), weight, cooldown
FlatAction = tuple[str, str | float | None, bool, Any, float, int]
# (feature, weight, xs, ys, slopes, missing score) — slopes as np.interp computes them
FlatPart = tuple[str, float, tuple[float, ...], tuple[float, ...], tuple[float, ...], float]
FlatComponent = tuple[str, float, float, tuple[FlatPart, ...]]  # id, weight, Σ part weights


class FlatRulebook(NamedTuple):
    tracks: tuple[FlatTrack, ...]
    track_index: dict[str, int]
    track_offsets: tuple[int, ...]  # [k]: log entries tracks 0..k-1 write (tried before k)
    incentive_evs: tuple[Scalar, ...]
    incentives: tuple[FlatIncentive, ...]
    incentive_sizes: tuple[int, ...]
    action_evs: tuple[Scalar, ...]
    actions: tuple[FlatAction, ...]
    action_sizes: tuple[int, ...]
    scorecard: tuple[FlatComponent, ...]
    score_weight: float  # Σ component weights (0 without a scorecard)
    dtypes: dict[str, pd.CategoricalDtype]  # track, tier, tier_change, tier_basis, …


class Trace(NamedTuple):
    """The outcome of every rule one evaluation ran, in order: enough to rebuild the spans."""

    track: int  # index of the track that hit
    tracks: list[Any]  # outcomes of the tracks tried (the last one hit)
    tiers: list[Any]  # outcomes of the tiers tried (the last one hit)
    incentives: list[Any]
    actions: list[Any]


def spans_of(flat: FlatRulebook, trace: Trace) -> list[Span]:
    """(section, rule id, start, end, outcome) of every rule evaluated, in log order."""
    out: list[Span] = []
    pos = 0
    for tp, r in zip(flat.tracks, trace.tracks, strict=False):
        out.append(("track", tp.id, pos, pos + tp.size, r))
        pos += tp.size
    for tier, r in zip(flat.tracks[trace.track].tiers, trace.tiers, strict=False):
        out.append(("tier", tier.span_id, pos, pos + tier.size, r))
        pos += tier.size
    for inc, size, r in zip(flat.incentives, flat.incentive_sizes, trace.incentives, strict=True):
        out.append(("incentive", inc[0], pos, pos + size, r))
        pos += size
    for act, size, r in zip(flat.actions, flat.action_sizes, trace.actions, strict=True):
        out.append(("action", act[0], pos, pos + size, r))
        pos += size
    return out


def tier_entries(flat: FlatRulebook, trace: Trace, at: int) -> tuple[int, int] | None:
    """Where in the log the entries of tier ``at`` (position in its track) are, if it was
    evaluated (tiers are tried from the top until one holds)."""
    if at >= len(trace.tiers):
        return None
    tier = flat.tracks[trace.track].tiers[at]
    start = flat.track_offsets[trace.track] + flat.tracks[trace.track].size + tier.offset
    return start, start + tier.size


def _flat(cond: Condition | None) -> tuple[Leaf, ...] | None:
    if isinstance(cond, Leaf):
        return (cond,)
    if isinstance(cond, All) and all(isinstance(c, Leaf) for c in cond.children):
        return tuple(c for c in cond.children if isinstance(c, Leaf))
    return None


def _offsets(sizes: list[int]) -> tuple[int, ...]:
    return tuple(itertools.accumulate(sizes[:-1], initial=0))


def _track(track: Track) -> FlatTrack:
    sizes = [len(leaves(t.when)) for t in track.tiers]
    names = tuple(track.by_rank[r] for r in range(len(track.tiers)))
    return FlatTrack(
        track.ev,
        track.id,
        len(leaves(track.when)),
        track,
        tuple(
            FlatTier(t.ev, f"{track.id}/{t.id}", t.rank, size, offset, _flat(t.when))
            for t, size, offset in zip(track.tiers, sizes, _offsets(sizes), strict=True)
        ),
        names,
        tuple(track.fresh[r] for r in range(len(names))),
    )


def _slopes(xs: tuple[float, ...], ys: tuple[float, ...]) -> tuple[float, ...]:
    return tuple((ys[j + 1] - ys[j]) / (xs[j + 1] - xs[j]) for j in range(len(xs) - 1))


def _categories(values: list[str]) -> pd.CategoricalDtype:
    return pd.CategoricalDtype(list(dict.fromkeys(values)))


def flatten(book: Rulebook) -> FlatRulebook:
    incs, acts = book.incentives, book.actions
    return FlatRulebook(
        tracks=tuple(_track(t) for t in book.tracks),
        track_index={t.id: k for k, t in enumerate(book.tracks)},
        track_offsets=_offsets([len(leaves(t.when)) for t in book.tracks]),
        incentive_evs=tuple(i.ev for i in incs),
        incentives=tuple(
            (i.id, i.reward.type, i.reward.amount, i.reward.unit, i.reward.basis) for i in incs
        ),
        incentive_sizes=tuple(len(leaves(i.when)) for i in incs),
        action_evs=tuple(a.ev for a in acts),
        actions=tuple(
            (
                a.id,
                a.prior_mean if a.learned else a.propensity,
                a.invert,
                None if a.value_expr is None else a.value_expr.scalar,
                a.weight,
                a.cooldown_days,
            )
            for a in acts
        ),
        action_sizes=tuple(len(leaves(a.when)) for a in acts),
        scorecard=tuple(
            (
                c.id,
                c.weight,
                c.total_weight,
                tuple(
                    (p.feature, p.weight, p.xs, p.ys, _slopes(p.xs, p.ys), p.missing)
                    for p in c.parts
                ),
            )
            for c in book.scorecard
        ),
        score_weight=sum(c.weight for c in book.scorecard),
        dtypes={
            "track": _categories([t.id for t in book.tracks]),
            "tier": _categories(list(book.tier_names)),
            "tier_change": _categories(list(policy.CHANGES)),
            "tier_basis": _categories(list(policy.BASES)),
            "incentive_id": _categories([i.id for i in incs]),
            "reward_type": _categories([i.reward.type for i in incs]),
            "unit": _categories([i.reward.unit for i in incs]),
            "action_id": _categories([a.id for a in acts]),
        },
    )
