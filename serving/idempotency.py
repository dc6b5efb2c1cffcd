"""`Idempotency-Key` on the POSTs that write: a retry gets the first answer, not a second write.

Pure ASGI middleware. The first request with a key claims it (a row keyed by the caller's key
hash + the Idempotency-Key, holding the request's hash); its answer is stored when it ends.
A retry with the same body gets the stored answer again (`Idempotent-Replayed: true`); the
same key with a different request is 422; a retry while the first still runs is 409.
Answers that say nothing about the write (401, 403, 429, 5xx) are not kept, so the retry runs.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.db import IdempotencyRecord, ready_engine, session_scope
from serving.problems import problem_response
from tierwise.settings import Settings

log = logging.getLogger(__name__)

HEADER = b"idempotency-key"
WRITES = tuple(
    re.compile(p)
    for p in (
        r"^/v1/actions/[^/]+/review$",
        r"^/v1/webhooks$",
        r"^/v1/deal-registrations/[^/]+/decision$",
        r"^/v1/admin/reload$",
    )
)
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, as RFC 8941 tokens/strings
NOT_KEPT = frozenset({401, 403, 408, 429})


def applies(method: str, path: str) -> bool:
    """Whether `Idempotency-Key` is honoured on this request (or path template)."""
    return method == "POST" and any(p.match(path) for p in WRITES)


@dataclass(frozen=True)
class Claim:
    outcome: Literal["new", "replay", "mismatch", "in_flight"]
    record_id: int
    status: int | None = None
    content_type: str | None = None
    body: str | None = None


class IdempotencyStore:
    """The records, in the service database."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.db_url
        self.ttl = timedelta(hours=settings.idempotency_ttl_hours)

    def claim(self, *, owner: str, key: str, method: str, path: str, digest: str) -> Claim:
        now = datetime.now(UTC)
        engine = ready_engine(self.url)
        with session_scope(engine) as session:
            session.execute(
                delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - self.ttl)
            )
        try:
            with session_scope(engine) as session:
                record = IdempotencyRecord(
                    owner=owner, key=key, method=method, path=path, request_hash=digest
                )
                session.add(record)
                session.flush()
                return Claim("new", record.id)
        except IntegrityError:
            pass
        with session_scope(engine) as session:
            found = session.scalar(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.owner == owner, IdempotencyRecord.key == key
                )
            )
            if found is None:  # expired and removed in between: claim again
                return self.claim(owner=owner, key=key, method=method, path=path, digest=digest)
            if found.request_hash != digest:
                return Claim("mismatch", found.id)
            if found.status is None:
                return Claim("in_flight", found.id)
            return Claim("replay", found.id, found.status, found.content_type, found.body)

    def finish(self, record_id: int, *, status: int, content_type: str | None, body: str) -> None:
        with session_scope(ready_engine(self.url)) as session:
            record = session.get(IdempotencyRecord, record_id)
            if record is not None:
                record.status, record.content_type, record.body = status, content_type, body

    def release(self, record_id: int) -> None:
        with session_scope(ready_engine(self.url)) as session:
            session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id))


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.store = IdempotencyStore(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not applies(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        raw_key = headers.get(HEADER)
        owner = _owner(headers)
        if raw_key is None or owner is None:  # no key, or no caller: the app answers (401)
            await self.app(scope, receive, send)
            return
        key = raw_key.decode("latin-1")
        if not KEY_PATTERN.match(key):
            await _problem(scope, receive, send, 422, "Invalid input", "Bad Idempotency-Key", key)
            return
        body, replay = await _read(receive)
        digest = _digest(scope, body)
        claim = await run_in_threadpool(
            self.store.claim,
            owner=owner,
            key=key,
            method=scope["method"],
            path=scope["path"],
            digest=digest,
        )
        if claim.outcome == "mismatch":
            detail = "This Idempotency-Key was used with a different request"
            await _problem(scope, receive, send, 422, "Invalid input", detail, key)
        elif claim.outcome == "in_flight":
            detail = "A request with this Idempotency-Key is still being processed"
            await _problem(scope, receive, send, 409, "Conflict", detail, key, retry=True)
        elif claim.outcome == "replay":
            await _replay(claim, send)
        else:
            await self._first(scope, replay, send, claim.record_id)

    async def _first(self, scope: Scope, receive: Receive, send: Send, record_id: int) -> None:
        status = 500
        content_type: str | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                content_type = dict(message.get("headers", [])).get(b"content-type", b"").decode()
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            if status >= 500 or status in NOT_KEPT:
                await run_in_threadpool(self.store.release, record_id)
            else:
                text = b"".join(chunks).decode("utf-8", "replace")
                await run_in_threadpool(
                    self.store.finish,
                    record_id,
                    status=status,
                    content_type=content_type,
                    body=text,
                )


def _owner(headers: dict[bytes, bytes]) -> str | None:
    """Whose key this is: the hash of the presented API key (records are per key)."""
    auth = headers.get(b"authorization", b"")
    scheme, _, token = auth.partition(b" ")
    key = token.strip() if scheme.lower() == b"bearer" else b""
    key = key or headers.get(b"x-api-key", b"")
    return hashlib.sha256(key).hexdigest()[:64] if key else None


def _digest(scope: Scope, body: bytes) -> str:
    h = hashlib.sha256()
    for part in (scope["method"].encode(), scope["path"].encode(), scope["query_string"], body):
        h.update(part + b"\0")
    return h.hexdigest()


async def _read(receive: Receive) -> tuple[bytes, Receive]:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


async def _replay(claim: Claim, send: Send) -> None:
    body = (claim.body or "").encode()
    headers = [
        (b"content-type", (claim.content_type or "application/json").encode()),
        (b"content-length", str(len(body)).encode()),
        (b"idempotent-replayed", b"true"),
    ]
    await send({"type": "http.response.start", "status": claim.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _problem(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    title: str,
    detail: str,
    key: str,
    *,
    retry: bool = False,
) -> None:
    response = problem_response(
        status,
        title,
        detail,
        instance=scope["path"],
        errors=[{"loc": ["header", "Idempotency-Key"], "message": detail, "value": key[:255]}],
        headers={"Retry-After": "1"} if retry else None,
        request_id=scope.get("request_id"),
    )
    await response(scope, receive, send)
