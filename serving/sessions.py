"""Review-page sessions: the signed session cookie, the signed-in visitor and CSRF checks.

Sign in with an API key (manager or admin) → a signed, time-limited cookie holding the key's
hash and a CSRF token; every form posts that token back. The key is looked up again on every
request, so revoking it ends its sessions.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from serving.auth import Principal, authenticate_key, hash_key
from tierwise.errors import Forbidden
from tierwise.settings import Settings

COOKIE, LOGIN_COOKIE = "tw_review", "tw_login"
MAX_AGE = 12 * 3600
LOGIN_MAX_AGE = 3600
REVIEWER_ROLES = ("manager", "admin")


@dataclass(frozen=True)
class Visitor:
    """A signed-in reviewer: who they are and the CSRF token of their session."""

    principal: Principal
    csrf: str


class SignInRequired(Exception):
    """No valid session: the page redirects to the sign-in form."""


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.session_secret, salt="tierwise-review")


def _principal_by_hash(digest: str, settings: Settings) -> Principal | None:
    found = None
    for entry in settings.api_keys:
        if hmac.compare_digest(digest.encode(), entry.key_sha256.lower().encode()):
            found = Principal(entry.role, entry.manager_id, entry.name)
    return found if found is not None and found.role in REVIEWER_ROLES else None


def visitor(request: Request, settings: Settings) -> Visitor:
    """The signed-in reviewer; raises SignInRequired when there is none."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        raise SignInRequired
    try:
        data = _serializer(settings).loads(raw, max_age=MAX_AGE)
    except BadSignature as exc:
        raise SignInRequired from exc
    principal = _principal_by_hash(str(data.get("k", "")), settings)
    if principal is None:
        raise SignInRequired
    return Visitor(principal, str(data.get("c", "")))


def check_csrf(who: Visitor, token: str) -> None:
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


def set_login_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        LOGIN_COOKIE, token, httponly=True, samesite="strict", **_secure(request), max_age=3600
    )


def start_session(request: Request, settings: Settings, key: str) -> Response:
    """Redirect to the review home with a fresh session cookie for this key."""
    session = {"k": hash_key(key.strip()), "c": new_token()}
    response = RedirectResponse("/review", status_code=303)
    response.set_cookie(
        COOKIE,
        _serializer(settings).dumps(session),
        httponly=True,
        samesite="lax",
        **_secure(request),
        max_age=MAX_AGE,
    )
    response.delete_cookie(LOGIN_COOKIE)
    return response


def end_session(response: Response) -> Response:
    response.delete_cookie(COOKIE)
    return response


def _secure(request: Request) -> dict[str, Any]:
    return {"secure": request.url.scheme == "https"}
