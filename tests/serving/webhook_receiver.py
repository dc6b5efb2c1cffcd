"""A real local HTTP receiver of Tierwise webhooks, as an integrator would write one.

It verifies `Tierwise-Signature` (HMAC-SHA256 over "<t>." + body with the shared secret, t
within 5 minutes), refuses an event id it has already handled (replay), and can be told to
fail its next answers. Runs `http.server` in a thread on 127.0.0.1.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from serving.webhooks import SIGNATURE_HEADER, SignatureError, verify


class Receiver:
    def __init__(self, secret: str, port: int = 0) -> None:
        self.secret = secret
        self.received: list[dict[str, Any]] = []  # accepted events
        self.raw: list[tuple[dict[str, str], bytes]] = []  # every request as it came
        self.refused: list[str] = []
        self.fail_next = 0
        self._seen: set[str] = set()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        self.raw.append((headers, body))
        if self.fail_next > 0:
            self.fail_next -= 1
            return 500, "down for maintenance"
        try:
            verify(self.secret, headers.get(SIGNATURE_HEADER.lower(), ""), body)
        except SignatureError as exc:
            self.refused.append(str(exc))
            return 401, str(exc)
        event = json.loads(body)
        if event["id"] in self._seen:
            self.refused.append(f"replay of event {event['id']}")
            return 409, "already handled"
        self._seen.add(event["id"])
        self.received.append(event)
        return 200, "ok"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, text = receiver.answer(headers, body)
                self.send_response(status)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text.encode())

            def log_message(self, *_: Any) -> None:
                pass

        return Handler
