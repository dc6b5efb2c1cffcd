"""API keys and roles: `scorer` (PRM systems), `integration` (PRM systems that also read
plans and events, and administer nothing), `manager` (own partners only), `admin` (all).

Keys are configured hashed (`TIERWISE_API_KEYS`: JSON list of {key_sha256, role, manager_id,
name}); a presented key is hashed and compared with every configured hash in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request

from tierwise.errors import Forbidden, InvalidInput, Problem, Unauthorized
from tierwise.settings import Settings, get_settings

Role = Literal["scorer", "integration", "manager", "admin"]
ROLES: tuple[Role, ...] = ("scorer", "integration", "manager", "admin")
KEY_PREFIX = "tw_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a role, the manager the key is bound to (managers only), a name."""

    role: str
    manager_id: str | None = None
    name: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def authenticate_key(key: str | None, settings: Settings) -> Principal | None:
    """The principal a raw API key belongs to, or None. Every configured hash is compared."""
    if not key:
        return None
    digest = hash_key(key).encode()
    found: Principal | None = None
    for entry in settings.api_keys:
        if hmac.compare_digest(digest, entry.key_sha256.lower().encode()) and found is None:
            found = Principal(entry.role, entry.manager_id, entry.name)
    return found


def presented_key(request: Request) -> str | None:
    """The key from `Authorization: Bearer <key>` or `X-API-Key: <key>`.

    One rule for both headers: surrounding whitespace is not part of a key. An Authorization
    header of another scheme (`Basic ...`) is refused, never passed over for X-API-Key, and
    two different keys in the two headers are refused too.
    """
    auth = request.headers.get("authorization")
    header_key = (request.headers.get("x-api-key") or "").strip() or None
    if auth is None:
        return header_key
    scheme, _, token = auth.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthorized(
            f"Unsupported Authorization scheme '{scheme[:20]}': use 'Bearer <key>' or X-API-Key",
            [Problem("only Bearer is accepted", column="header.authorization", value=scheme[:20])],
        )
    bearer = token.strip()
    if not bearer:
        raise Unauthorized(
            "The Authorization header has no key after 'Bearer'",
            [Problem("empty bearer token", column="header.authorization")],
        )
    if header_key is not None and not hmac.compare_digest(header_key.encode(), bearer.encode()):
        raise Unauthorized(
            "Authorization and X-API-Key carry different keys; send one",
            [Problem("conflicting keys", column="header.x-api-key")],
        )
    return bearer


def settings_of(request: Request) -> Settings:
    """The app's settings (create_app stores them), else the process-wide ones."""
    settings = getattr(request.app.state, "settings", None)
    return settings if isinstance(settings, Settings) else get_settings()


def principal_of(request: Request) -> Principal:
    """The caller; 401 without a key or with a key that is not configured."""
    key = presented_key(request)
    if key is None:
        raise Unauthorized("An API key is required (Authorization: Bearer <key> or X-API-Key)")
    principal = authenticate_key(key, settings_of(request))
    if principal is None:
        raise Unauthorized("The API key is not valid")
    return principal


async def current_principal(request: Request) -> Principal:
    """Any authenticated caller (async: a sync dependency costs a thread-pool hop)."""
    return principal_of(request)


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require_role(*roles: Role) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that lets only the given roles through (401 no/bad key, 403 wrong role).

    One flat async dependency: each nested or sync dependency costs time on every request.
    """

    async def check(request: Request) -> Principal:
        principal = principal_of(request)
        if principal.role not in roles:
            raise Forbidden(
                f"Role '{principal.role}' may not call this endpoint (needs {' or '.join(roles)})"
            )
        return principal

    return check


def ensure_owner(principal: Principal, partner_id: str, owner: str | None) -> None:
    """Managers see only their own partners; 403 for someone else's."""
    if principal.role == "manager" and (owner is None or owner != principal.manager_id):
        raise Forbidden(
            f"Partner '{partner_id}' is not managed by '{principal.manager_id}'",
            [Problem("not your partner", column="partner_id", value=partner_id)],
        )


def new_key(role: str, manager_id: str | None = None, name: str = "") -> tuple[str, dict[str, str]]:
    """A fresh random key and the settings entry (hash only) that enables it."""
    if role not in ROLES:
        raise InvalidInput(
            f"Unknown role '{role}'", [Problem(f"one of {', '.join(ROLES)}", value=role)]
        )
    if (role == "manager") != bool(manager_id):
        raise InvalidInput(
            "A manager key needs --manager-id; other roles take none",
            [Problem("manager_id must be set for role manager only", value=manager_id)],
        )
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    entry = {"key_sha256": hash_key(key), "role": role, "name": name or role}
    if manager_id:
        entry["manager_id"] = manager_id
    return key, entry


def settings_json(entries: list[dict[str, str]]) -> str:
    return json.dumps(entries)
