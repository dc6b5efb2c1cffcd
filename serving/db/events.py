"""Events: recorded in the writer's transaction, owed to every matching webhook subscription.

An event happens once: each carries a `key` naming the fact (`partner.tier_changed:2026-W48:
P000348`), so re-running a week records nothing twice. `events.id` is the feed's cursor.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import func, insert, literal, select
from sqlalchemy.orm import Session

from serving.db.integration import Event, WebhookDelivery, WebhookSubscription
from serving.db.types import jsonable

EVENT_TYPES = (
    "plan.ready",
    "partner.tier_changed",
    "incentive.awarded",
    "action.reviewed",
    "models.promoted",
)
CHUNK = 1000


def iso_z(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC with `Z` (what every answer and event carries)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def record(
    session: Session,
    type_: str,
    data: dict[str, Any],
    *,
    key: str | None = None,
    partner_id: str | None = None,
    at: datetime | None = None,
) -> int:
    """Record one event (and its pending deliveries); returns the number recorded (0 or 1)."""
    return record_many(session, type_, [(key, partner_id, data)], at=at)


def record_many(
    session: Session,
    type_: str,
    events: Sequence[tuple[str | None, str | None, dict[str, Any]]],
    *,
    at: datetime | None = None,
) -> int:
    """Record (key, partner_id, data) events of one type; keys already recorded are skipped."""
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type_!r}")
    known = _known_keys(session, [k for k, _, _ in events if k is not None])
    fresh = [e for e in events if e[0] is None or e[0] not in known]
    if not fresh:
        return 0
    now = at or datetime.now(UTC)
    before = session.scalar(select(func.coalesce(func.max(Event.id), 0))) or 0
    rows = [
        {"key": k, "type": type_, "occurred_at": now, "partner_id": p, "data": jsonable(d)}
        for k, p, d in fresh
    ]
    for start in range(0, len(rows), CHUNK):
        session.execute(insert(Event), rows[start : start + CHUNK])
    _owe(session, type_, after=before, now=now)
    return len(rows)


def _known_keys(session: Session, keys: list[str]) -> set[str]:
    known: set[str] = set()
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        known.update(k for k in session.scalars(select(Event.key).where(Event.key.in_(chunk))) if k)
    return known


def _owe(session: Session, type_: str, *, after: int, now: datetime) -> None:
    """A pending delivery of every event after `after` to each active subscriber of the type."""
    for sub in session.scalars(select(WebhookSubscription).where(WebhookSubscription.active)):
        if sub.events and type_ not in sub.events:
            continue
        chosen = select(
            literal(sub.id),
            Event.id,
            literal("pending"),
            literal(0),
            literal(now, type_=Event.occurred_at.type),
        ).where(Event.id > after, Event.type == type_)
        session.execute(
            insert(WebhookDelivery).from_select(
                ["subscription_id", "event_id", "status", "attempts", "next_attempt_at"], chosen
            )
        )


def feed(
    session: Session, *, after: int = 0, limit: int = 100, types: Iterable[str] = ()
) -> list[Event]:
    """Events after the cursor, oldest first."""
    stmt = select(Event).where(Event.id > after).order_by(Event.id).limit(limit)
    wanted = list(types)
    if wanted:
        stmt = stmt.where(Event.type.in_(wanted))
    return list(session.scalars(stmt))


def envelope(event: Event) -> dict[str, Any]:
    """The JSON an event is delivered and listed as."""
    return {
        "id": str(event.id),
        "type": event.type,
        "occurred_at": iso_z(event.occurred_at),
        "partner_id": event.partner_id,
        "data": event.data,
    }


# --- what a weekly run tells integrators ---------------------------------------------------


def record_week(
    session: Session,
    *,
    week: str,
    as_of: datetime,
    decisions: pd.DataFrame,
    awards: pd.DataFrame,
    summary: dict[str, Any],
    versions: dict[str, Any],
) -> int:
    """plan.ready, partner.tier_changed (tier differs from the previous evaluation's) and
    incentive.awarded for one stored week; returns how many events were new."""
    when = iso_z(as_of)
    count = record(
        session,
        "plan.ready",
        {
            "week": week,
            "as_of": when,
            "summary": summary,
            "rulebook_version": versions.get("rulebook_version"),
            "rulebook_hash": versions.get("rulebook_hash"),
        },
        key=f"plan.ready:{week}",
    )
    changed = decisions.loc[
        decisions["previous_tier"].notna() & (decisions["previous_tier"] != decisions["tier"])
    ]
    count += record_many(
        session,
        "partner.tier_changed",
        [
            (
                f"partner.tier_changed:{week}:{r['partner_id']}",
                str(r["partner_id"]),
                {
                    "partner_id": r["partner_id"],
                    "week": week,
                    "as_of": when,
                    "previous_tier": r["previous_tier"],
                    "tier": r["tier"],
                    "evaluated_tier": r.get("qualified_tier"),
                    "change": r["change"],
                    "rulebook_hash": versions.get("rulebook_hash"),
                },
            )
            for r in _records(changed)
        ],
    )
    count += record_many(
        session,
        "incentive.awarded",
        [
            (
                f"incentive.awarded:{week}:{r['partner_id']}:{r['incentive_id']}",
                str(r["partner_id"]),
                {"week": week, "as_of": when, **r},
            )
            for r in _records(awards)
        ],
    )
    return count


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    plain = frame.astype(object).where(frame.notna(), None)
    return [jsonable(r) for r in plain.to_dict("records")]
