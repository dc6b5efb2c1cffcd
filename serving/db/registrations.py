"""Scored deal registrations: what the service answered, kept to be joined to the decision.

One row per registration × rulebook hash × deal-model version: scoring the same registration
again under the same rulebook and model *updates* its row (the latest request and answer,
`times_scored` + 1); a new rulebook or model version *appends* a row, so what each version
said stays on record. Registrations scored without a `deal_id` are not stored (nothing could
join them to a decision).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from serving.db.integration import DealDecision
from serving.db.models import Base, Id, utcnow
from serving.db.types import JsonType, jsonable

LIFECYCLE = ("refused", "pending", "accepted", "rejected", "won", "lost", "expired")


class ScoredRegistration(Base):
    """A deal registration as scored: eligibility, likelihood, routing, versions, dates."""

    __tablename__ = "deal_registrations"
    __table_args__ = (
        UniqueConstraint(
            "deal_id", "rulebook_hash", "model_version", name="uq_deal_registration_version"
        ),
        Index("ix_deal_registrations_deal_scored", "deal_id", "scored_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deal_id: Mapped[str] = mapped_column(Id)
    partner_id: Mapped[str | None] = mapped_column(Id, index=True)
    customer_id: Mapped[str | None] = mapped_column(Id)
    registered_at: Mapped[datetime]
    eligible: Mapped[bool] = mapped_column(Boolean)
    refusals: Mapped[Any] = mapped_column(JsonType, default=list)  # refusal codes
    acceptance_likelihood: Mapped[float] = mapped_column(Float)
    routing: Mapped[str] = mapped_column(String(16))
    protected_until: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    rulebook_version: Mapped[str] = mapped_column(String(64))
    rulebook_hash: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[str] = mapped_column(String(64))
    deal: Mapped[Any] = mapped_column(JsonType, default=dict)  # the registration's attributes
    answer: Mapped[Any] = mapped_column(JsonType, default=dict)  # the answer as sent
    times_scored: Mapped[int] = mapped_column(Integer, default=1)
    first_scored_at: Mapped[datetime] = mapped_column(default=utcnow)
    scored_at: Mapped[datetime] = mapped_column(default=utcnow)


def record(session: Session, *, values: dict[str, Any], now: datetime) -> ScoredRegistration:
    """Store one scored registration (update the same version's row, else append one)."""
    row = session.scalars(
        select(ScoredRegistration).where(
            ScoredRegistration.deal_id == values["deal_id"],
            ScoredRegistration.rulebook_hash == values["rulebook_hash"],
            ScoredRegistration.model_version == values["model_version"],
        )
    ).one_or_none()
    clean = {
        k: jsonable(v) if k in ("deal", "answer", "refusals") else v for k, v in values.items()
    }
    if row is None:
        row = ScoredRegistration(**clean, first_scored_at=now, scored_at=now, times_scored=1)
        session.add(row)
    else:
        for name, value in clean.items():
            setattr(row, name, value)
        row.times_scored += 1
        row.scored_at = now
    session.flush()
    return row


@dataclass(frozen=True)
class Registration:
    """The latest scoring of a registration, every version's, its decision and lifecycle."""

    latest: ScoredRegistration
    versions: list[ScoredRegistration]
    decision: DealDecision | None
    status: str


def lifecycle(row: ScoredRegistration, decision: DealDecision | None, *, now: datetime) -> str:
    """refused | pending | accepted | rejected | won | lost | expired (accepted, unworked)."""
    if decision is None:
        return "pending" if row.eligible else "refused"
    if decision.decision == "rejected":
        return "rejected"
    if decision.outcome in ("won", "lost"):
        return decision.outcome
    if row.expires_at is not None and now >= row.expires_at:
        return "expired"
    return "accepted"


def find(session: Session, *, deal_id: str, now: datetime) -> Registration | None:
    versions = list(
        session.scalars(
            select(ScoredRegistration)
            .where(ScoredRegistration.deal_id == deal_id)
            .order_by(ScoredRegistration.scored_at.desc(), ScoredRegistration.id.desc())
        )
    )
    if not versions:
        return None
    decision = session.get(DealDecision, deal_id)
    return Registration(versions[0], versions, decision, lifecycle(versions[0], decision, now=now))


def latest_rows(
    session: Session,
    *,
    partner_id: str | None = None,
    eligible: bool | None = None,
    limit: int = 100,
) -> list[tuple[ScoredRegistration, DealDecision | None]]:
    """The latest scoring of each registration, newest first, with its decision."""
    newest = (
        select(
            ScoredRegistration.deal_id.label("deal_id"),
            func.max(ScoredRegistration.scored_at).label("scored_at"),
        )
        .group_by(ScoredRegistration.deal_id)
        .subquery()
    )
    query = (
        select(ScoredRegistration, DealDecision)
        .join(
            newest,
            (newest.c.deal_id == ScoredRegistration.deal_id)
            & (newest.c.scored_at == ScoredRegistration.scored_at),
        )
        .outerjoin(DealDecision, DealDecision.deal_id == ScoredRegistration.deal_id)
        .order_by(ScoredRegistration.scored_at.desc(), ScoredRegistration.id.desc())
        .limit(limit)
    )
    if partner_id is not None:
        query = query.where(ScoredRegistration.partner_id == partner_id)
    if eligible is not None:
        query = query.where(ScoredRegistration.eligible == eligible)
    return [(row, decision) for row, decision in session.execute(query).all()]
