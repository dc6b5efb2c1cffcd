"""One pure-ASGI middleware: body-size limit (Content-Length and while reading) + metrics.

Pure ASGI (no BaseHTTPMiddleware) keeps the per-request overhead to a few microseconds.
The body is read before the app sees it, so an oversized body is refused with 413
problem+json whether or not the client announced its length.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.metrics import Metrics
from serving.problems import problem_response


class ServiceMiddleware:
    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, metrics: Metrics, max_batch: int = 500
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_batch = max_batch
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            replay = await self._read_body(scope, receive)
            if replay is None:
                status = 413
                await self._too_large(scope, receive, send)
                return
            await self.app(scope, replay, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            self.metrics.observe(scope["method"], route_template(scope), status, elapsed)

    async def _read_body(self, scope: Scope, receive: Receive) -> Receive | None:
        """A receive that replays the whole body, or None when it is over the limit."""
        limit = self.max_body_bytes
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    if int(value) > limit:
                        return None
                except ValueError:
                    pass
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # disconnect: let the app see it
                first: Message = message
                break
            body = message.get("body", b"")
            size += len(body)
            if size > limit:
                return None
            chunks.append(body)
            if not message.get("more_body", False):
                first = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
                break
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return first
            return await receive()

        return replay

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"The request body exceeds {self.max_body_bytes} bytes"
        if scope.get("path", "").endswith("/score/batch"):
            detail += f" (a batch holds at most {self.max_batch} partners)"
        response = problem_response(
            413,
            "Payload too large",
            detail,
            instance=scope.get("path", ""),
            errors=[{"loc": ["body"], "message": f"at most {self.max_body_bytes} bytes"}],
            headers={"Connection": "close"},
            request_id=scope.get("request_id"),
        )
        await response(scope, receive, send)


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"
