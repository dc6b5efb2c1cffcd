"""The shape of a rulebook as written in YAML (pydantic; conditions stay raw until parsed)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

Id = str


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TierPolicySpec(_Spec):
    demotion_grace: int = Field(2, ge=0, description="Consecutive misses before a demotion")


class TierSpec(_Spec):
    id: Id = Field(min_length=1)
    description: str = Field(min_length=1)
    when: Any = None  # None: the fallback tier
    benefits: dict[str, float | str] = Field(default_factory=dict)


class TrackSpec(_Spec):
    id: Id = Field(min_length=1)
    description: str = Field(min_length=1)
    when: Any = None  # None: the fallback track
    tiers: list[TierSpec] = Field(min_length=1)


class RewardSpec(_Spec):
    type: str = Field(min_length=1)
    amount: float = Field(ge=0)
    basis: str | None = None  # feature the amount multiplies (e.g. a commission rate × revenue)
    unit: str = "USD"


class IncentiveSpec(_Spec):
    id: Id = Field(min_length=1)
    description: str = Field(min_length=1)
    when: Any
    reward: RewardSpec
    period: Literal["once", "month", "quarter", "year"] = Field(
        "once", description="once per partner, or once/accrued per program period"
    )
    pool: str | None = Field(None, min_length=1, description="budget pool it draws on")


class ScorePartSpec(_Spec):
    feature: str = Field(min_length=1)
    weight: float = Field(1.0, gt=0)
    breakpoints: list[tuple[float, float]] = Field(min_length=2)
    missing: float = Field(0.0, ge=0, le=100, description="Score when the feature is missing")


class ScoreComponentSpec(_Spec):
    id: Id = Field(min_length=1)
    description: str = Field(min_length=1)
    weight: float = Field(1.0, gt=0)
    parts: list[ScorePartSpec] = Field(min_length=1)


class PriorSpec(_Spec):
    """The rulebook's belief that an action works before there is evidence: a Beta(alpha, beta),
    written as alpha and beta or as a mean and a strength (alpha + beta, in decisions)."""

    alpha: float | None = Field(None, gt=0)
    beta: float | None = Field(None, gt=0)
    mean: float | None = Field(None, gt=0, lt=1)
    strength: float | None = Field(None, gt=0)


class PropensitySpec(_Spec):
    output: str | None = Field(None, min_length=1)
    invert: bool = False
    learned: bool = False  # P(the action works), learned from the review history
    prior: PriorSpec | None = None


def _propensity_kind(value: Any) -> str:
    return "output" if isinstance(value, str) else "spec"


# a model output's name, or the mapping form: one error message for each, not both
Propensity = Annotated[
    Annotated[str, Tag("output")] | Annotated[PropensitySpec, Tag("spec")],
    Discriminator(_propensity_kind),
]


class ValueSpec(_Spec):
    """An action's value: the expected gain over a horizon, in the program's currency."""

    expr: str = Field(min_length=1, description="arithmetic over features and model outputs")
    unit: str | None = None  # required: `rules check` names a missing one
    horizon_days: int | None = Field(None, ge=1)


class ActionSpec(_Spec):
    id: Id = Field(min_length=1)
    description: str = Field(min_length=1)
    title: str | None = Field(None, min_length=1, description="what the manager reads")
    reason: str | None = Field(None, min_length=1, description="a sentence template")
    when: Any
    propensity: Propensity | None = None
    value: str | ValueSpec | None = None  # a bare string has no unit: refused by the loader
    weight: float = Field(1.0, gt=0)
    cooldown_days: int = Field(0, ge=0)


class DealRoutingSpec(_Spec):
    fast_track: float = Field(0.75, ge=0, le=1)
    likely_reject: float = Field(0.3, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> DealRoutingSpec:
        if self.likely_reject > self.fast_track:
            raise ValueError(
                f"likely_reject ({self.likely_reject}) must not exceed "
                f"fast_track ({self.fast_track})"
            )
        return self


class PlanSpec(_Spec):
    """How the weekly plan spreads a manager's slots."""

    slots_per_partner: int = Field(1, ge=1, description="a manager's slots one partner may take")
    action_caps: dict[str, int] = Field(
        default_factory=dict, description="action id → most slots of a manager's week"
    )


class SettingsSpec(_Spec):
    max_actions_per_partner: int = Field(3, ge=1)
    currency: str = Field("USD", min_length=1, description="the unit of every action value")
    value_horizon_days: int = Field(365, ge=1, description="the horizon of every action value")
    plan: PlanSpec = Field(default_factory=PlanSpec)
    deal_routing: DealRoutingSpec = Field(default_factory=DealRoutingSpec)


class RulebookSpec(_Spec):
    version: str = Field(min_length=1)
    description: str = ""
    tier_policy: TierPolicySpec = Field(default_factory=TierPolicySpec)
    tracks: list[TrackSpec] = Field(min_length=1)
    incentives: list[IncentiveSpec] = Field(default_factory=list)
    scorecard: list[ScoreComponentSpec] = Field(default_factory=list)
    actions: list[ActionSpec] = Field(default_factory=list)
    settings: SettingsSpec = Field(default_factory=SettingsSpec)
