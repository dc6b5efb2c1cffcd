"""Actions that change partners: true, heterogeneous effects and simulated managers.

The program simulator (`simulation.program`) has no manager actions with effects, so nobody
could say whether a weekly plan is good. Here a `World` starts from a simulated program at
an as_of (its feature frame and the simulator's true churn probability and latent state) and
lets actions change partners week by week:

- **retention** actions (retention_call, reengage_dormant, scheduled_checkin,
  recognise_milestone) cut a partner's weekly churn hazard by a factor for some weeks;
- **growth** actions (send_enablement, push_certification, nudge_next_tier, invite_jbp,
  deal_desk_help) add revenue over the year, if the partner stays.

Each partner × action has its own true effect (`World.effects`, the recorded truth), drawn
from the partner's latent engagement and satisfaction — which no planner sees — and noise.
`true_gain` is the expected gain in dollars over the year of doing an action now, exactly
(what the oracle planner ranks by, and what value captured is measured in). Managers accept
more of what looks urgent and do most of what they accept (`manager_decisions`); partners
respond to a done action more often the more it does for them (`responds`), and show it in
their features (`apply_done`) — what a learned propensity learns from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# action → (kind, mean effect, weeks of protection for retention kinds)
EFFECTS: dict[str, tuple[str, float, int]] = {
    "retention_call": ("retention", 0.35, 13),
    "reengage_dormant": ("retention", 0.25, 13),
    "scheduled_checkin": ("retention", 0.05, 13),
    "recognise_milestone": ("retention", 0.10, 13),
    "send_enablement": ("growth", 1.0, 0),  # × avg deal value × win rate
    "push_certification": ("growth", 0.03, 0),  # × revenue
    "nudge_next_tier": ("growth", 0.05, 0),  # × open pipeline × acceptance × win rate
    "invite_jbp": ("growth", 0.05, 0),  # × revenue
    "deal_desk_help": ("growth", 0.1, 0),  # × rejected registrations × deal value × win rate
}
WEEKS_PER_YEAR = 52
HORIZON_WEEKS = 13  # the churn risk the models predict is over 90 days


@dataclass
class World:
    """Partners as the planners see them (``frame``) and as they are (``truth``)."""

    frame: pd.DataFrame  # the feature frame, one row per partner still in the program
    truth: pd.DataFrame  # partner_id index: hazard (weekly), engagement, satisfaction, revenue
    effects: pd.DataFrame  # partner_id index, one column per action: its true effect size
    seed: int
    protection: pd.DataFrame = field(init=False)  # partner_id → factor, weeks left
    gone: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.protection = pd.DataFrame({"factor": 0.0, "weeks": 0}, index=self.truth.index)

    @property
    def alive(self) -> pd.DataFrame:
        return self.frame.loc[~self.frame["partner_id"].isin(self.gone)].reset_index(drop=True)


def build_world(
    frame: pd.DataFrame, churn_90d: pd.Series, state: pd.DataFrame, *, seed: int
) -> World:
    """A world from a feature frame, the true 90-day churn probability and the latent state
    (`Truth.churn_probability`, `Truth.state`) of the same partners at the same as_of."""
    exited = frame["exited"].astype("boolean").fillna(False).astype(bool)
    frame = frame.loc[~exited].reset_index(drop=True)
    pids = frame["partner_id"].astype(str)
    p90 = churn_90d.reindex(pids).fillna(0.0).clip(0.0, 0.995).to_numpy()
    st = state.reindex(pids)
    truth = pd.DataFrame(
        {
            "hazard": -np.log1p(-p90) / HORIZON_WEEKS,
            "p_churn_90d": p90,
            "engagement": st["engagement"].fillna(0.0).to_numpy(),
            "satisfaction": st["satisfaction"].fillna(0.0).to_numpy(),
            "quiet": ~st["alive"].fillna(False).astype(bool).to_numpy(),
        },
        index=pd.Index(pids, name="partner_id"),
    )
    return World(frame, truth, draw_effects(truth, seed=seed), seed)


def draw_effects(truth: pd.DataFrame, *, seed: int) -> pd.DataFrame:
    """Each partner's true effect per action: the action's mean effect, scaled by what the
    partner's latent state makes it respond to, with noise (mean scale about 1)."""
    rng = np.random.default_rng([seed, 18])
    n = len(truth)
    sat, eng = truth["satisfaction"].to_numpy(), truth["engagement"].to_numpy()
    quiet = truth["quiet"].to_numpy()
    out = {}
    for action, (kind, mean, _) in EFFECTS.items():
        latent = 0.7 * sat if kind == "retention" else 0.7 * eng
        scale = np.exp(latent - 0.245 + rng.normal(0.0, 0.5, n) - 0.125)
        if action == "reengage_dormant":
            scale = scale * np.where(quiet, 1.6, 0.6)  # it revives the quiet ones
        elif kind == "retention":
            scale = scale * np.where(quiet, 0.3, 1.0)  # a call rarely reaches a gone partner
        effect = mean * scale
        out[action] = np.clip(effect, 0.0, 0.95) if kind == "retention" else effect
    return pd.DataFrame(out, index=truth.index)


def _num(frame: pd.DataFrame, name: str) -> np.ndarray:
    return pd.to_numeric(frame[name]).to_numpy(dtype=np.float64, na_value=np.nan)


def true_gain(world: World, candidates: pd.DataFrame) -> np.ndarray:
    """The expected gain in dollars over the year of doing each candidate (partner_id,
    action_id) now, under the true hazard and effects (protection already given counts)."""
    frame = world.frame.set_index(world.frame["partner_id"].astype(str))
    pids = candidates["partner_id"].astype(str)
    rows = frame.reindex(pids)
    truth = world.truth.reindex(pids)
    hazard = truth["hazard"].to_numpy() * (
        1.0 - world.protection["factor"].reindex(pids).to_numpy()
    )
    revenue = np.nan_to_num(_num(rows, "revenue_won_365d"))
    deal = np.nan_to_num(_num(rows, "avg_deal_value_365d"))
    win = np.nan_to_num(_num(rows, "win_rate_365d"))
    pipeline = np.nan_to_num(_num(rows, "open_pipeline"))
    registered = np.nan_to_num(_num(rows, "deals_registered_90d"))
    accept = np.nan_to_num(_num(rows, "acceptance_rate_365d"), nan=0.5)
    stays = np.exp(-hazard * WEEKS_PER_YEAR / 2)  # growth shows up over the year, if it stays
    out = np.zeros(len(candidates))
    actions = candidates["action_id"].astype(str).to_numpy()
    for action, (kind, _, weeks) in EFFECTS.items():
        at = actions == action
        if not at.any():
            continue
        e = world.effects[action].reindex(pids[at]).to_numpy()
        h = hazard[at]
        if kind == "retention":
            out[at] = revenue[at] * (np.exp(-h * (1 - e) * weeks) - np.exp(-h * weeks))
            continue
        base = {
            "send_enablement": deal * win,
            "push_certification": revenue,
            "nudge_next_tier": pipeline * accept * win,
            "invite_jbp": revenue,
            "deal_desk_help": (1 - accept) * registered * 4 * deal * win,
        }[action][at]
        out[at] = base * e * stays[at]
    return out


def manager_decisions(plan: pd.DataFrame, *, seed: int, week: int) -> pd.DataFrame:
    """Each planned slot's fate: accepted or dismissed, and done if accepted. Managers accept
    more of what looks urgent (a high churn risk, a high rank in their list) and do 80% of
    what they accept. Draws depend on (partner, action, week) only, so every planner meets
    the same manager."""
    risk = np.nan_to_num(plan["churn_risk"].to_numpy(dtype=np.float64), nan=0.0)
    rank = plan["manager_rank"].to_numpy(dtype=np.float64)
    p_accept = np.clip(0.45 + 0.4 * risk + 0.15 * (rank <= 3), 0.0, 0.95)
    u = _uniform(plan, seed=seed, week=week)
    accepted = u[:, 0] < p_accept
    done = accepted & (u[:, 1] < 0.8)
    status = np.where(done, "done", np.where(accepted, "accepted", "dismissed"))
    return plan.assign(status=status)


def _uniform(plan: pd.DataFrame, *, seed: int, week: int) -> np.ndarray:
    keys = (plan["partner_id"].astype(str) + "|" + plan["action_id"].astype(str)).to_numpy()
    hashed = pd.util.hash_array(keys.astype(object), hash_key=f"{seed:016d}"[:16])
    rng = np.random.default_rng([seed, week])
    offsets = rng.random(2)
    base = (hashed % np.uint64(2**32)).astype(np.float64) / 2**32
    return np.column_stack([(base + offsets[0]) % 1.0, (base * 7.0 + offsets[1]) % 1.0])


RESPONSE_RATE = 0.5  # P(a partner responds to a done action) at its action's mean effect
# what a partner that responds shows in its features: (column, step); None = set to -3.5 days
# (days since the last activity: an activity in the middle of the coming week)
RESPONSE_FEATURES: dict[str, list[tuple[str, float | None]]] = {
    "retention_call": [("days_since_last_activity", None)],
    "reengage_dormant": [("days_since_last_activity", None)],
    "scheduled_checkin": [("days_since_last_activity", None)],
    "recognise_milestone": [("days_since_last_activity", None)],
    "push_certification": [
        ("certified_people", 1.0),
        ("certified_staff", 1.0),
        ("cert_passes_90d", 1.0),
    ],
    "send_enablement": [("materials_downloaded_90d", 3.0)],
    "invite_jbp": [("business_reviews_365d", 1.0)],
    "nudge_next_tier": [("deals_registered_90d", 1.0)],
    "deal_desk_help": [("deals_accepted_90d", 1.0)],
}


def responds(world: World, done: pd.DataFrame, *, seed: int, week: int) -> np.ndarray:
    """Per done action: does the partner respond (a sign of life, a pass, a registration…)?
    More often the larger its true effect: P = RESPONSE_RATE × effect / the action's mean
    effect (at most 1), so what managers see respond is a noisy view of what works. Draws
    depend on (partner, action, week) only, as in `manager_decisions`."""
    if done.empty:
        return np.zeros(0, dtype=bool)
    pids = done["partner_id"].astype(str)
    actions = done["action_id"].astype(str).to_numpy()
    p = np.zeros(len(done))
    for action, (_, mean, _) in EFFECTS.items():
        at = actions == action
        if at.any():
            e = world.effects[action].reindex(pids[at]).to_numpy()
            p[at] = np.clip(RESPONSE_RATE * e / mean, 0.0, 1.0)
    u = _uniform(done, seed=seed + 1, week=week)[:, 0]
    return u < p


def apply_done(world: World, done: pd.DataFrame, responded: np.ndarray | None = None) -> None:
    """Done actions change the partner: retention ones protect it for some weeks (the true
    effect, whether or not the partner shows it); any action is a manager contact; a partner
    that responds (``responded``, row-aligned; None: all) shows it in its features
    (`RESPONSE_FEATURES`: a sign of life, a certified person and a pass, downloads, a
    business review, a registration, an accepted registration)."""
    frame = world.frame
    at = frame["partner_id"].astype(str)
    shown = np.ones(len(done), dtype=bool) if responded is None else np.asarray(responded)
    actions = done["action_id"].astype(str).to_numpy()
    for action in pd.unique(actions):
        mine = actions == action
        kind, _, weeks = EFFECTS.get(action, ("growth", 0.0, 0))
        pids = done["partner_id"].astype(str)[mine]
        rows = at.isin(pids).to_numpy()
        frame.loc[rows, "days_since_last_manager_contact"] = 0.0
        if kind == "retention":
            e = world.effects[action].reindex(pids).to_numpy()
            current = world.protection["factor"].reindex(pids).to_numpy()
            world.protection.loc[pids, "factor"] = np.maximum(current, e)
            world.protection.loc[pids, "weeks"] = weeks
        rows = at.isin(done["partner_id"].astype(str)[mine & shown]).to_numpy()
        for column, step in RESPONSE_FEATURES.get(action, []):
            if column not in frame.columns:
                continue
            count = pd.to_numeric(frame.loc[rows, column]).astype("float64").fillna(0.0)
            frame.loc[rows, column] = -3.5 if step is None else count + step


def advance(world: World, *, week: int) -> list[str]:
    """One week passes: partners churn with their (protected) hazard, time moves on for the
    rest. Returns who left."""
    rng = np.random.default_rng([world.seed, 1000 + week])
    t = world.truth
    hazard = t["hazard"].to_numpy() * (1.0 - world.protection["factor"].to_numpy())
    left = (rng.random(len(t)) < -np.expm1(-hazard)) & ~t.index.isin(list(world.gone))
    gone = [str(p) for p in t.index[left]]
    world.gone.update(gone)
    weeks = world.protection["weeks"].to_numpy() - 1
    world.protection["weeks"] = np.maximum(weeks, 0)
    world.protection.loc[weeks <= 0, "factor"] = 0.0
    for name in ("days_since_last_activity", "days_since_last_manager_contact"):
        world.frame[name] = pd.to_numeric(world.frame[name]) + 7.0
    world.frame["tenure_days"] = pd.to_numeric(world.frame["tenure_days"]) + 7.0
    return gone
