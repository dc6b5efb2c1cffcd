"""Evaluate a rulebook for one partner (`evaluate_partner`) or a whole frame (`evaluate_frame`).

Tracks and tiers: FIRST hit. Incentives: COLLECT. Scorecard: weighted piecewise-linear
0-100 per component plus an overall score. Actions: eligibility plus the propensity, value
and weight serving needs to arbitrate. The two paths agree row for row (tested).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from datetime import UTC, datetime
from itertools import compress
from typing import Any

import numpy as np
import pandas as pd

from rules import policy
from rules.columns import Columns, inject_decided
from rules.compile import Log
from rules.decision import Award, Candidate, FrameDecision, PartnerDecision
from rules.flat import FlatRulebook, Trace
from rules.model import STATE_COLUMNS, Rulebook, TierState
from tierwise.errors import InvalidInput, Problem


def _utc(when: datetime) -> datetime:
    """``when`` in UTC (naive: already UTC); an instant that UTC cannot hold is bad input."""
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+00:03 is before 0001-01-01 in UTC
        text = when.isoformat()
        raise InvalidInput(
            f"as_of {text} is out of range",
            [Problem(f"'{text}' is outside years 1-9999 in UTC", column="as_of", value=text)],
        ) from None


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


def evaluate_partner(
    rulebook: Rulebook, features: Mapping[str, Any], *, previous: TierState | None, as_of: datetime
) -> PartnerDecision:
    """One partner: tier (with state), incentives, scores, actions, all explained.

    The hot path walks `Rulebook.flat` (flat tuples) and keeps only each rule's outcome and
    one flat log entry per condition; `PartnerDecision.checks`, `.gap` and `.spans` are
    built from those when read.
    """
    if not features.keys() >= rulebook.features_needed:
        raise _absent(rulebook.features_needed - set(features), "input")
    if as_of.tzinfo is not UTC:
        as_of = _utc(as_of)
    flat = rulebook.flat
    log: Log = []
    track_rs: list[Any] = []
    for tp in flat.tracks:
        r = tp.ev(features, log)
        track_rs.append(r)
        if r:
            break
    else:
        raise AssertionError("the last track is a fallback")  # guaranteed by the loader
    tier_rs: list[Any] = []
    for tier in tp.tiers:
        r = tier.ev(features, log)
        tier_rs.append(r)
        if r:
            break
    else:
        raise AssertionError("the last tier is a fallback")  # guaranteed by the loader
    evaluated = tier.rank
    cal = rulebook.calendar
    review = cal.partner_review(as_of, features)
    rank, change, basis, state = policy.decide(
        tp.track, evaluated, _state(previous), as_of, rulebook.demotion_grace, review=review,
        promote_at_once=cal.promote_at_once,
    )  # fmt: skip
    names = tp.names
    tier_id, tier_change = names[rank], policy.CHANGES[change]
    context = {**features, "tier": tier_id, "tier_change": tier_change, "track": tp.id}
    inc_rs = [ev(context, log) for ev in flat.incentive_evs]
    act_rs = [ev(context, log) for ev in flat.action_evs]
    return PartnerDecision(
        rulebook=rulebook,
        as_of=as_of,
        partner_id=features.get("partner_id"),
        track=tp.id,
        evaluated_tier=names[evaluated],
        tier=tier_id,
        tier_change=tier_change,
        tier_basis=policy.BASES[basis],
        state=state,
        incentives=_awards(flat, inc_rs, context),
        scores=_scores(flat, features),
        actions=_candidates(flat, act_rs, context),
        next_tier=names[rank + 1] if rank + 1 < len(names) else None,
        features=features,
        log=log,
        trace=_new(Trace, (len(track_rs) - 1, track_rs, tier_rs, inc_rs, act_rs)),
    )


_new = tuple.__new__  # a NamedTuple from a ready tuple, skipping its generated __new__


def _awards(flat: FlatRulebook, hits: list[Any], context: Mapping[str, Any]) -> list[Award]:
    out: list[Award] = []
    for inc_id, reward_type, amount, reward_unit, basis in compress(flat.incentives, hits):
        if basis is not None:
            b = _float(context[basis])
            amount = 0.0 if b != b else amount * b
        out.append(_new(Award, (inc_id, reward_type, amount, reward_unit)))
    return out


def _candidates(flat: FlatRulebook, hits: list[Any], context: Mapping[str, Any]) -> list[Candidate]:
    out: list[Candidate] = []
    for act_id, propensity, invert, value, weight, cooldown in compress(flat.actions, hits):
        if propensity is None:
            p = 1.0
        elif isinstance(propensity, float):  # a learned action: its prior's mean
            p = propensity
        else:
            p = _float(context[propensity])
        v = 1.0 if value is None else value(context)
        out.append(_new(Candidate, (act_id, 1.0 - p if invert else p, v, weight, cooldown)))
    return out


_NAN = float("nan")


def _float(v: Any) -> float:
    """``v`` as a float, NaN when missing (None, NaN, pd.NA)."""
    try:
        return float(v) if v == v else _NAN  # NaN != NaN
    except TypeError:  # None (float(None)), pd.NA (its truth value)
        return _NAN


def _scores(flat: FlatRulebook, f: Mapping[str, Any]) -> dict[str, float]:
    """Weighted piecewise-linear 0-100 scores, clamped at both ends, with the arithmetic of
    ``np.interp`` (which `ScorePart.scores` uses on a frame), so both paths agree."""
    out: dict[str, float] = {}
    total = 0.0
    for comp_id, comp_weight, part_weights, parts in flat.scorecard:
        s = 0.0
        for feature, weight, xs, ys, slopes, missing in parts:
            x = f[feature]
            try:
                known = x is not None and x == x
            except (TypeError, ValueError):  # pd.NA
                known = False
            if not known:
                s += weight * missing
            elif x <= xs[0]:
                s += weight * ys[0]
            elif x >= xs[-1]:
                s += weight * ys[-1]
            else:
                j = bisect_right(xs, x) - 1
                s += weight * (slopes[j] * (x - xs[j]) + ys[j])
        s = float(s) / part_weights  # float: numpy scalars in, plain floats out
        out[comp_id] = s
        total += comp_weight * s
    if flat.scorecard:
        out["overall"] = total / flat.score_weight
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
    review = rulebook.calendar.frame_reviews(as_of, frame)
    decided = policy.decide_frame(rulebook, track_idx, evaluated, prev, pids, as_of, review)
    tiers = _tier_table(rulebook, pids, track_idx, evaluated, decided, prev)
    inject_decided(cols, tiers)
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


def _cat(codes: np.ndarray, book: Rulebook, kind: str) -> Any:
    """A categorical of ``codes`` with the rulebook's dtype for ``kind`` (built once: a new
    CategoricalDtype validates its categories, the main fixed cost on a small frame)."""
    return pd.Categorical.from_codes(codes, dtype=book.flat.dtypes[kind])


def _tier_table(
    book: Rulebook,
    pids: pd.Series,
    track_idx: np.ndarray,
    evaluated: np.ndarray,
    decided: dict[str, np.ndarray],
    prev: pd.DataFrame | None,
) -> pd.DataFrame:
    active = decided["active"]
    overrides: dict[str, Any]
    if prev is None:
        none = np.full(len(pids), None, dtype=object)
        overrides = {
            "override_tier": none,
            "override_reason": none.copy(),
            "override_until": pd.Series(pd.NaT, index=pids.index, dtype="datetime64[ns, UTC]"),
        }
    else:
        overrides = {
            "override_tier": prev["override_tier"].where(active, None).to_numpy(dtype=object),
            "override_reason": prev["override_reason"].where(active, None).to_numpy(dtype=object),
            "override_until": prev["override_until"].where(active).set_axis(pids.index),
        }
    return pd.DataFrame(
        {
            "partner_id": pids,
            "track": _cat(track_idx, book, "track"),
            "evaluated_tier": _cat(_tier_codes(book, track_idx, evaluated), book, "tier"),
            "tier": _cat(_tier_codes(book, track_idx, decided["rank"]), book, "tier"),
            "tier_change": _cat(decided["change"], book, "tier_change"),
            "tier_basis": _cat(decided["basis"], book, "tier_basis"),
            "missed_evaluations": decided["missed"].astype("int64"),
            **overrides,
        },
        copy=False,
    )


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
            "incentive_id": _cat(code, book, "incentive_id"),
            "reward_type": _labels([i.reward.type for i in incs], code, book, "reward_type"),
            "amount": amount,
            "unit": _labels([i.reward.unit for i in incs], code, book, "unit"),
        },
        copy=False,
    )


def _labels(per_rule: list[str], code: np.ndarray, book: Rulebook, kind: str) -> Any:
    """A categorical of each row's label, given each rule's label and the rows' rule codes."""
    names = list(book.flat.dtypes[kind].categories)
    lookup = np.array([names.index(x) for x in per_rule] or [0], dtype=np.int64)
    return _cat(lookup[code], book, kind)


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
        np.full(cols.n, a.prior_mean)
        if a.learned
        else None
        if a.propensity is None
        else (1.0 - cols.num(a.propensity) if a.invert else cols.num(a.propensity))
        for a in acts
    ]
    values = [None if a.value_expr is None else a.value_expr.vector(cols) for a in acts]
    prop, value = _per_rule(props, row, code), _per_rule(values, row, code)
    return pd.DataFrame(
        {
            "partner_id": pd.Series(pids[row], dtype=object, copy=False),
            "action_id": _cat(code, book, "action_id"),
            "propensity": prop,
            "value": value,
            "weight": np.array([a.weight for a in acts] or [0.0])[code],
            "cooldown_days": np.array([a.cooldown_days for a in acts] or [0])[code],
        },
        copy=False,
    )


__all__ = ["STATE_COLUMNS", "evaluate_frame", "evaluate_partner"]
