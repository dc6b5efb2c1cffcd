"""A loaded, validated rulebook: conditions already compiled, nothing left to interpret."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from rules.calendar import WEEKLY, ProgramCalendar
from rules.compile import Compiled, Scalar, Vector
from rules.conditions import Condition
from rules.values import Template, ValueExpr

if TYPE_CHECKING:
    from rules.budgets import Pool
    from rules.flat import FlatRulebook
    from rules.registrations import RegistrationRules


@dataclass(frozen=True)
class Rule:
    """What tiers, tracks, incentives and actions share: an id, a description, a condition."""

    id: str
    description: str
    when: Condition | None
    compiled: Compiled = field(repr=False, compare=False)  # of ``when``: scalar and vector

    @property
    def ev(self) -> Scalar:
        return self.compiled.scalar

    @property
    def vev(self) -> Vector:
        return self.compiled.vector


@dataclass(frozen=True)
class Tier(Rule):
    track: str = ""
    rank: int = 0  # 0 = the track's fallback (lowest) tier
    benefits: dict[str, float | str] = field(default_factory=dict)


@dataclass(frozen=True)
class Track(Rule):
    tiers: tuple[Tier, ...] = ()  # highest first: FIRST hit wins
    ranks: dict[str, int] = field(init=False, repr=False, compare=False)  # tier id → rank
    by_rank: dict[int, str] = field(init=False, repr=False, compare=False)  # rank → tier id
    # rank → the state of a partner at that tier with no misses and no override (shared:
    # TierState is immutable, and building a frozen dataclass per evaluation is not free)
    fresh: dict[int, TierState] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ranks", {t.id: t.rank for t in self.tiers})
        object.__setattr__(self, "by_rank", {t.rank: t.id for t in self.tiers})
        object.__setattr__(self, "fresh", {t.rank: TierState(t.id) for t in self.tiers})

    def tier(self, name: str | None) -> Tier | None:
        return next((t for t in self.tiers if t.id == name), None)


@dataclass(frozen=True)
class Reward:
    type: str
    amount: float
    basis: str | None = None  # feature multiplied by amount (e.g. rate × revenue)
    unit: str = "USD"


@dataclass(frozen=True)
class Incentive(Rule):
    reward: Reward = Reward("", 0.0)
    period: str = "once"  # once | month | quarter | year (rules.calendar.PERIODS)
    pool: str | None = None  # the budget pool it draws on (rules.budgets)


@dataclass(frozen=True)
class ScorePart:
    feature: str
    weight: float
    xs: tuple[float, ...]
    ys: tuple[float, ...]
    missing: float = 0.0

    def score(self, x: Any) -> float:
        """Piecewise-linear, clamped at both ends; the same arithmetic as ``np.interp``."""
        try:
            if x is None or x != x:
                return self.missing
        except (TypeError, ValueError):  # pd.NA
            return self.missing
        xs, ys = self.xs, self.ys
        if x <= xs[0]:
            return ys[0]
        if x >= xs[-1]:
            return ys[-1]
        j = bisect_right(xs, x) - 1
        return float((ys[j + 1] - ys[j]) / (xs[j + 1] - xs[j]) * (x - xs[j]) + ys[j])

    def scores(self, x: np.ndarray) -> np.ndarray:
        out = np.interp(x, self.xs, self.ys)
        out[np.isnan(x)] = self.missing
        return out


@dataclass(frozen=True)
class ScoreComponent:
    id: str
    description: str
    weight: float
    parts: tuple[ScorePart, ...]
    total_weight: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "total_weight", sum(p.weight for p in self.parts))


@dataclass(frozen=True)
class Action(Rule):
    propensity: str | None = None  # model output; None → propensity 1 (or the prior's mean)
    invert: bool = False  # use 1 - output
    prior: tuple[float, float] | None = None  # learned propensity: the Beta(alpha, beta) prior
    value: str | None = None  # the value expression's text; None → 1
    weight: float = 1.0
    cooldown_days: int = 0
    title: str = ""  # what the manager reads (the description when the rulebook has none)
    reason: Template | None = field(default=None, repr=False, compare=False)
    value_expr: ValueExpr | None = field(default=None, repr=False, compare=False)
    value_unit: str = "USD"
    horizon_days: int = 365

    @property
    def learned(self) -> bool:
        """Whether the propensity is P(the action works), learned (`training.propensity`)."""
        return self.prior is not None

    @property
    def prior_mean(self) -> float:
        """The propensity until there is evidence (1 when the action has no prior)."""
        if self.prior is None:
            return 1.0
        alpha, beta = self.prior
        return alpha / (alpha + beta)


@dataclass(frozen=True)
class DealRouting:
    fast_track: float
    likely_reject: float

    def route(self, probability: float) -> str:
        if probability >= self.fast_track:
            return "fast_track"
        return "likely_reject" if probability < self.likely_reject else "review"

    def routes(self, probability: np.ndarray) -> np.ndarray:
        return np.where(
            probability >= self.fast_track,
            "fast_track",
            np.where(probability < self.likely_reject, "likely_reject", "review"),
        )


@dataclass(frozen=True)
class Rulebook:
    version: str
    content_hash: str
    description: str
    demotion_grace: int
    tracks: tuple[Track, ...]
    incentives: tuple[Incentive, ...]
    scorecard: tuple[ScoreComponent, ...]
    actions: tuple[Action, ...]
    max_actions_per_partner: int
    deal_routing: DealRouting
    features_needed: frozenset[str]
    source: str = ""
    currency: str = "USD"  # the unit of every action value
    value_horizon_days: int = 365  # the horizon of every action value
    slots_per_partner: int = 1  # a manager's weekly slots one partner may take
    action_caps: dict[str, int] = field(default_factory=dict)  # action id → slots a week
    calendar: ProgramCalendar = WEEKLY
    budgets: tuple[Pool, ...] = ()
    registrations: RegistrationRules | None = None  # deal-registration eligibility

    @property
    def tier_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.id for tr in self.tracks for t in tr.tiers))

    def track(self, name: str) -> Track | None:
        return next((t for t in self.tracks if t.id == name), None)

    def incentive(self, name: str) -> Incentive | None:
        return next((i for i in self.incentives if i.id == name), None)

    def pool(self, name: str) -> Pool | None:
        return next((p for p in self.budgets if p.id == name), None)

    @cached_property
    def flat(self) -> FlatRulebook:
        """The rulebook flattened into tuples for the evaluators (built on first use)."""
        from rules.flat import flatten  # rules.flat needs this module's classes

        return flatten(self)

    def stamp(self) -> dict[str, str]:
        """What every decision carries so it can be replayed."""
        return {"rulebook_version": self.version, "rulebook_hash": self.content_hash}


@dataclass(frozen=True)
class TierState:
    """A partner's tier state between evaluations (what serving stores per partner)."""

    tier: str | None = None
    missed_evaluations: int = 0
    override_tier: str | None = None
    override_reason: str | None = None
    override_until: datetime | None = None

    def override_active(self, as_of: datetime) -> bool:
        return self.override_tier is not None and (
            self.override_until is None or as_of < self.override_until
        )


STATE_COLUMNS = ("tier", "missed_evaluations", "override_tier", "override_reason", "override_until")
