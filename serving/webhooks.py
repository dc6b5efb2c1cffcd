"""Webhook delivery: signed POSTs, retried with exponential backoff, every attempt logged.

Each delivery is the event's JSON envelope, POSTed with

    Tierwise-Event-Id: 42
    Tierwise-Event-Type: partner.tier_changed
    Tierwise-Signature: t=1764489600,v1=<hex HMAC-SHA256(secret, "1764489600." + body)>

A receiver recomputes the HMAC with its secret, refuses a timestamp older than a few minutes
(replay) and remembers event ids it has handled (a retry after a lost answer is not a new event).
A 2xx answer is success; anything else (or no answer) is retried after 2^n × base seconds
until `webhook_max_attempts`, then the delivery is `failed` (it stays in the delivery log).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from serving.db import (
    Event,
    WebhookDelivery,
    WebhookSubscription,
    get_engine,
    ready_engine,
    session_scope,
)
from serving.db.events import envelope, record
from tierwise.settings import Settings

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Tierwise-Signature"
SUBSCRIBER = WebhookDelivery.subscription_id == WebhookSubscription.id
TOLERANCE_S = 300


class SignatureError(ValueError):
    """A delivery whose signature does not verify (wrong secret, altered body, or too old)."""


def sign(secret: str, body: bytes, *, timestamp: int) -> str:
    """The `Tierwise-Signature` header value for a body sent at `timestamp` (Unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str, header: str, body: bytes, *, now: float | None = None, tolerance_s: int = 300
) -> int:
    """Check a delivery as a receiver would; returns its timestamp. Raises SignatureError."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError) as exc:
        raise SignatureError(f"malformed {SIGNATURE_HEADER}: {header!r}") from exc
    expected = sign(secret, body, timestamp=timestamp).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, given):
        raise SignatureError("signature mismatch")
    age = (time.time() if now is None else now) - timestamp
    if abs(age) > tolerance_s:
        raise SignatureError(f"timestamp {timestamp} is {age:.0f} s away (replay?)")
    return timestamp


def backoff(attempts: int, *, base_s: float, cap_s: float = 3600.0) -> timedelta:
    """Wait before attempt `attempts + 1`: base, 2×base, 4×base… capped."""
    return timedelta(seconds=min(cap_s, base_s * 2 ** max(attempts - 1, 0)))


@dataclass
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


class Deliverer:
    """Sends the deliveries that are due. Safe to run from several processes (row locks)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def run_due(self, *, now: datetime | None = None, limit: int = 100) -> DeliveryReport:
        """Attempt every pending delivery due at `now`; returns what became of them."""
        now = now or datetime.now(UTC)
        report = DeliveryReport()
        timeout = self.settings.webhook_timeout_s
        with (
            httpx.Client(timeout=timeout, follow_redirects=False) as client,
            session_scope(get_engine(self.settings.db_url)) as session,
        ):
            due = session.execute(
                select(WebhookDelivery, WebhookSubscription, Event)
                .join(WebhookSubscription, SUBSCRIBER)
                .join(Event, Event.id == WebhookDelivery.event_id)
                .where(
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.next_attempt_at <= now,
                    WebhookSubscription.active,
                )
                .order_by(WebhookDelivery.event_id)
                .limit(limit)
                .with_for_update(skip_locked=True, of=WebhookDelivery)
            ).all()
            for delivery, subscription, event in due:
                self._attempt(client, session, delivery, subscription, event, now, report)
        return report

    def _attempt(
        self,
        client: httpx.Client,
        session: Session,
        delivery: WebhookDelivery,
        subscription: WebhookSubscription,
        event: Event,
        now: datetime,
        report: DeliveryReport,
    ) -> None:
        body = json.dumps(envelope(event), separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Tierwise-Webhooks/1",
            "Tierwise-Event-Id": str(event.id),
            "Tierwise-Event-Type": event.type,
            "Tierwise-Delivery-Attempt": str(delivery.attempts + 1),
            SIGNATURE_HEADER: sign(subscription.secret, body, timestamp=int(now.timestamp())),
        }
        delivery.attempts += 1
        delivery.last_attempt_at = now
        try:
            answer = client.post(subscription.url, content=body, headers=headers)
            delivery.response_status, delivery.last_error = answer.status_code, None
            ok = answer.is_success
            if not ok:
                delivery.last_error = f"HTTP {answer.status_code}: {answer.text[:200]}"
        except httpx.HTTPError as exc:
            ok = False
            delivery.response_status = None
            delivery.last_error = f"{type(exc).__name__}: {exc}"[:500]
        if ok:
            delivery.status, delivery.delivered_at = "delivered", now
            report.delivered += 1
        elif delivery.attempts >= self.settings.webhook_max_attempts:
            delivery.status = "failed"
            report.failed += 1
            log.warning("webhook %s gave up on event %s", subscription.url, event.id)
        else:
            wait = backoff(delivery.attempts, base_s=self.settings.webhook_backoff_s)
            delivery.next_attempt_at = now + wait
            report.retrying += 1


async def deliver_periodically(settings: Settings) -> None:
    """The service's delivery loop: every `webhook_interval_s`, send what is due."""
    deliverer = Deliverer(settings)
    while True:
        await asyncio.sleep(settings.webhook_interval_s)
        try:  # never upgrades the schema itself (Alembic is not thread-safe): until the
            # service, the job or `tierwise db upgrade` has, a round just fails quietly
            await run_in_threadpool(deliverer.run_due)
        except SQLAlchemyError as exc:
            log.debug("webhook delivery round skipped: %s", exc)
        except Exception:  # the loop must survive anything (a database restart…)
            log.exception("webhook delivery round failed")


def record_models(settings: Settings, loaded: Any) -> None:
    """`models.promoted` once per model version the service starts serving."""
    if loaded is None:
        return
    try:
        with session_scope(ready_engine(settings.db_url)) as session:
            for info in loaded.models.infos():
                record(
                    session,
                    "models.promoted",
                    {"model": info.name, "alias": info.alias, "version": info.version},
                    key=f"models.promoted:{info.name}:{info.version}",
                )
    except SQLAlchemyError as exc:
        log.warning("could not record models.promoted: %s", exc)
