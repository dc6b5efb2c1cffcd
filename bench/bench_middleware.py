"""What each of the service's ASGI middlewares costs per request, in isolation (µs of CPU).

    .venv/bin/python bench/bench_middleware.py [--requests 5000]

Each middleware wraps a trivial app answering 4 KB (as POST /v1/score does); the figure is the
median over 5 runs minus nothing (the bare app is printed too). The JSON access log writes to a
temporary file, as `tierwise serve` writes it to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from serving.idempotency import IdempotencyMiddleware  # noqa: E402
from serving.metrics import Metrics  # noqa: E402
from serving.middleware import ServiceMiddleware  # noqa: E402
from serving.traffic import GZipWhenAsked, TrafficMiddleware  # noqa: E402
from tierwise.settings import Settings  # noqa: E402

BODY = b"x" * 4000
HEADERS = [
    (b"host", b"x"),
    (b"content-type", b"application/json"),
    (b"x-api-key", b"k"),
    (b"content-length", b"4000"),
]


async def app(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": BODY})


async def one(stack: Any) -> None:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/score",
        "query_string": b"",
        "headers": HEADERS,
        "client": ("127.0.0.1", 1),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(_: Any) -> None:
        pass

    await stack(scope, receive, send)


async def measure(stack: Any, requests: int) -> float:
    for _ in range(requests // 2):
        await one(stack)
    runs = []
    for _ in range(5):
        start = time.process_time()
        for _ in range(requests):
            await one(stack)
        runs.append((time.process_time() - start) / requests * 1e6)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    settings = Settings(rate_limit_per_minute=10**9)
    log = logging.getLogger("tierwise.access")
    log.addHandler(logging.FileHandler(Path(tempfile.mkdtemp()) / "access.log"))
    log.propagate = False
    stacks = {
        "bare app": app,
        "body limit + metrics (ServiceMiddleware)": ServiceMiddleware(
            app, max_body_bytes=2_000_000, metrics=Metrics()
        ),
        "idempotency (a path it does not guard)": IdempotencyMiddleware(app, settings=settings),
        "gzip (client does not ask)": GZipWhenAsked(app, minimum_size=2048),
        "traffic, access log off": TrafficMiddleware(app, settings=settings),
    }
    log.setLevel(logging.WARNING)
    for name, stack in stacks.items():
        print(f"{name}: {asyncio.run(measure(stack, args.requests)):.1f} µs/request", flush=True)
    log.setLevel(logging.INFO)
    traffic = TrafficMiddleware(app, settings=settings)
    cost = asyncio.run(measure(traffic, args.requests))
    print(f"traffic, JSON access log on: {cost:.1f} µs/request")
    print(f"reproduce: .venv/bin/python bench/bench_middleware.py --requests {args.requests}")


if __name__ == "__main__":
    main()
