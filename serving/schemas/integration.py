"""API models of the integration endpoints: events, webhooks, deliveries, tier history."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, model_validator

from serving.db.events import EVENT_TYPES
from serving.schemas import Id, Moment, Utc

EventType = Literal[
    "plan.ready",
    "partner.tier_changed",
    "incentive.awarded",
    "action.reviewed",
    "models.promoted",
]
assert set(EventType.__args__) == set(EVENT_TYPES)  # type: ignore[attr-defined]


class EventOut(BaseModel):
    """Something that happened; `id` is the cursor to pass as `after`."""

    id: str
    type: EventType
    occurred_at: Utc
    partner_id: str | None = None
    data: dict[str, Any]


class EventPage(BaseModel):
    """Events after the cursor, oldest first; `next_cursor` continues from the last one."""

    events: list[EventOut]
    next_cursor: str = Field(description="Pass as `after` next time (unchanged when empty)")


class WebhookCreate(BaseModel):
    """A subscription: where to POST which events (none listed = every type)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://prm.example.com/hooks/tierwise",
                    "events": ["partner.tier_changed", "plan.ready"],
                    "description": "Salesforce PRM",
                }
            ]
        },
    )

    url: AnyHttpUrl
    events: list[EventType] = Field(default_factory=list, max_length=len(EVENT_TYPES))
    description: str = Field("", max_length=200)
    secret: str | None = Field(
        None, min_length=16, max_length=200, description="Signing secret; generated if absent"
    )


class WebhookOut(BaseModel):
    id: int
    url: str
    events: list[str]
    description: str
    active: bool
    created_by: str
    created_at: Utc


class WebhookCreated(WebhookOut):
    """The new subscription and its signing secret (shown this once)."""

    secret: str


class DeliveryOut(BaseModel):
    """One event owed to a subscriber: what happened on each attempt so far."""

    id: int
    event_id: str
    event_type: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: Utc | None = None
    last_attempt_at: Utc | None = None
    response_status: int | None = None
    last_error: str | None = None
    delivered_at: Utc | None = None


class TierEvaluation(BaseModel):
    """One weekly evaluation of a partner's tier: the change against the one before and why."""

    week: str
    as_of: Utc
    tier: str
    previous_tier: str | None = None
    evaluated_tier: str | None = Field(None, description="What the rules alone gave")
    change: str = Field(description="new | promoted | demoted | grace | unchanged | override")
    reason: str
    override_reason: str | None = None
    rulebook_version: str
    rulebook_hash: str | None = None


class TierHistory(BaseModel):
    """Every evaluation of a partner's tier, newest first."""

    partner_id: str
    evaluations: list[TierEvaluation]


# --- examples (the OpenAPI document shows them) ----------------------------------------------

EXAMPLE_EVENT: dict[str, Any] = {
    "id": "1042",
    "type": "partner.tier_changed",
    "occurred_at": "2026-11-23T00:00:00Z",
    "partner_id": "P000348",
    "data": {
        "partner_id": "P000348",
        "week": "2026-W48",
        "as_of": "2026-11-23T00:00:00Z",
        "previous_tier": "Registered",
        "tier": "Silver",
        "evaluated_tier": "Silver",
        "change": "promoted",
        "rulebook_hash": "3f2a9c…",
    },
}
EXAMPLE_WEBHOOK: dict[str, Any] = {
    "id": 3,
    "url": "https://prm.example.com/hooks/tierwise",
    "events": ["partner.tier_changed", "plan.ready"],
    "description": "Salesforce PRM",
    "active": True,
    "created_by": "admin",
    "created_at": "2026-11-30T09:00:00Z",
}
EXAMPLE_DELIVERY: dict[str, Any] = {
    "id": 77,
    "event_id": "1042",
    "event_type": "partner.tier_changed",
    "status": "pending",
    "attempts": 2,
    "next_attempt_at": "2026-11-30T09:00:40Z",
    "last_attempt_at": "2026-11-30T09:00:20Z",
    "response_status": 503,
    "last_error": "HTTP 503: down for maintenance",
    "delivered_at": None,
}
EXAMPLE_TIERS: dict[str, Any] = {
    "partner_id": "P000348",
    "evaluations": [
        {
            "week": "2026-W48",
            "as_of": "2026-11-23T00:00:00Z",
            "tier": "Silver",
            "previous_tier": "Registered",
            "evaluated_tier": "Silver",
            "change": "promoted",
            "reason": "promoted from Registered: the rules give Silver",
            "override_reason": None,
            "rulebook_version": "2026.1",
            "rulebook_hash": "3f2a9c…",
        }
    ],
}


def example(status: int, body: Any) -> dict[int | str, dict[str, Any]]:
    return {status: {"content": {"application/json": {"example": body}}}}


class DealDecisionIn(BaseModel):
    """The vendor's decision on a registration and, once known, how the deal ended."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "decision": "accepted",
                    "outcome": "won",
                    "decided_at": "2026-11-24T15:00:00Z",
                    "partner_id": "P000123",
                    "amount": 48000.0,
                    "currency": "USD",
                }
            ],
            # a rejected registration's outcome is `lost` or not given
            "if": {"properties": {"decision": {"const": "rejected"}}},
            "then": {"properties": {"outcome": {"enum": ["lost", None]}}},
        },
    )

    decision: Literal["accepted", "rejected"]
    outcome: Literal["open", "won", "lost"] | None = Field(
        None, description="How the deal ended (accepted deals)"
    )
    decided_at: Moment
    partner_id: Id | None = None
    amount: float | None = Field(None, ge=0, le=1e12, allow_inf_nan=False)
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$", description="ISO 4217 code")
    reason: str | None = Field(None, max_length=500, description="Why (rejections)")

    @model_validator(mode="after")
    def _outcome_needs_acceptance(self) -> DealDecisionIn:
        if self.decision == "rejected" and self.outcome in ("won", "open"):
            raise ValueError(f"a rejected registration cannot have outcome '{self.outcome}'")
        return self


class DealDecisionOut(BaseModel):
    """A stored deal decision (a later report of the same deal replaces it)."""

    deal_id: str
    partner_id: str | None = None
    decision: str
    outcome: str | None = None
    amount: float | None = None
    currency: str | None = None
    reason: str | None = None
    decided_at: Utc
    reported_by: str
    reported_at: Utc
