"""API schemas of the incentive ledger (`GET /v1/partners/{id}/incentives`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class AccrualPublic(BaseModel):
    """What one ledger entry gained in one week, under which rulebook."""

    week: str
    amount: float
    rulebook_hash: str


class LedgerEntryPublic(BaseModel):
    """One incentive of a partner in one period (`once` for milestones) in the ledger."""

    incentive_id: str
    period: str = Field(examples=["2026-Q4"], description="once, 2026-11, 2026-Q4 or 2026")
    status: Literal["accruing", "earned", "paid", "forfeited"]
    amount: float
    unit: str
    reward_type: str
    period_start: datetime | None = None
    period_end: datetime | None = None
    pool: str | None = Field(None, description="The budget pool it draws on")
    rulebook_version: str
    rulebook_hash: str
    first_week: str
    last_week: str
    evidence: dict[str, Any] = Field(
        description="The conditions that held, the values they read, the pool's allocation"
    )
    accruals: list[AccrualPublic]


class PartnerIncentivesPublic(BaseModel):
    """A partner's incentive ledger: earned, accruing, paid and forfeited entries."""

    partner_id: str
    totals: dict[str, float] = Field(description="Amount per status (in each entry's unit)")
    entries: list[LedgerEntryPublic]
