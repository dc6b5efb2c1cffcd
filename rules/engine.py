"""Evaluate a rulebook for one partner (`evaluate_partner`) or a whole frame (`evaluate_frame`).

Tracks and tiers: FIRST hit. Incentives: COLLECT. Scorecard: weighted piecewise-linear
0-100 per component plus an overall score. Actions: eligibility plus the propensity, value
and weight serving needs to arbitrate. The two paths agree row for row (tested).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from rules import policy
from rules.columns import Columns
from rules.compile import Log
from rules.decision import Award, Candidate, FrameDecision, PartnerDecision, Span
from rules.model import STATE_COLUMNS, Rulebook, TierState, Track
from tierwise.errors import InvalidInput, Problem


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _absent(names: set[str] | frozenset[str], where: str) -> InvalidInput:
    return InvalidInput(
        f"{where} lacks {len(names)} feature(s) the rulebook needs: {', '.join(sorted(names))}",
        [
            Problem(
                f"feature '{n}' is needed by the rulebook but absent from the {where}", column=n
            )
            for n in sorted(names)
        ],
    )


def _state(previous: TierState | None) -> TierState | None:
    if previous is None or previous.override_until is None:
        return previous
    until = previous.override_until
    if until.tzinfo is None:
        return TierState(
            previous.tier,
            previous.missed_evaluations,
            previous.override_tier,
            previous.override_reason,
            until.replace(tzinfo=UTC),
        )
    return previous


def _missing(v: Any) -> bool:
    try:
        return v is None or bool(v != v)
    except (TypeError, ValueError):
        return True


def evaluate_partner(
    rulebook: Rulebook, features: Mapping[str, Any], *, previous: TierState | None, as_of: datetime
) -> PartnerDecision:
    """One partner: tier (with state), incentives, scores, actions, all explained."""
    if not features.keys() >= rulebook.features_needed:
        raise _absent(rulebook.features_needed - set(features), "input")
    as_of = _utc(as_of)
    log: Log = []
    spans: list[Span] = []
    track = _first_track(rulebook, features, log, spans)
    evaluated = _first_tier(track, features, log, spans)
    rank, change, basis, state = policy.decide(
        track, evaluated, _state(previous), as_of, rulebook.demotion_grace
    )
    tier = track.tiers[len(track.tiers) - 1 - rank].id
    context = {**features, "tier": tier, "tier_change": policy.CHANGES[change], "track": track.id}
    incentives = []
    for inc in rulebook.incentives:
        start = len(log)
        r = inc.ev(context, log)
        spans.append(("incentive", inc.id, start, len(log), r))
        if r:
            reward = inc.reward
            amount = reward.amount
            if reward.basis is not None:
                b = context[reward.basis]
                amount = 0.0 if _missing(b) else amount * float(b)
            incentives.append(Award(inc.id, reward.type, amount, reward.unit))
    actions = []
    for act in rulebook.actions:
        start = len(log)
        r = act.ev(context, log)
        spans.append(("action", act.id, start, len(log), r))
        if r:
            p = 1.0 if act.propensity is None else _float(context[act.propensity])
            actions.append(
                Candidate(
                    act.id,
                    1.0 - p if act.invert else p,
                    1.0 if act.value is None else _float(context[act.value]),
                    act.weight,
                    act.cooldown_days,
                )
            )
    next_rank = rank + 1
    next_tier = (
        track.tiers[len(track.tiers) - 1 - next_rank].id if next_rank < len(track.tiers) else None
    )
    return PartnerDecision(
        rulebook=rulebook,
        as_of=as_of,
        partner_id=features.get("partner_id"),
        track=track.id,
        evaluated_tier=track.tiers[len(track.tiers) - 1 - evaluated].id,
        tier=tier,
        tier_change=policy.CHANGES[change],
        tier_basis=policy.BASES[basis],
        state=state,
        incentives=incentives,
        scores=_scores(rulebook, features),
        actions=actions,
        next_tier=next_tier,
        features=features,
        log=log,
        spans=spans,
    )


def _float(v: Any) -> float:
    return float("nan") if _missing(v) else float(v)


def _first_track(book: Rulebook, f: Mapping[str, Any], log: Log, spans: list[Span]) -> Track:
    for track in book.tracks:
        start = len(log)
        r = track.ev(f, log)
        spans.append(("track", track.id, start, len(log), r))
        if r:
            return track
    raise AssertionError("the last track is a fallback")  # guaranteed by the loader


def _first_tier(track: Track, f: Mapping[str, Any], log: Log, spans: list[Span]) -> int:
    for tier in track.tiers:
        start = len(log)
        r = tier.ev(f, log)
        spans.append(("tier", f"{track.id}/{tier.id}", start, len(log), r))
        if r:
            return tier.rank
    raise AssertionError("the last tier is a fallback")  # guaranteed by the loader


def _scores(book: Rulebook, f: Mapping[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    total = weights = 0.0
    for comp in book.scorecard:
        s = 0.0
        for p in comp.parts:
            s += p.weight * p.score(f[p.feature])
        s /= comp.total_weight
        out[comp.id] = s
        total += comp.weight * s
        weights += comp.weight
    if book.scorecard:
        out["overall"] = total / weights
    return out


def evaluate_frame(
    rulebook: Rulebook,
    frame: pd.DataFrame,
    *,
    previous: pd.DataFrame | None = None,
    as_of: datetime,
) -> FrameDecision:
    """Every partner of a feature frame at once (numpy over columns, no loop over rows)."""
    absent = set(rulebook.features_needed | {"partner_id"}) - set(frame.columns)
    if absent:
        raise _absent(absent, "feature frame")
    as_of = _utc(as_of)
    frame = frame.reset_index(drop=True)
    cols = Columns(frame)
    pids = frame["partner_id"]
    track_idx, evaluated = _frame_tiers(rulebook, cols)
    prev = policy.align_previous(previous, pids)
    decided = policy.decide_frame(rulebook, track_idx, evaluated, prev, pids, as_of)
    tiers = _tier_table(rulebook, pids, track_idx, evaluated, decided, prev)
    _inject(rulebook, cols, tiers)
    eligible = _frame_eligible(rulebook, cols, pids)
    ids = pids.to_numpy(dtype=object)
    return FrameDecision(
        rulebook_version=rulebook.version,
        rulebook_hash=rulebook.content_hash,
        as_of=as_of,
        tiers=tiers,
        incentives=_frame_incentives(rulebook, cols, ids),
        scores=_frame_scores(rulebook, cols, pids),
        eligible=eligible,
        actions=_frame_actions(rulebook, cols, ids, eligible),
    )


def _frame_tiers(book: Rulebook, cols: Columns) -> tuple[np.ndarray, np.ndarray]:
    n = cols.n
    track_idx = np.full(n, -1)
    for k, track in enumerate(book.tracks):
        hit, _ = track.vev(cols)
        track_idx[(track_idx < 0) & hit] = k
    evaluated = np.full(n, -1)
    for k, track in enumerate(book.tracks):
        rows = track_idx == k
        if not rows.any():
            continue
        todo = rows.copy()
        for tier in track.tiers:
            hit, _ = tier.vev(cols)
            now = todo & hit
            evaluated[now] = tier.rank
            todo &= ~now
    return track_idx, evaluated


def _tier_codes(book: Rulebook, track_idx: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Codes into ``book.tier_names`` of the tier at (track, rank) for every row."""
    names = book.tier_names
    width = max(len(t.tiers) for t in book.tracks)
    table = np.zeros((len(book.tracks), width), dtype=np.int64)
    for k, track in enumerate(book.tracks):
        for tier in track.tiers:
            table[k, tier.rank] = names.index(tier.id)
    return table[track_idx, rank]


def _cat(codes: np.ndarray, names: tuple[str, ...] | list[str]) -> Any:
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(list(names)))


def _tier_table(
    book: Rulebook,
    pids: pd.Series,
    track_idx: np.ndarray,
    evaluated: np.ndarray,
    decided: dict[str, np.ndarray],
    prev: pd.DataFrame | None,
) -> pd.DataFrame:
    active = decided["active"]
    names = book.tier_names
    out = pd.DataFrame(
        {
            "partner_id": pids,
            "track": _cat(track_idx, [t.id for t in book.tracks]),
            "evaluated_tier": _cat(_tier_codes(book, track_idx, evaluated), names),
            "tier": _cat(_tier_codes(book, track_idx, decided["rank"]), names),
            "tier_change": _cat(decided["change"], policy.CHANGES),
            "tier_basis": _cat(decided["basis"], policy.BASES),
            "missed_evaluations": decided["missed"].astype("int64"),
        },
        copy=False,
    )
    if prev is None:
        none = np.full(len(out), None, dtype=object)
        out["override_tier"] = none
        out["override_reason"] = none.copy()
        out["override_until"] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns, UTC]")
    else:
        out["override_tier"] = prev["override_tier"].where(active, None).to_numpy(dtype=object)
        out["override_reason"] = prev["override_reason"].where(active, None).to_numpy(dtype=object)
        out["override_until"] = prev["override_until"].where(active).set_axis(out.index)
    return out


def _inject(book: Rulebook, cols: Columns, tiers: pd.DataFrame) -> None:
    """Make the decided tier, tier change and track readable by later conditions."""
    for name in ("tier", "tier_change", "track"):
        column = tiers[name].array
        cols.put_cat(name, np.asarray(column.codes), list(column.categories))


def _hits(masks: list[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, rule) of every hit, ordered by row then rule order: a long table, no sort."""
    if not masks:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    row, code = np.nonzero(np.column_stack(masks).reshape(n, len(masks)))
    return row, code


def _per_rule(columns: list[np.ndarray | None], row: np.ndarray, code: np.ndarray) -> np.ndarray:
    """Each hit's value from its rule's column (None → 1), gathered rule by rule over that
    rule's hits only (grouped by a stable radix sort of the small rule codes)."""
    out = np.ones(len(row))
    if all(c is None for c in columns):
        return out
    order = np.argsort(code.astype(np.int16), kind="stable")
    bounds = np.searchsorted(code[order], np.arange(len(columns) + 1))
    for k, column in enumerate(columns):
        if column is not None:
            at = order[bounds[k] : bounds[k + 1]]
            out[at] = column[row[at]]
    return out


def _frame_incentives(book: Rulebook, cols: Columns, pids: np.ndarray) -> pd.DataFrame:
    incs = book.incentives
    row, code = _hits([inc.vev(cols)[0] for inc in incs], cols.n)
    basis = [
        None if i.reward.basis is None else np.nan_to_num(cols.num(i.reward.basis), nan=0.0)
        for i in incs
    ]
    amount = np.array([i.reward.amount for i in incs] or [0.0])[code] * _per_rule(basis, row, code)
    return pd.DataFrame(
        {
            "partner_id": pd.Series(pids[row], dtype=object, copy=False),
            "incentive_id": _cat(code, [i.id for i in incs]),
            "reward_type": _labels([i.reward.type for i in incs], code),
            "amount": amount,
            "unit": _labels([i.reward.unit for i in incs], code),
        },
        copy=False,
    )


def _labels(per_rule: list[str], code: np.ndarray) -> Any:
    """A categorical of each row's label, given each rule's label and the rows' rule codes."""
    names = list(dict.fromkeys(per_rule))
    lookup = np.array([names.index(x) for x in per_rule] or [0], dtype=np.int64)
    return _cat(lookup[code], names)


def _frame_scores(book: Rulebook, cols: Columns, pids: pd.Series) -> pd.DataFrame:
    out: dict[str, Any] = {"partner_id": pids}
    total = np.zeros(cols.n)
    for comp in book.scorecard:
        s = sum(p.weight * p.scores(cols.num(p.feature)) for p in comp.parts) / comp.total_weight
        out[comp.id] = s
        total += comp.weight * s
    if book.scorecard:
        out["overall"] = total / sum(c.weight for c in book.scorecard)
    return pd.DataFrame(out, copy=False)


def _frame_eligible(book: Rulebook, cols: Columns, pids: pd.Series) -> pd.DataFrame:
    out: dict[str, Any] = {"partner_id": pids}
    for act in book.actions:
        out[act.id] = act.vev(cols)[0]
    return pd.DataFrame(out, copy=False)


def _frame_actions(
    book: Rulebook, cols: Columns, pids: np.ndarray, eligible: pd.DataFrame
) -> pd.DataFrame:
    acts = book.actions
    row, code = _hits([eligible[a.id].to_numpy() for a in acts], cols.n)
    props = [
        None
        if a.propensity is None
        else (1.0 - cols.num(a.propensity) if a.invert else cols.num(a.propensity))
        for a in acts
    ]
    values = [None if a.value is None else cols.num(a.value) for a in acts]
    prop, value = _per_rule(props, row, code), _per_rule(values, row, code)
    return pd.DataFrame(
        {
            "partner_id": pd.Series(pids[row], dtype=object, copy=False),
            "action_id": _cat(code, [a.id for a in acts]),
            "propensity": prop,
            "value": value,
            "weight": np.array([a.weight for a in acts] or [0.0])[code],
            "cooldown_days": np.array([a.cooldown_days for a in acts] or [0])[code],
        },
        copy=False,
    )


__all__ = ["STATE_COLUMNS", "evaluate_frame", "evaluate_partner"]
