"""API schemas of the weekly plan: a plan, its actions, a review decision."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class PlanActionPublic(BaseModel):
    """One recommended action in a weekly plan and its review state."""

    id: int
    week: str
    partner_id: str
    partner_name: str | None = None
    region: str | None = None
    manager_id: str
    action_id: str
    title: str | None = Field(None, description="What to do, as the rulebook names it")
    sentence: str | None = Field(None, description="Why, in a sentence (the rulebook's reason)")
    manager_rank: int = Field(description="Position in the manager's list (1 = first)")
    rank: int = Field(description="Position among the partner's own actions")
    priority: float = Field(description="propensity × value × weight")
    propensity: float
    propensity_source: str | None = Field(
        None,
        description="For a learned propensity: `prior` (the rulebook's) or `learned (n=…)`",
        max_length=64,
    )
    value: float
    weight: float
    reasons: Any = Field(description="The codes: conditions that held, then its numbers")
    tier: str | None = None
    churn_risk: float | None = None
    overflow: bool = Field(description="Beyond the manager's weekly capacity")
    status: Literal["proposed", "accepted", "dismissed", "snoozed", "done"]
    snooze_until: datetime | None = None
    dismiss_reason: str | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None


class PlanPublic(BaseModel):
    """A week's plan: versions it was computed with and the visible actions."""

    week: str
    as_of: datetime
    generated_at: datetime
    versions: dict[str, Any]
    partners_scored: int
    incentive_cost: float
    manager_id: str | None = Field(None, description="Whose actions these are (None: all)")
    actions: list[PlanActionPublic]
    next_cursor: str | None = Field(
        None, description="More actions: pass as `cursor` for the next page (None: the last)"
    )


class PlanWeek(BaseModel):
    """A week that has a plan."""

    week: str
    as_of: datetime
    generated_at: datetime
    partners_scored: int
    actions: int = Field(description="Actions planned (overflow included)")


class PlanWeeks(BaseModel):
    """The weeks that have a plan, newest first."""

    weeks: list[PlanWeek]


class ReviewRequest(BaseModel):
    """A review decision: accept, dismiss (with a reason), snooze (until a date) or done."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"decision": "dismiss", "reason": "called last week"}]},
    )

    decision: Literal["accept", "dismiss", "snooze", "done"]
    reason: str | None = Field(None, max_length=500, description="Required to dismiss")
    until: date | None = Field(None, description="Required to snooze: back in plans from then")
