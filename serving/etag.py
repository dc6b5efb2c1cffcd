"""ETag / If-None-Match for answers that change rarely (plans, rules, models).

The tag is a hash of the exact JSON sent, so it changes exactly when the answer does; a client
that presents it in `If-None-Match` gets 304 Not Modified with no body.
"""

from __future__ import annotations

import hashlib

from fastapi import Request, Response
from pydantic import BaseModel

CACHE_CONTROL = "private, no-cache"  # may be stored, must be revalidated


def tag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def matches(if_none_match: str | None, tag: str) -> bool:
    if not if_none_match:
        return False
    offered = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in offered or tag in offered


def json_answer(request: Request, answer: BaseModel) -> Response:
    """The answer as JSON with its ETag, or 304 when the client already holds it."""
    body = answer.model_dump_json().encode()
    tag = tag_of(body)
    headers = {"ETag": tag, "Cache-Control": CACHE_CONTROL}
    if matches(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
