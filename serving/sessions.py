"""Review-page sessions: server-side sessions, the signed-in visitor and CSRF checks.

Sign in with an API key (manager or admin) → a session row in the service database (a random
id, stored hashed; the key's hash; a CSRF token; an expiry) and a cookie carrying only the
id, signed with the session secret. Every form posts the session's CSRF token back, checked
against the row. A session ends at expiry, on logout, and when its key leaves the settings
(checked on every request): a copied cookie or a copied config cannot mint or revive one.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from serving.auth import Principal, authenticate_key, hash_key
from serving.db.sessions import find_session, open_session, revoke_key_sessions, revoke_session
from tierwise.errors import Forbidden
from tierwise.settings import Settings

COOKIE, LOGIN_COOKIE = "tw_review", "tw_login"
LOGIN_MAX_AGE = 3600
REVIEWER_ROLES = ("manager", "admin")


@dataclass(frozen=True)
class Visitor:
    """A signed-in reviewer: who they are, their session and its CSRF token."""

    principal: Principal
    csrf: str
    session_id: str = ""


class SignInRequired(Exception):
    """No valid session: the page redirects to the sign-in form."""


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.session_secret, salt="tierwise-review-session")


def _principal_by_hash(digest: str, settings: Settings) -> Principal | None:
    found = None
    for entry in settings.api_keys:
        if hmac.compare_digest(digest.encode(), entry.key_sha256.lower().encode()):
            found = Principal(entry.role, entry.manager_id, entry.name)
    return found if found is not None and found.role in REVIEWER_ROLES else None


def _session_id(request: Request, settings: Settings) -> str | None:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        value = _serializer(settings).loads(raw, max_age=settings.session_max_age_s)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def visitor(request: Request, settings: Settings, db: Session) -> Visitor:
    """The signed-in reviewer; raises SignInRequired when there is none.

    The session must exist, be neither expired nor revoked, and its key must still be
    configured; a revoked key's sessions are all ended here.
    """
    session_id = _session_id(request, settings)
    if session_id is None:
        raise SignInRequired
    now = datetime.now(UTC)
    found = find_session(db, session_id=session_id, now=now)
    if found is None:
        raise SignInRequired
    principal = _principal_by_hash(found.key_sha256, settings)
    if principal is None:
        revoke_key_sessions(db, key_sha256=found.key_sha256, now=now)
        raise SignInRequired
    return Visitor(principal, found.csrf, session_id)


def check_csrf(who: Visitor, token: str) -> None:
    """The form's token is the one bound to the visitor's session (server-side)."""
    if not (token and hmac.compare_digest(token.encode(), who.csrf.encode())):
        raise Forbidden("The form is out of date or forged (CSRF token mismatch); reload the page")


def login_token_ok(request: Request, token: str) -> bool:
    """The sign-in form's token matches the one its cookie was issued with."""
    expected = request.cookies.get(LOGIN_COOKIE, "")
    return bool(token and expected and hmac.compare_digest(token.encode(), expected.encode()))


def new_token() -> str:
    return secrets.token_urlsafe(24)


def reviewer_for(key: str, settings: Settings) -> Principal | None:
    """The manager or admin a key belongs to, or None."""
    principal = authenticate_key(key.strip(), settings)
    return principal if principal is not None and principal.role in REVIEWER_ROLES else None


def set_login_cookie(
    request: Request, response: Response, token: str, settings: Settings | None = None
) -> None:
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure(request, settings),
        max_age=LOGIN_MAX_AGE,
    )


def start_session(request: Request, settings: Settings, key: str, db: Session) -> Response:
    """Open a server-side session for this key; redirect home with its signed id."""
    principal = reviewer_for(key, settings)
    if principal is None:
        raise Forbidden("That key is not a manager or admin key")
    opened = open_session(
        db,
        principal=principal,
        key_sha256=hash_key(key.strip()),
        now=datetime.now(UTC),
        max_age_s=settings.session_max_age_s,
    )
    response = RedirectResponse("/review", status_code=303)
    response.set_cookie(
        COOKIE,
        _serializer(settings).dumps(opened.session_id),
        httponly=True,
        samesite="lax",
        secure=_secure(request, settings),
        max_age=settings.session_max_age_s,
    )
    response.delete_cookie(LOGIN_COOKIE)
    return response


def end_session(request: Request, settings: Settings, db: Session, response: Response) -> Response:
    """Revoke the session server-side (a copied cookie stops working) and drop the cookie."""
    session_id = _session_id(request, settings)
    if session_id is not None:
        revoke_session(db, session_id=session_id, now=datetime.now(UTC))
    response.delete_cookie(COOKIE)
    return response


def _secure(request: Request, settings: Settings | None) -> bool:
    """Secure cookies: as configured (behind a TLS proxy), else when the request was https."""
    configured = settings.cookie_secure if settings is not None else None
    return configured if configured is not None else request.url.scheme == "https"
