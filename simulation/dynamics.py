"""The simulator's weekly dynamics: one `step` shared by the simulation and the churn oracle.

Each partner carries a latent **engagement** (drifting towards its own long-run level, with
noise and occasional shocks, lifted by manager contact, training, reviews, certifications and
milestone rewards) and a latent **satisfaction** (pulled towards a level set by engagement and
partner quality). Engagement sets the weekly rate of every kind of event; low engagement and
low satisfaction raise the weekly churn hazard. A churned partner goes quiet for good.

`step` advances any number of rows by one week: the simulation calls it with one row per
partner, the Monte-Carlo oracle in `simulation.truth` with one row per (partner, path) — so the
ground truth uses exactly the simulator's dynamics.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

WEEK_NS = 7 * 86_400 * 1_000_000_000
DAY_NS = 86_400 * 1_000_000_000

# Event kinds drawn each week (cert_pass follows a cert_attempt), grouped by how strongly
# they follow engagement: high (deal, lead, material), mid (training … review), low (contact).
KINDS = (
    "deal",
    "lead_registered",
    "material_download",
    "training",
    "event",
    "cert_attempt",
    "business_review",
    "manager_contact",
)
DEAL, LEAD, MATERIAL, TRAINING, EVENT, CERT_ATTEMPT, REVIEW, CONTACT = range(len(KINDS))
# Kinds that show the partner is alive (the churn label ignores the manager's own contacts).
PARTNER_KINDS = np.array([k != "manager_contact" for k in KINDS])
PROGRESS_KINDS = np.isin(np.arange(len(KINDS)), [DEAL, LEAD])
CARE_KINDS = np.isin(np.arange(len(KINDS)), [CONTACT, REVIEW])

# Rate multiplier floor + (2 - floor)·sigmoid(beta·engagement), beta per sensitivity level.
RATE_FLOOR = 0.1
SENSITIVITY = np.array([1.3, 1.0, 0.4])  # high, mid, low
LEVEL = np.array([0, 0, 0, 1, 1, 1, 1, 2])  # level of each kind (kinds are sorted by level)
# Rate multipliers before onboarding is finished (no deals; lots of training and hand-holding).
PRE_ONBOARD = np.array([0.0, 0.2, 2.0, 3.0, 0.8, 0.5, 0.3, 2.0])
# Engagement lift per event of each kind.
LIFT = np.array([0.0, 0.0, 0.005, 0.03, 0.03, 0.01, 0.08, 0.05])
LIFT_CERT_PASS = 0.10
LIFT_MILESTONE = 0.12
MILESTONE_EVERY = 5  # registrations + leads per milestone reward (bonus, listing, tickets)
SAT_LIFT_CONTACT = 0.03  # satisfaction lift per manager contact or business review

KAPPA = 0.03  # weekly pull of engagement back to the partner's own level
SIGMA = 0.07  # weekly engagement noise
SHOCK_DOWN_P, SHOCK_DOWN_MEAN, SHOCK_DOWN_SD = 0.01, -1.0, 0.3
SHOCK_UP_P, SHOCK_UP_MEAN, SHOCK_UP_SD = 0.005, 0.5, 0.2
SAT_KAPPA, SAT_SIGMA = 0.10, 0.08
SAT_FROM_ENGAGEMENT, SAT_FROM_QUALITY = 0.5, 0.6

HAZARD_BASE = -6.5  # logit of the weekly churn hazard at engagement 0, satisfaction 0
HAZARD_ENGAGEMENT, HAZARD_SATISFACTION, HAZARD_NOT_ONBOARDED = -1.5, -0.6, 0.9
EXIT_DELAY_DAYS = 30.0  # mean delay from going quiet to a formal exit (exponential)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class Latent:
    """Per-partner traits the tables never show (one row per partner, or per partner x path)."""

    mu: np.ndarray  # long-run engagement level
    quality: np.ndarray  # shows in acceptance, wins, satisfaction, certification
    sat_base: np.ndarray  # partner's own satisfaction offset
    rates: np.ndarray  # (n, len(KINDS)) weekly base rate of each kind at engagement 0
    hazard_bias: np.ndarray  # type/profile offset of the churn logit
    exit_prob: np.ndarray  # chance a churned partner also exits formally
    join_week: np.ndarray  # week index the partner is in the program from (< 0: before)
    onboard_week: np.ndarray  # week index onboarding is finished

    def take(self, idx: np.ndarray) -> Latent:
        return Latent(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    def arrays(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class State:
    """The dynamic state at the start of a week."""

    engagement: np.ndarray
    satisfaction: np.ndarray
    certs: np.ndarray  # certifications passed so far
    progress: np.ndarray  # registrations + leads so far (milestones every MILESTONE_EVERY)
    alive: np.ndarray  # False once churned (quiet for good)

    def take(self, idx: np.ndarray) -> State:
        return State(**{f.name: getattr(self, f.name)[idx].copy() for f in fields(self)})


@dataclass(frozen=True)
class Week:
    """What happened in one step: one entry per event (row, kind), and per row."""

    rows: np.ndarray  # row of each event
    kinds: np.ndarray  # kind of each event (index into KINDS)
    passed: np.ndarray  # per event: a cert_attempt that passed
    partner_events: np.ndarray  # per row: events that show the partner is alive
    churned: np.ndarray  # per row: churned at the end of this week
    intensity: np.ndarray  # (n, 3) per row: expected events per sensitivity level, unscaled
    hazard: np.ndarray  # per row: the week's churn probability (0 when not active)


@dataclass(frozen=True)
class Prepared:
    """Rates of a Latent arranged for `step` (computed once per Latent); index 0 of the first
    axis = before onboarding, 1 = onboarded."""

    level_rates: np.ndarray  # (2, n, 3) base rates summed per sensitivity level
    within: np.ndarray  # (2, n, K) cumulative share of each kind within its level
    who: np.ndarray | None = None  # partner of each simulated row (None: row i = partner i)

    def rows(self, who: np.ndarray) -> Prepared:
        """The same rates for rows that repeat partners (e.g. one row per Monte-Carlo path)."""
        return Prepared(level_rates=self.level_rates, within=self.within, who=who)


LEVEL_BOUNDS = [
    (int(np.flatnonzero(np.equal(LEVEL, lv))[0]), int(np.count_nonzero(np.equal(LEVEL, lv))))
    for lv in range(len(SENSITIVITY))
]  # (first kind, number of kinds) per level


def prepare(latent: Latent) -> Prepared:
    rates = np.stack([latent.rates * PRE_ONBOARD, latent.rates])  # (2, n, K)
    levels = np.eye(len(SENSITIVITY))[LEVEL]  # (K, 3)
    level_rates = rates @ levels
    per_kind_level = level_rates[:, :, LEVEL]
    within = np.zeros_like(rates)
    for first, count in LEVEL_BOUNDS:
        block = slice(first, first + count)
        within[:, :, block] = np.cumsum(rates[:, :, block], axis=2) / np.maximum(
            per_kind_level[:, :, block], 1e-300
        )
    return Prepared(level_rates=level_rates, within=within)


def level_multiplier(engagement: np.ndarray) -> np.ndarray:
    """(n, 3) rate multiplier of each sensitivity level: a floor plus an S-curve in
    engagement: about 1 at engagement 0, at most 2."""
    return RATE_FLOOR + (2.0 - RATE_FLOOR) * sigmoid(engagement[:, None] * SENSITIVITY[None, :])


def pass_probability(engagement: np.ndarray, quality: np.ndarray) -> np.ndarray:
    return sigmoid(0.3 + 0.6 * quality + 0.4 * engagement)


def weekly_hazard(state: State, latent: Latent, onboarded: np.ndarray) -> np.ndarray:
    logit = (
        HAZARD_BASE
        + latent.hazard_bias
        + HAZARD_ENGAGEMENT * state.engagement
        + HAZARD_SATISFACTION * state.satisfaction
        + HAZARD_NOT_ONBOARDED * ~onboarded
    )
    return sigmoid(logit)


def draw_events(
    state: State,
    prep: Prepared,
    active: np.ndarray,
    onboarded: np.ndarray,
    rng: np.random.Generator,
    level_scale: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, kind) of every event this week: Poisson counts of each kind, drawn as one Poisson
    total per row, split by level, then by kind within the level (the same distribution).

    Also returns the (n, 3) expected events per level. `level_scale` (3,) thins the events
    of each level (a Poisson thinning: each event kept with that probability); the expected
    events returned are before thinning.
    """
    stage = onboarded.astype(np.int64)
    who = np.arange(stage.size) if prep.who is None else prep.who
    intensity = level_multiplier(state.engagement) * prep.level_rates[stage, who]
    intensity *= active[:, None]
    lam = intensity if level_scale is None else intensity * level_scale
    total = lam @ np.ones(len(SENSITIVITY))
    size = rng.poisson(total)
    hit = np.nonzero(size)[0]
    rows = np.repeat(hit, size[hit])
    u = rng.random((rows.size, 2))
    lam_rows = lam[rows]
    pick = u[:, 0] * total[rows]
    first_two = lam_rows[:, 0] + lam_rows[:, 1]
    level = (pick >= lam_rows[:, 0]).astype(np.int64) + (pick >= first_two)
    kinds = np.empty(rows.size, dtype=np.int64)
    for lv, (first, count) in enumerate(LEVEL_BOUNDS):
        at = np.nonzero(level == lv)[0]
        if count == 1:
            kinds[at] = first
            continue
        r = rows[at]
        cum = prep.within[stage[r], who[r], first : first + count - 1]
        kinds[at] = first + (u[at, 1][:, None] >= cum).sum(axis=1)
    return rows, kinds, intensity


def step(
    state: State,
    latent: Latent,
    prep: Prepared,
    week: int,
    rng: np.random.Generator,
    level_scale: np.ndarray | None = None,
) -> Week:
    """Advance every row by one week, in place; return the week's events and churns.

    `level_scale` (3,) keeps each event of a sensitivity level with that probability (the
    churn oracle uses it to simulate a week with the events it conditions away removed).
    """
    n = state.engagement.shape[0]
    active = state.alive & (latent.join_week <= week)
    onboarded = latent.onboard_week <= week
    rows, kinds, intensity = draw_events(state, prep, active, onboarded, rng, level_scale)
    attempt = kinds == CERT_ATTEMPT
    passed = np.zeros(rows.size, dtype=bool)
    passed[attempt] = rng.random(int(attempt.sum())) < pass_probability(
        state.engagement[rows[attempt]], latent.quality[rows[attempt]]
    )
    passes = np.bincount(rows[passed], minlength=n)
    before = state.progress // MILESTONE_EVERY
    state.progress += np.bincount(rows[PROGRESS_KINDS[kinds]], minlength=n)
    rewards = state.progress // MILESTONE_EVERY - before
    lift = (
        np.bincount(rows, weights=LIFT[kinds], minlength=n)
        + LIFT_CERT_PASS * passes
        + LIFT_MILESTONE * rewards
    )
    care = np.bincount(rows[CARE_KINDS[kinds]], minlength=n)

    u = rng.random((n, 2))
    noise = rng.standard_normal((n, 2))
    shock = np.zeros(n)
    hit = np.nonzero(u[:, 0] < SHOCK_DOWN_P + SHOCK_UP_P)[0]
    if hit.size:
        down = u[hit, 0] < SHOCK_DOWN_P
        size = rng.standard_normal(hit.size)
        shock[hit] = np.where(
            down, SHOCK_DOWN_MEAN + SHOCK_DOWN_SD * size, SHOCK_UP_MEAN + SHOCK_UP_SD * size
        )
    drift = KAPPA * (latent.mu - state.engagement) + SIGMA * noise[:, 0]
    target = SAT_FROM_ENGAGEMENT * state.engagement + SAT_FROM_QUALITY * latent.quality
    sat_drift = (
        SAT_KAPPA * (target + latent.sat_base - state.satisfaction)
        + SAT_SIGMA * noise[:, 1]
        + SAT_LIFT_CONTACT * care
    )
    hazard = np.where(active, weekly_hazard(state, latent, onboarded), 0.0)
    churned = active & (u[:, 1] < hazard)

    state.engagement = np.where(active, state.engagement + drift + lift + shock, state.engagement)
    state.satisfaction = np.where(active, state.satisfaction + sat_drift, state.satisfaction)
    state.certs += passes
    state.alive = state.alive & ~churned
    partner_events = np.bincount(rows[PARTNER_KINDS[kinds]], minlength=n)
    return Week(
        rows=rows,
        kinds=kinds,
        passed=passed,
        partner_events=partner_events,
        churned=churned,
        intensity=intensity,
        hazard=hazard,
    )
