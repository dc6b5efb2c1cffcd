"""The event feed and webhook subscriptions (admins manage them; integrators read the feed)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from sqlalchemy import select

from serving.auth import Principal, require_role
from serving.db import Event, WebhookDelivery, WebhookSubscription
from serving.db.events import envelope, feed
from serving.deps import SessionDep
from serving.schemas.integration import (
    EXAMPLE_DELIVERY,
    EXAMPLE_EVENT,
    EXAMPLE_WEBHOOK,
    DeliveryOut,
    EventOut,
    EventPage,
    EventType,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    example,
)
from tierwise.errors import InvalidInput, NotFound, Problem

router = APIRouter(prefix="/v1", tags=["events"])

Reader = Annotated[Principal, Depends(require_role("integration", "scorer", "admin"))]
Admin = Annotated[Principal, Depends(require_role("admin"))]
WebhookId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get(
    "/events",
    response_model=EventPage,
    responses=example(200, {"events": [EXAMPLE_EVENT], "next_cursor": "1042"}),
)
def list_events(
    _: Reader,
    session: SessionDep,
    after: Annotated[
        str, Query(max_length=20, pattern=r"^[0-9]+$", description="Cursor: events after this id")
    ] = "0",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    type: Annotated[list[EventType] | None, Query(description="Only these types")] = None,
) -> EventPage:
    """Events after the cursor, oldest first: the feed for integrators without webhooks."""
    if not after.isdigit():
        raise InvalidInput(
            f"'{after}' is not a cursor",
            [Problem("a cursor from next_cursor (digits)", column="query.after", value=after)],
        )
    found = feed(session, after=int(after), limit=limit, types=type or ())
    events = [EventOut.model_validate(envelope(e)) for e in found]
    return EventPage(events=events, next_cursor=events[-1].id if events else after)


@router.post(
    "/webhooks",
    response_model=WebhookCreated,
    status_code=201,
    responses=example(201, {**EXAMPLE_WEBHOOK, "secret": "whsec_…"}),
)
def create_webhook(body: WebhookCreate, who: Admin, session: SessionDep) -> WebhookCreated:
    """Subscribe a URL to events; the answer holds the signing secret (shown this once)."""
    sub = WebhookSubscription(
        url=str(body.url),
        secret=body.secret or "whsec_" + secrets.token_urlsafe(32),
        events=list(body.events),
        description=body.description,
        active=True,
        created_by=who.name or who.role,
    )
    session.add(sub)
    session.flush()
    return WebhookCreated.model_validate({**_public(sub).model_dump(), "secret": sub.secret})


@router.get("/webhooks", response_model=list[WebhookOut], responses=example(200, [EXAMPLE_WEBHOOK]))
def list_webhooks(_: Admin, session: SessionDep) -> list[WebhookOut]:
    """Every subscription (secrets are never shown again)."""
    subs = session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id))
    return [_public(s) for s in subs]


@router.delete("/webhooks/{webhook_id}", status_code=204, response_class=Response)
def delete_webhook(webhook_id: WebhookId, _: Admin, session: SessionDep) -> Response:
    """Remove a subscription and its delivery log."""
    session.delete(_subscription(session, webhook_id))
    return Response(status_code=204)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=list[DeliveryOut],
    responses=example(200, [EXAMPLE_DELIVERY]),
)
def webhook_deliveries(
    webhook_id: WebhookId,
    _: Admin,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeliveryOut]:
    """The delivery log of a subscription, newest first: attempts, answers, errors."""
    _subscription(session, webhook_id)
    rows = session.execute(
        select(WebhookDelivery, Event.type)
        .join(Event, Event.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.subscription_id == webhook_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    ).all()
    return [
        DeliveryOut(
            id=d.id,
            event_id=str(d.event_id),
            event_type=kind,
            status=d.status,
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at if d.status == "pending" else None,
            last_attempt_at=d.last_attempt_at,
            response_status=d.response_status,
            last_error=d.last_error,
            delivered_at=d.delivered_at,
        )
        for d, kind in rows
    ]


def _subscription(session: SessionDep, webhook_id: int) -> WebhookSubscription:
    sub = session.get(WebhookSubscription, webhook_id)
    if sub is None:
        raise NotFound(
            f"No webhook {webhook_id}",
            [Problem("unknown", column="path.webhook_id", value=webhook_id)],
        )
    return sub


def _public(sub: WebhookSubscription) -> WebhookOut:
    return WebhookOut(
        id=sub.id,
        url=sub.url,
        events=list(sub.events or []),
        description=sub.description,
        active=sub.active,
        created_by=sub.created_by,
        created_at=sub.created_at,
    )
