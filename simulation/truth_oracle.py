"""The churn oracle: `churn_estimate` runs the Monte-Carlo estimators of `simulation.truth_churn`
over fixed blocks of partners, with stable seeds, paths sized to a standard-error target and
a per-block cache (used by `simulation.truth.Truth`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np
import pandas as pd

from simulation.dynamics import DAY_NS, WEEK_NS, Latent
from simulation.truth_churn import Window, conditional_paths, plain_paths, summarize
from simulation.weeks import History
from tierwise.errors import InvalidInput

log = logging.getLogger(__name__)

NAT = np.iinfo(np.int64).min
# Paths per partner when `paths=None`: a pilot sizes each partner's run for SE_TARGET.
SE_TARGET = 0.005
PILOT_PATHS = 4
POOL_PARTNERS = 64  # partners of similar pilot mean whose spread a partner's run allows for
MIN_PATHS, MAX_PATHS = 8, 256
# Partners are estimated in fixed blocks of BLOCK_PARTNERS (fewer when `paths` is large):
# a subset costs the blocks it touches; a block's rows are simulated BLOCK_ROWS at a time.
BLOCK_PARTNERS = 1024
BLOCK_ROWS = 65_536

Method = Literal["conditional", "plain"]
Estimator = Callable[
    [Latent, History, np.ndarray, Window, np.ndarray, np.random.Generator], np.ndarray
]
# method, as_of, horizon, paths, se target, block layout (partners, rows), block
CacheKey = tuple[str, int, int, int, int, int, int, int]
ESTIMATORS: dict[str, Estimator] = {"conditional": conditional_paths, "plain": plain_paths}
METHOD_IDS = {"conditional": 1, "plain": 2}


@dataclass(frozen=True)
class LatentHistory:
    """Everything the oracle needs: per-partner traits and the weekly latent state."""

    partner_ids: np.ndarray  # (n,) str
    start_ns: int
    weeks: int
    seed: int
    joined_ns: np.ndarray
    exit_ns: np.ndarray  # true formal exit (may lie after the window end), NAT = never
    churn_ns: np.ndarray  # true moment the partner went quiet, NAT = never
    latent: Latent
    history: History

    def week_of(self, at_ns: int) -> int:
        return int((at_ns - self.start_ns) // WEEK_NS)


@dataclass(frozen=True)
class Block:
    """Churn estimates of the active partners of one block (positions in the simulation)."""

    partners: np.ndarray
    p_churn: np.ndarray
    se: np.ndarray
    paths: np.ndarray


def churn_probability(
    lh: LatentHistory,
    as_of: datetime | pd.Timestamp,
    horizon_days: int,
    *,
    paths: int | None = None,
    partner_ids: Iterable[str] | None = None,
) -> pd.Series:
    """partner_id → true P(churn label = 1) (see `Truth.churn_probability`)."""
    return churn_estimate(lh, as_of, horizon_days, paths=paths, partner_ids=partner_ids)["p_churn"]


def churn_estimate(
    lh: LatentHistory,
    as_of: datetime | pd.Timestamp,
    horizon_days: int,
    *,
    paths: int | None = None,
    partner_ids: Iterable[str] | None = None,
    se_target: float = SE_TARGET,
    method: Method = "conditional",
    cache: dict[CacheKey, Block] | None = None,
) -> pd.DataFrame:
    """partner_id → p_churn, se, paths for the partners active at as_of (see
    `Truth.churn_estimate`).

    Partners are cut into fixed blocks by their position in the simulation; each block's
    paths come from a generator seeded by (simulation seed, as_of, horizon, paths or
    se_target, block, method), so a partner's value never depends on which other partners
    are asked for, on their order, or on the process.

    With `paths=None`, each partner first gets PILOT_PATHS paths that only size its run:
    (pilot standard deviation / se_target)² paths, within [MIN_PATHS, MAX_PATHS], all fresh
    — the pilot is not averaged in, so the estimate stays unbiased.
    """
    if horizon_days < 1:
        raise InvalidInput(f"horizon_days must be at least 1, got {horizon_days}")
    if paths is not None and paths < 1:
        raise InvalidInput(f"paths must be at least 1, got {paths}")
    if not se_target > 0:
        raise InvalidInput(f"se_target must be positive, got {se_target}")
    if method not in ESTIMATORS:
        raise InvalidInput(f"unknown churn truth method {method!r}: use {sorted(ESTIMATORS)}")
    at = to_ns(as_of)
    week = check_week(lh, at)
    active = (lh.joined_ns < at) & ((lh.exit_ns == NAT) | (lh.exit_ns >= at))
    wanted = np.nonzero(active)[0] if partner_ids is None else _positions(lh, partner_ids)
    wanted = wanted[active[wanted]]
    size = block_size(paths)
    n = lh.partner_ids.size
    p, se, used = np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, dtype=np.int64)
    window = Window(start_ns=lh.start_ns, week=week, at=at, stop=at + horizon_days * DAY_NS)
    target = 0 if paths is not None else round(se_target * 1e9)  # in the seed and the key
    for b in np.unique(wanted // size).tolist():
        key = (method, at, horizon_days, paths or 0, target, size, BLOCK_ROWS, b)
        block = cache.get(key) if cache is not None else None
        if block is None:
            members = np.arange(b * size, min((b + 1) * size, n))
            entropy = [
                lh.seed,
                week,
                at - lh.start_ns - week * WEEK_NS,
                horizon_days,
                paths or 0,
                target,
                b,
                METHOD_IDS[method],
            ]
            block = _estimate_block(
                lh,
                members[active[members]],
                window,
                paths,
                se_target,
                ESTIMATORS[method],
                np.random.default_rng(entropy),
            )
            if cache is not None:
                cache[key] = block
        p[block.partners], se[block.partners] = block.p_churn, block.se
        used[block.partners] = block.paths
    _log_se(se[wanted], used[wanted], method)
    return pd.DataFrame(
        {"p_churn": p[wanted], "se": se[wanted], "paths": used[wanted]},
        index=pd.Index(lh.partner_ids[wanted].astype(str), name="partner_id", dtype="str"),
    )


def block_size(paths: int | None) -> int:
    """Partners per block: BLOCK_PARTNERS, or fewer so that a fixed number of paths per
    partner fits in BLOCK_ROWS rows."""
    return max(1, min(BLOCK_PARTNERS, BLOCK_ROWS // (paths or 1)))


def _estimate_block(
    lh: LatentHistory,
    members: np.ndarray,
    window: Window,
    paths: int | None,
    se_target: float,
    estimator: Estimator,
    rng: np.random.Generator,
) -> Block:
    p = np.ones(members.size)  # already quiet: no event can come, the label is 1
    se = np.zeros(members.size)
    counts = np.zeros(members.size, dtype=np.int64)
    run = np.nonzero(lh.history.alive[window.week, members])[0]
    if run.size:
        partners = members[run]
        if paths is None:  # size each partner's run from a pilot that is then set aside
            pilot = np.full(run.size, PILOT_PATHS)
            mean, pilot_se = summarize(
                _simulate(lh, partners, window, pilot, estimator, rng), pilot
            )
            sd = _pooled_sd(mean, pilot_se * np.sqrt(PILOT_PATHS))
            counts[run] = np.clip(np.ceil((sd / se_target) ** 2), MIN_PATHS, MAX_PATHS)
        else:
            counts[run] = paths
        values = _simulate(lh, partners, window, counts[run], estimator, rng)
        p[run], se[run] = summarize(values, counts[run])
    return Block(partners=members, p_churn=p, se=se, paths=counts)


def _pooled_sd(mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """A partner's pilot standard deviation, or, when larger, the root-mean-square one of
    the POOL_PARTNERS partners nearest to it in pilot mean (a few pilot paths often miss
    the rare paths that make a partner's spread; its mean predicts that spread well)."""
    order = np.argsort(mean, kind="stable")
    group = np.empty(mean.size, dtype=np.int64)
    group[order] = np.arange(mean.size) // POOL_PARTNERS
    pooled = np.sqrt(np.bincount(group, weights=np.nan_to_num(sd) ** 2) / np.bincount(group))
    return np.maximum(np.nan_to_num(sd), pooled[group])


def _simulate(
    lh: LatentHistory,
    partners: np.ndarray,
    window: Window,
    counts: np.ndarray,
    estimator: Estimator,
    rng: np.random.Generator,
) -> np.ndarray:
    """The estimator's path values, in runs of about BLOCK_ROWS rows (partner-major)."""
    ends = np.cumsum(counts)
    parts, lo = [], 0
    while lo < partners.size:
        done = int(ends[lo - 1]) if lo else 0
        hi = max(lo + 1, int(np.searchsorted(ends, done + BLOCK_ROWS, side="right")))
        parts.append(estimator(lh.latent, lh.history, partners[lo:hi], window, counts[lo:hi], rng))
        lo = hi
    return np.concatenate(parts)


def _positions(lh: LatentHistory, partner_ids: Iterable[str]) -> np.ndarray:
    asked = pd.Index(list(partner_ids), dtype="str")
    where = pd.Index(lh.partner_ids.astype(str)).get_indexer(asked)
    unknown = asked[where < 0]
    if unknown.size:
        shown = ", ".join(unknown[:5].tolist())
        raise InvalidInput(f"{unknown.size} partner_ids are not in the simulation (e.g. {shown})")
    return where.astype(np.int64)


def _log_se(se: np.ndarray, paths: np.ndarray, method: str) -> None:
    finite = se[np.isfinite(se)]
    if finite.size:
        log.debug(
            "churn truth (%s): %.1f paths per simulated partner on average; standard error "
            "median %.4f, 99%% %.4f, max %.4f",
            method,
            paths[paths > 0].mean() if (paths > 0).any() else 0,
            np.median(finite),
            np.quantile(finite, 0.99),
            finite.max(),
        )


def to_ns(value: datetime | pd.Timestamp) -> int:
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.as_unit("ns").value)


def check_week(lh: LatentHistory, at: int) -> int:
    week = lh.week_of(at)
    if not 0 <= week <= lh.weeks:
        first, last = to_time(np.array([lh.start_ns, lh.start_ns + lh.weeks * WEEK_NS]))
        raise InvalidInput(
            f"as_of {pd.Timestamp(at, tz='UTC')} is outside the simulated window "
            f"[{first}, {last}]: the simulator has no state there"
        )
    return week


def to_time(ns: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(ns.astype("M8[ns]")).tz_localize("UTC")
