"""Tables of the integration API: idempotency records, events, webhook subscriptions/deliveries.

`events.id` is the cursor of `GET /v1/events?after=`; a delivery is one (subscription, event)
pair and its attempts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from serving.db.models import Base, Id, utcnow
from serving.db.types import JsonType

DELIVERY_STATUSES = ("pending", "delivered", "failed")


class IdempotencyRecord(Base):
    """A write request seen with an `Idempotency-Key`: its hash and the answer it got."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("owner", "key", name="uq_idempotency_owner_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))  # hash of the caller's API key
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(500))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None] = mapped_column(Integer)  # None while the first call runs
    content_type: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Event(Base):
    """Something an integrator may want to know; the id is the feed's cursor."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str | None] = mapped_column(String(200), unique=True)  # one event per fact
    type: Mapped[str] = mapped_column(String(64), index=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    partner_id: Mapped[str | None] = mapped_column(Id, index=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class WebhookSubscription(Base):
    """Where to POST which events, signed with the subscriber's own secret."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))
    events: Mapped[Any] = mapped_column(JsonType, default=list)  # event types; [] = all
    description: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """One event owed to one subscriber: attempts, the last answer, when to try again."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id", name="uq_delivery_subscription_event"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # DELIVERY_STATUSES
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[datetime | None]
    response_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]


class DealDecision(Base):
    """The vendor's final decision on a deal registration, as the PRM reports it back.

    Kept as labelled examples for the deal-acceptance model (accepted or rejected, and the
    outcome once known); a later report of the same deal replaces the earlier one.
    """

    __tablename__ = "deal_decisions"

    deal_id: Mapped[str] = mapped_column(Id, primary_key=True)
    partner_id: Mapped[str | None] = mapped_column(Id, index=True)
    decision: Mapped[str] = mapped_column(String(16))  # accepted | rejected
    outcome: Mapped[str | None] = mapped_column(String(16))  # open | won | lost
    amount: Mapped[float | None] = mapped_column(Float)
    currency: Mapped[str | None] = mapped_column(String(3))
    reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime]
    reported_by: Mapped[str] = mapped_column(String(200), default="")
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)
