"""Stored deal registrations as the API returns them (`GET /v1/deal-registrations…`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from serving.schemas import DealScore, Utc
from serving.schemas.integration import DealDecisionOut

Lifecycle = Literal["refused", "pending", "accepted", "rejected", "won", "lost", "expired"]


class StoredVersion(BaseModel):
    """What one rulebook × deal-model version answered for the registration."""

    rulebook_version: str
    rulebook_hash: str
    model_version: str
    eligible: bool
    refusals: list[str]
    acceptance_likelihood: float
    routing: str
    times_scored: int = Field(description="Scorings under this version (re-scoring updates)")
    first_scored_at: Utc
    scored_at: Utc


class RegistrationSummary(BaseModel):
    """A registration's latest scoring, its lifecycle and the decision reported back."""

    deal_id: str
    partner_id: str | None = None
    customer_id: str | None = None
    registered_at: Utc
    status: Lifecycle = Field(
        description="refused (ineligible) | pending (eligible, no decision) | accepted | "
        "rejected | won | lost | expired (accepted, no outcome by expires_at)"
    )
    eligible: bool
    refusals: list[str] = Field(description="Refusal codes of the latest scoring")
    acceptance_likelihood: float
    routing: str
    protected_until: Utc | None = None
    expires_at: Utc | None = None
    scored_at: Utc
    decision: DealDecisionOut | None = None


class RegistrationOut(RegistrationSummary):
    """One registration: the latest answer as sent and every version that scored it."""

    answer: DealScore
    versions: list[StoredVersion] = Field(description="Newest first")


class RegistrationsOut(BaseModel):
    registrations: list[RegistrationSummary]


def example_registration(answer: dict[str, Any]) -> dict[str, Any]:
    return {
        "deal_id": "D0001234",
        "partner_id": "P000123",
        "customer_id": "C004711",
        "registered_at": "2026-11-23T09:00:00Z",
        "status": "accepted",
        "eligible": True,
        "refusals": [],
        "acceptance_likelihood": 0.81,
        "routing": "fast_track",
        "protected_until": "2027-05-22T09:00:00Z",
        "expires_at": "2027-02-21T09:00:00Z",
        "scored_at": "2026-11-23T09:00:01Z",
        "decision": None,
        "answer": answer,
        "versions": [],
    }
