"""The observable-information oracle: the churn truth for someone who sees only the tables.

`Truth.churn_probability` conditions on the simulator's latent state at as_of — engagement,
satisfaction and whether the partner has already gone quiet — which no table shows. This
oracle knows the dynamics and each partner's traits (its long-run level, event rates, hazard
offset, join and onboarding weeks) but not the state: a bootstrap particle filter runs the
latent chain forward from the window start, weighting each particle every week by the
likelihood of the events the tables show that week (deal registrations and activities of
each kind, certification passes among attempts, survey answers and scores), moving it with
those observed events (their lift, milestones, care) plus the simulator's own noise, shocks
and churn hazard. At as_of the filtered particles stand in for the unknown state and the
truth's own estimator (`simulation.truth_churn.conditional_paths`) is averaged over them.

The gap between the two oracles is what knowing the latent state is worth; the gap between a
model and this oracle is what the model leaves on the table. Approximations: the week
containing as_of is not filtered (the truth also conditions on its start), the initial
certifications and milestone progress are taken from the simulation, and a week's events
are counted by the week they fall in.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from features.tables import Tables
from features.windows import to_ns as to_ns_array
from simulation.dynamics import (
    CARE_KINDS,
    DAY_NS,
    KAPPA,
    KINDS,
    LEVEL,
    LIFT,
    LIFT_CERT_PASS,
    LIFT_MILESTONE,
    MILESTONE_EVERY,
    PRE_ONBOARD,
    PROGRESS_KINDS,
    SAT_FROM_ENGAGEMENT,
    SAT_FROM_QUALITY,
    SAT_KAPPA,
    SAT_LIFT_CONTACT,
    SAT_SIGMA,
    SHOCK_DOWN_MEAN,
    SHOCK_DOWN_P,
    SHOCK_DOWN_SD,
    SHOCK_UP_MEAN,
    SHOCK_UP_P,
    SHOCK_UP_SD,
    SIGMA,
    WEEK_NS,
    Latent,
    Prepared,
    State,
    level_multiplier,
    pass_probability,
    prepare,
    sigmoid,
    weekly_hazard,
)
from simulation.truth_churn import Window, conditional_paths
from simulation.truth_oracle import NAT, LatentHistory, check_week, to_ns
from simulation.weeks import SURVEY_RATE
from tierwise.errors import InvalidInput

log = logging.getLogger(__name__)
PASS = len(KINDS)  # column of certification passes in the weekly counts


@dataclass(frozen=True)
class Observed:
    """What the tables show, per partner and week: counts per kind (+ passes) and surveys."""

    counts: np.ndarray  # (weeks, n, len(KINDS) + 1) int
    survey: np.ndarray  # (weeks, n) score, NaN = no answer


def observed_events(tables: Tables, lh: LatentHistory) -> Observed:
    """Bin the deal registrations, activities and survey answers into simulated weeks."""
    ids = pd.Index(lh.partner_ids.astype(str))
    n, weeks = ids.size, lh.weeks
    counts = np.zeros((weeks, n, len(KINDS) + 1), dtype=np.int64)
    survey = np.full((weeks, n), np.nan)
    names = {**{k: i for i, k in enumerate(KINDS)}, "cert_pass": PASS}
    parts = [(tables.deals["partner_id"], tables.deals["registered_at"], pd.Series("deal"))]
    if tables.activities is not None:
        a = tables.activities
        parts.append((a["partner_id"], a["occurred_at"], a["kind"]))
    for pid, at, kind in parts:
        who, week = _locate(ids, pid, at, lh)
        k = (
            np.zeros(len(who), dtype=np.int64)
            if len(kind) == 1
            else kind.astype("str").map(names).to_numpy(dtype=np.float64, na_value=-1)
        ).astype(np.int64)
        ok = (who >= 0) & (week >= 0) & (week < weeks) & (k >= 0)
        np.add.at(counts, (week[ok], who[ok], k[ok]), 1)
    if tables.surveys is not None:
        s = tables.surveys
        who, week = _locate(ids, s["partner_id"], s["answered_at"], lh)
        ok = (who >= 0) & (week >= 0) & (week < weeks)
        survey[week[ok], who[ok]] = s["score"].to_numpy(dtype=np.float64)[ok]
    return Observed(counts, survey)


def _locate(
    ids: pd.Index, pid: pd.Series, at: pd.Series, lh: LatentHistory
) -> tuple[np.ndarray, np.ndarray]:
    who = ids.get_indexer(pd.Index(pid.astype("str")))
    ns = to_ns_array(at)
    week = np.where(ns == NAT, -1, (ns - lh.start_ns) // WEEK_NS)
    return who, week


def observable_churn_probability(
    lh: LatentHistory,
    tables: Tables,
    as_ofs: Sequence[datetime | pd.Timestamp],
    horizon_days: int,
    *,
    particles: int = 64,
    paths: int = 2,
    seed: int = 0,
) -> pd.DataFrame:
    """partner_id, as_of, p_churn for the partners active at each as_of (as the truth's), given
    only the observed events up to the start of as_of's week."""
    if particles < 2 or paths < 1:
        raise InvalidInput(f"particles must be >= 2 and paths >= 1, got {particles}, {paths}")
    stamps = sorted({to_ns(a) for a in as_ofs})
    weeks = {a: check_week(lh, a) for a in stamps}
    obs = observed_events(tables, lh)
    rng = np.random.default_rng([lh.seed, seed, particles])
    n = lh.partner_ids.size
    who = np.repeat(np.arange(n), particles)
    lat = lh.latent.take(who)
    prep = prepare(lat)
    state = _initial(lh, who, rng)
    logw = np.zeros(who.size)
    frames = []
    done = 0
    for at in stamps:
        for week in range(done, weeks[at]):
            logw += _step(state, lat, prep, obs, week, who, rng)
            state, logw = _resample(state, logw, particles, rng)
        done = max(done, weeks[at])
        state, logw = _resample(state, logw, particles, rng, always=True)  # equal weights
        frames.append(_estimate(lh, lat, state, who, at, weeks[at], horizon_days, paths, rng))
        log.info(
            "observable oracle at %s: %d partners", pd.Timestamp(at, tz="UTC"), len(frames[-1])
        )
    return pd.concat(frames, ignore_index=True)


def _initial(lh: LatentHistory, who: np.ndarray, rng: np.random.Generator) -> State:
    """The simulator's initial-state distribution (`simulation.weeks.initial_state`)."""
    lat = lh.latent.take(who)
    pre = lh.joined_ns[who] < lh.start_ns
    m = who.size
    engagement = lat.mu + np.where(pre, rng.normal(0, 0.4, m), 0.3 + rng.normal(0, 0.3, m))
    satisfaction = 0.5 * engagement + 0.6 * lat.quality + lat.sat_base + rng.normal(0, 0.3, m)
    h = lh.history
    return State(
        engagement=engagement,
        satisfaction=satisfaction,
        certs=h.certs[0, who].astype(np.int64),
        progress=h.progress[0, who].astype(np.int64),
        alive=np.ones(m, dtype=bool),
    )


def _step(
    state: State,
    lat: Latent,
    prep: Prepared,
    obs: Observed,
    week: int,
    who: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Weight every particle by the week's observed events, then move it; the log-weights."""
    n_obs = obs.counts[week][who]  # (m, kinds + 1)
    active = state.alive & (lat.join_week <= week)
    onboarded = lat.onboard_week <= week
    mult = level_multiplier(state.engagement)  # (m, levels)
    rows = np.arange(who.size)
    loglik = -(mult * prep.level_rates[onboarded.astype(np.int64), rows]).sum(axis=1) * active
    events = n_obs[:, :PASS]
    r, k = np.nonzero(events)  # few: most partners are quiet in most weeks
    rate = lat.rates[r, k] * np.where(onboarded[r], 1.0, PRE_ONBOARD[k]) * active[r]
    with np.errstate(divide="ignore"):
        np.add.at(loglik, r, events[r, k] * np.log(mult[r, LEVEL[k]] * rate))
    attempts = events[:, KINDS.index("cert_attempt")]
    passes = np.minimum(n_obs[:, PASS], attempts)
    tried = np.nonzero(attempts)[0]
    p = pass_probability(state.engagement[tried], lat.quality[tried])
    loglik[tried] += passes[tried] * np.log(p) + (attempts - passes)[tried] * np.log1p(-p)
    loglik = np.nan_to_num(loglik, nan=-np.inf)

    m = state.engagement.size
    before = state.progress // MILESTONE_EVERY
    state.progress += (events * PROGRESS_KINDS).sum(axis=1)
    rewards = state.progress // MILESTONE_EVERY - before
    lift = events @ LIFT + LIFT_CERT_PASS * passes + LIFT_MILESTONE * rewards
    care = (events * CARE_KINDS).sum(axis=1)
    u = rng.random((m, 2))
    noise = rng.standard_normal((m, 2))
    shock = np.zeros(m)
    hit = u[:, 0] < SHOCK_DOWN_P + SHOCK_UP_P
    down = u[:, 0] < SHOCK_DOWN_P
    size = rng.standard_normal(m)
    shock[hit] = np.where(
        down, SHOCK_DOWN_MEAN + SHOCK_DOWN_SD * size, SHOCK_UP_MEAN + SHOCK_UP_SD * size
    )[hit]
    drift = KAPPA * (lat.mu - state.engagement) + SIGMA * noise[:, 0]
    target = SAT_FROM_ENGAGEMENT * state.engagement + SAT_FROM_QUALITY * lat.quality
    sat_drift = (
        SAT_KAPPA * (target + lat.sat_base - state.satisfaction)
        + SAT_SIGMA * noise[:, 1]
        + SAT_LIFT_CONTACT * care
    )
    hazard = np.where(active, weekly_hazard(state, lat, onboarded), 0.0)
    state.engagement = np.where(active, state.engagement + drift + lift + shock, state.engagement)
    state.satisfaction = np.where(active, state.satisfaction + sat_drift, state.satisfaction)
    state.certs += passes
    state.alive = state.alive & ~(active & (u[:, 1] < hazard))
    return loglik + _survey_loglik(state, active, obs.survey[week][who])


def _survey_loglik(state: State, active: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Answered or not (rate from engagement) and the score (normal around satisfaction)."""
    p = np.clip(SURVEY_RATE * 2 * sigmoid(state.engagement), 1e-12, 1 - 1e-12) * active
    answered = ~np.isnan(score)
    with np.errstate(divide="ignore"):
        out = np.where(answered, np.log(p), np.log1p(-p))
    mean = 6.8 + 1.5 * state.satisfaction
    return out + np.where(answered, -0.5 * (np.nan_to_num(score) - mean) ** 2, 0.0)


def _resample(
    state: State,
    logw: np.ndarray,
    particles: int,
    rng: np.random.Generator,
    *,
    always: bool = False,
) -> tuple[State, np.ndarray]:
    """Systematic resampling of the partners whose effective sample size fell below half."""
    w = logw.reshape(-1, particles)
    top = w.max(axis=1, keepdims=True)
    lost = ~np.isfinite(top[:, 0])  # no particle explains the data: keep them, start afresh
    w = np.exp(w - np.where(np.isfinite(top), top, 0.0))
    w[lost] = 1.0
    w /= w.sum(axis=1, keepdims=True)
    ess = 1.0 / (w**2).sum(axis=1)
    redo = np.nonzero((ess < particles / 2) | always)[0]
    logw = np.log(np.maximum(w, 1e-300)).ravel()
    if redo.size:
        cum = np.cumsum(w[redo], axis=1)
        cum[:, -1] = 1.0
        u = (rng.random(redo.size)[:, None] + np.arange(particles)[None, :]) / particles
        offset = np.arange(redo.size)[:, None]  # one search over all partners at once
        flat = np.searchsorted((cum + offset).ravel(), (u + offset).ravel())
        pick = np.minimum(flat.reshape(redo.size, particles) - offset * particles, particles - 1)
        rows = (redo[:, None] * particles + pick).ravel()
        into = (redo[:, None] * particles + np.arange(particles)[None, :]).ravel()
        state = _assign(state, into, rows)
        logw[into] = -np.log(particles)
    return state, logw


def _assign(state: State, into: np.ndarray, rows: np.ndarray) -> State:
    taken = state.take(rows)
    for name in ("engagement", "satisfaction", "certs", "progress", "alive"):
        getattr(state, name)[into] = getattr(taken, name)
    return state


class _Particles:
    """Stands in for `History` in the truth's estimator: the state of each particle row."""

    def __init__(self, state: State) -> None:
        self._state = state

    def state(self, week: int, idx: np.ndarray) -> State:
        return self._state.take(idx)


def _estimate(
    lh: LatentHistory,
    lat: Latent,
    state: State,
    who: np.ndarray,
    at: int,
    week: int,
    horizon_days: int,
    paths: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The truth's estimator averaged over each active partner's particles."""
    active = (lh.joined_ns < at) & ((lh.exit_ns == NAT) | (lh.exit_ns >= at))
    rows = np.nonzero(active[who])[0]
    p_row = np.ones(rows.size)  # particles already gone quiet: the label is 1
    alive = np.nonzero(state.alive[rows])[0]
    if alive.size:
        pick = rows[alive]
        window = Window(start_ns=lh.start_ns, week=week, at=at, stop=at + horizon_days * DAY_NS)
        values = conditional_paths(
            lat.take(pick),
            _Particles(state.take(pick)),  # type: ignore[arg-type]
            np.arange(pick.size),
            window,
            np.full(pick.size, paths),
            rng,
        )
        p_row[alive] = values.reshape(-1, paths).mean(axis=1)
    partner = who[rows]
    p = pd.Series(p_row).groupby(partner).mean()
    return pd.DataFrame(
        {
            "partner_id": lh.partner_ids[p.index.to_numpy()].astype(str),
            "as_of": pd.Timestamp(at, tz="UTC"),
            "p_churn": p.to_numpy(),
        }
    )
