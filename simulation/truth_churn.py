"""Monte-Carlo estimators of the churn truth for one block of partners, with the simulator's
own `step` (so the truth uses exactly the simulator's dynamics).

The label for a partner alive at the start of week w0 (the week containing `as_of`): 1 when
it has no partner event in the window [as_of, stop) — every event counts but manager contacts
— or when it goes quiet in the window and exits formally before `stop`. A partner that goes
quiet in week t (after that week's events) exits with probability
`exit_prob · (1 − exp(−(stop − end of week t) / EXIT_DELAY))`, written e_t below. Events fall
uniformly in their week, so an event of a week is in the window with probability c_t, the
share of the week the window covers.

Both estimators return one value per (partner, path) whose mean over paths is an unbiased
estimate of P(label = 1):

- `plain_paths`: the label of a simulated path (the original oracle, kept as the reference).
- `conditional_paths` (the default): a Rao-Blackwellised version, the label's expectation
  given a simulated engagement path. With N the number of in-window partner events and X the
  formal exit in the window, label = 1{N = 0}·(1 − X) + X, so P(label) = E[1{N = 0}(1 − X)]
  + E[X], and each term is averaged analytically over what it can be:
    * a *quiet* path, simulated with the in-window partner events removed (a Poisson
      thinning), weighted by the probability q_t = exp(−c_t Λ_t) of having none (Λ_t: the
      week's expected partner events) and by the churn hazard h_t; with A_t = Π_{s<t} q_s
      (1 − h_s): E[1{N = 0}(1 − X)] = E[Σ_t A_t q_t h_t (1 − e_t) + A_end];
    * a *full* path (all events, as in the simulator) that never churns, with
      S_t = Π_{s<t} (1 − h_s): E[X] = E[Σ_t S_t h_t e_t].
  Neither draws the churn or the event counts it averages over, so one path carries far more
  information than a 0/1 label (the same standard error with ~50x fewer paths for the hardest
  partners, far fewer still for most). A quiet path whose weight A has fallen below
  `SETTLED` (its partner has almost surely shown a sign of life) is dropped: the most it
  could still add is A, so the estimate moves by < 1e-9.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from simulation.dynamics import (
    DAY_NS,
    EXIT_DELAY_DAYS,
    LEVEL,
    PARTNER_KINDS,
    SENSITIVITY,
    WEEK_NS,
    Latent,
    Prepared,
    State,
    prepare,
    step,
)
from simulation.weeks import History

SETTLED = 1e-9  # a quiet path's weight below which it can no longer move the estimate
COMPACT_SHARE = 0.75  # drop settled rows once fewer than this share of the rows is left


def partner_levels() -> np.ndarray:
    """Which sensitivity levels hold only partner events (the others only manager contacts);
    the quiet path relies on no level mixing the two."""
    levels = np.asarray(LEVEL)
    partner = np.array([bool(PARTNER_KINDS[levels == lv].all()) for lv in range(len(SENSITIVITY))])
    mixed = [
        lv
        for lv in range(len(SENSITIVITY))
        if PARTNER_KINDS[levels == lv].any() and not partner[lv]
    ]
    if mixed:
        raise RuntimeError(f"sensitivity levels {mixed} mix partner and manager events")
    return partner


PARTNER_LEVELS = partner_levels()  # levels 0 and 1: partner events; 2: manager contacts


@dataclass(frozen=True)
class Window:
    """The label window [at, stop), inside the simulated weeks from `start_ns`."""

    start_ns: int
    week: int  # the week containing `at`; its start state is what the truth conditions on
    at: int
    stop: int

    def weeks(self) -> Iterator[tuple[int, float, float]]:
        """(week, share of the week inside the window, ns left in the window after the week)."""
        w = self.week
        while self.start_ns + w * WEEK_NS < self.stop:
            begin = self.start_ns + w * WEEK_NS
            end = begin + WEEK_NS
            covered = (min(end, self.stop) - max(begin, self.at)) / WEEK_NS
            yield w, covered, float(max(self.stop - end, 0))
            w += 1


def exit_share(exit_prob: np.ndarray, left_ns: float) -> np.ndarray:
    """P(a partner going quiet at the end of a week exits within the `left_ns` after it)."""
    if left_ns <= 0:
        return np.zeros_like(exit_prob)
    return exit_prob * -np.expm1(-left_ns / (EXIT_DELAY_DAYS * DAY_NS))


def summarize(values: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per partner: the mean of its paths' values and its standard error (NaN: one path)."""
    who = np.repeat(np.arange(counts.size), counts)
    mean = np.bincount(who, weights=values, minlength=counts.size) / counts
    squares = np.bincount(who, weights=(values - mean[who]) ** 2, minlength=counts.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.where(counts > 1, np.sqrt(squares / (counts - 1) / counts), np.nan)
    return mean, se


def _rows(
    latent: Latent, history: History, partners: np.ndarray, week: int, counts: np.ndarray
) -> tuple[State, Latent, Prepared]:
    """One row per (partner, path), partner-major, and the rates for `step`."""
    block = latent.take(partners)
    who = np.repeat(np.arange(partners.size), counts)
    state = history.state(week, partners[who])
    return state, block.take(who), prepare(block).rows(who)


def plain_paths(
    latent: Latent,
    history: History,
    partners: np.ndarray,
    window: Window,
    counts: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Simulated labels, `counts[i]` paths of partner i, partner-major: 1, or the chance of
    a formal exit in the window when the path had an event (the reference estimator)."""
    state, lat, prep = _rows(latent, history, partners, window.week, counts)
    n = state.engagement.size
    events = np.zeros(n, dtype=np.int64)
    exit_p = np.zeros(n)
    for w, covered, left in window.weeks():
        done = step(state, lat, prep, w, rng)
        if covered >= 1.0:
            events += done.partner_events
        else:  # events fall uniformly in the week: keep each with the covered share
            keep = PARTNER_KINDS[done.kinds] & (rng.random(done.rows.size) < covered)
            events += np.bincount(done.rows[keep], minlength=n)
        if left > 0 and done.churned.any():
            c = done.churned
            exit_p[c] = exit_share(lat.exit_prob[c], left)
    return np.where(events == 0, 1.0, exit_p)


def conditional_paths(
    latent: Latent,
    history: History,
    partners: np.ndarray,
    window: Window,
    counts: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Rao-Blackwellised path values (see the module docstring), `counts[i]` paths of
    partner i, partner-major."""
    quiet = _quiet_term(latent, history, partners, window, counts, rng)
    return quiet + _exit_term(latent, history, partners, window, counts, rng)


def _quiet_term(
    latent: Latent,
    history: History,
    partners: np.ndarray,
    window: Window,
    counts: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Per row: E[1{no in-window partner event} · (1 − formal exit in the window) | path]."""
    state, lat, prep = _rows(latent, history, partners, window.week, counts)
    n = state.engagement.size
    out = np.zeros(n)
    live = np.arange(n)  # rows still simulated (out[live[i]] is row i's running sum)
    weight = np.ones(n)  # A: P(no counted event and no churn so far | path)
    for w, covered, left in window.weeks():
        # keep only the events outside the window share: the in-window ones are conditioned
        # away (there are none on the paths this term counts)
        scale = np.where(PARTNER_LEVELS, 1.0 - covered, 1.0)
        state.alive = np.ones(live.size, dtype=bool)  # churn enters through the hazard
        done = step(state, lat, prep, w, rng, level_scale=scale)
        none = np.exp(-covered * done.intensity[:, PARTNER_LEVELS].sum(axis=1))
        h = done.hazard
        out[live] += weight * none * h * (1.0 - exit_share(lat.exit_prob, left))
        weight *= none * (1.0 - h)
        settled = weight < SETTLED
        if settled.mean() > 1.0 - COMPACT_SHARE:
            keep = np.nonzero(~settled)[0]
            live, weight = live[keep], weight[keep]
            state, lat = state.take(keep), lat.take(keep)
            prep = Prepared(prep.level_rates, prep.within, _who(prep, keep))
    out[live] += weight
    return out


def _exit_term(
    latent: Latent,
    history: History,
    partners: np.ndarray,
    window: Window,
    counts: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Per row: E[formal exit within the window | a full path that never churns]."""
    state, lat, prep = _rows(latent, history, partners, window.week, counts)
    n = state.engagement.size
    out = np.zeros(n)
    survival = np.ones(n)
    for w, _covered, left in window.weeks():
        if left <= 0:  # quiet in the window's last week: the exit comes after it
            break
        state.alive = np.ones(n, dtype=bool)
        done = step(state, lat, prep, w, rng)
        out += survival * done.hazard * exit_share(lat.exit_prob, left)
        survival *= 1.0 - done.hazard
    return out


def _who(prep: Prepared, keep: np.ndarray) -> np.ndarray:
    return keep if prep.who is None else prep.who[keep]
