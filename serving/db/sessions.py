"""Server-side review sessions: open, find, revoke. Keyword-only data-layer functions.

The cookie carries a random session id; the database keeps only its SHA-256 (a copied
database does not yield live cookies), the CSRF token bound to it, the key it was opened
with, its expiry and its revocation. A copied cookie stops working on logout, at expiry and
when the key is removed from the settings.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from serving.auth import Principal
from serving.db.models import ReviewSession


@dataclass(frozen=True)
class OpenedSession:
    """A new session: the raw id (for the cookie only) and its CSRF token."""

    session_id: str
    csrf: str
    expires_at: datetime


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def open_session(
    session: Session, *, principal: Principal, key_sha256: str, now: datetime, max_age_s: int
) -> OpenedSession:
    """Store a new session for a signed-in reviewer (and drop long-expired ones)."""
    session.execute(delete(ReviewSession).where(ReviewSession.expires_at < now - timedelta(days=7)))
    opened = OpenedSession(
        secrets.token_urlsafe(32), secrets.token_urlsafe(32), now + timedelta(seconds=max_age_s)
    )
    session.add(
        ReviewSession(
            id_sha256=_digest(opened.session_id),
            key_sha256=key_sha256.lower(),
            role=principal.role,
            manager_id=principal.manager_id,
            name=principal.name,
            csrf=opened.csrf,
            created_at=now,
            expires_at=opened.expires_at,
        )
    )
    session.flush()
    return opened


def find_session(session: Session, *, session_id: str, now: datetime) -> ReviewSession | None:
    """The live session with this id: not expired, not revoked; None otherwise."""
    if not session_id or len(session_id) > 200:
        return None
    found = session.get(ReviewSession, _digest(session_id))
    if found is None or found.revoked_at is not None or found.expires_at <= now:
        return None
    return found


def revoke_session(session: Session, *, session_id: str, now: datetime) -> bool:
    """End one session (logout). True when a live session was ended."""
    result = session.execute(
        update(ReviewSession)
        .where(ReviewSession.id_sha256 == _digest(session_id), ReviewSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


def revoke_key_sessions(session: Session, *, key_sha256: str, now: datetime) -> int:
    """End every session opened with a key (the key was revoked). Returns how many."""
    result = session.execute(
        update(ReviewSession)
        .where(ReviewSession.key_sha256 == key_sha256.lower(), ReviewSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(getattr(result, "rowcount", 0))


def live_sessions(session: Session, *, now: datetime) -> list[ReviewSession]:
    """Every session that is neither expired nor revoked (for admins and tests)."""
    stmt = select(ReviewSession).where(
        ReviewSession.revoked_at.is_(None), ReviewSession.expires_at > now
    )
    return list(session.scalars(stmt))
