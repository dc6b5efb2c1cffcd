"""Run the weekly dynamics over the whole window, keeping the latent history and the events."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulation.dynamics import (
    CERT_ATTEMPT,
    WEEK_NS,
    Latent,
    State,
    level_multiplier,
    prepare,
    sigmoid,
    step,
)
from simulation.partners import YEAR_NS, Profiles

SURVEY_RATE = 0.05  # weekly chance an engaged partner answers the partner survey


@dataclass(frozen=True)
class History:
    """Latent state at the start of every week (row W = the state at the window end)."""

    engagement: np.ndarray  # (W + 1, n) float32
    satisfaction: np.ndarray  # (W + 1, n) float32
    certs: np.ndarray  # (W + 1, n) int32
    progress: np.ndarray  # (W + 1, n) int32
    alive: np.ndarray  # (W + 1, n) bool
    churn_week: np.ndarray  # (n,) week the partner went quiet (at its end); -1 = never

    def state(self, week: int, idx: np.ndarray) -> State:
        return State(
            engagement=self.engagement[week, idx].astype(np.float64),
            satisfaction=self.satisfaction[week, idx].astype(np.float64),
            certs=self.certs[week, idx].astype(np.int64),
            progress=self.progress[week, idx].astype(np.int64),
            alive=self.alive[week, idx].copy(),
        )


@dataclass(frozen=True)
class Events:
    """Event rows from the weekly loop: partner index, week and kind (index into KINDS);
    `pass_of` holds, for every certification passed, the row of the attempt it follows."""

    partner: np.ndarray
    week: np.ndarray
    kind: np.ndarray
    pass_of: np.ndarray
    survey_partner: np.ndarray
    survey_week: np.ndarray
    survey_score: np.ndarray
    initial_certs: np.ndarray  # (n,) certifications passed before the window


def initial_state(profiles: Profiles, *, start_ns: int, rng: np.random.Generator) -> State:
    """State when each partner enters the simulation: at its join, or at the window start."""
    lat = profiles.latent
    n = profiles.n
    pre = profiles.joined_ns < start_ns
    engagement = lat.mu + np.where(pre, rng.normal(0.0, 0.4, n), 0.3 + rng.normal(0.0, 0.3, n))
    satisfaction = 0.5 * engagement + 0.6 * lat.quality + lat.sat_base + rng.normal(0, 0.3, n)
    tenure_years = np.maximum(start_ns - profiles.joined_ns, 0) / YEAR_NS
    cert_rate = lat.rates[:, CERT_ATTEMPT] * 52 * 0.6 * level_multiplier(engagement)[:, 1]
    certs = rng.poisson(tenure_years * cert_rate).astype(np.int64)
    progress = np.where(pre, rng.integers(0, 5, n), 0).astype(np.int64)
    return State(
        engagement=engagement,
        satisfaction=satisfaction,
        certs=certs,
        progress=progress,
        alive=np.ones(n, dtype=bool),
    )


def run_weeks(
    profiles: Profiles, state: State, *, weeks: int, rng: np.random.Generator
) -> tuple[History, Events]:
    """Step every partner through `weeks` weeks (a loop over weeks, vectorized over partners)."""
    lat: Latent = profiles.latent
    n = profiles.n
    hist = {
        name: np.empty((weeks + 1, n), dtype=dt)
        for name, dt in (
            ("engagement", np.float32),
            ("satisfaction", np.float32),
            ("certs", np.int32),
            ("progress", np.int32),
            ("alive", bool),
        )
    }
    churn_week = np.full(n, -1, dtype=np.int64)
    initial_certs = state.certs.copy()
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # partner, kind, pass_of
    surveys: list[tuple[np.ndarray, np.ndarray]] = []
    offset = 0
    prep = prepare(lat)
    for week in range(weeks):
        _record(hist, week, state)
        active = state.alive & (lat.join_week <= week)
        done = step(state, lat, prep, week, rng)
        churn_week[done.churned] = week
        parts.append((done.rows, done.kinds, offset + np.nonzero(done.passed)[0]))
        offset += done.rows.size
        answered = np.nonzero(
            active & (rng.random(n) < SURVEY_RATE * 2 * sigmoid(state.engagement))
        )[0]
        score = np.clip(
            np.round(
                6.8 + 1.5 * state.satisfaction[answered] + rng.normal(0.0, 1.0, answered.size)
            ),
            0,
            10,
        )
        surveys.append((answered, score))
    _record(hist, weeks, state)
    events = Events(
        partner=_cat([p for p, _, _ in parts]),
        week=np.repeat(np.arange(weeks), [p.size for p, _, _ in parts]),
        kind=_cat([k for _, k, _ in parts]),
        pass_of=_cat([s for _, _, s in parts]),
        survey_partner=_cat([a for a, _ in surveys]),
        survey_week=np.repeat(np.arange(weeks), [a.size for a, _ in surveys]),
        survey_score=_cat([s for _, s in surveys], dtype=np.float64),
        initial_certs=initial_certs,
    )
    return History(churn_week=churn_week, **hist), events


def _cat(arrays: list[np.ndarray], dtype: type = np.int64) -> np.ndarray:
    return np.concatenate(arrays).astype(dtype) if arrays else np.empty(0, dtype)


def _record(hist: dict[str, np.ndarray], week: int, state: State) -> None:
    hist["engagement"][week] = state.engagement
    hist["satisfaction"][week] = state.satisfaction
    hist["certs"][week] = state.certs
    hist["progress"][week] = state.progress
    hist["alive"][week] = state.alive


def event_times(week: np.ndarray, *, start_ns: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform instants within each event's week, int64 ns."""
    offsets = (rng.random(week.size) * WEEK_NS).astype(np.int64)
    return start_ns + week.astype(np.int64) * WEEK_NS + offsets
