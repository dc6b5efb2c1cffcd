"""Soak: `POST /v1/score` at a fixed rate for minutes; errors, latency and memory per worker.

    .venv/bin/python bench/bench_soak.py [--data DIR] [--minutes 10] [--rate 1000] [--workers 2]

Serves with `tierwise serve` (the data of bench_serving.py, prepared there when absent) and
drives it open-loop: request i is due at start + i/rate, its latency counts from when it was
due (no coordinated omission), on keep-alive connections from raw sockets. Every 5 s it
samples each uvicorn worker's RSS; the slope (MB per minute, least squares, after the first
minute of warm-up) says whether memory is flat. Aim: 0 errors, flat memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_serving as serving_bench  # noqa: E402

CONNECTIONS = 32
SAMPLE_S = 5.0


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    late: int = 0  # requests sent more than 100 ms after they were due (generator lagging)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


def workers_of(master: int) -> list[int]:
    """The uvicorn worker processes (children of the server's process tree)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    tree, frontier = [], [master]
    while frontier:
        for child in children.get(frontier.pop(), []):
            tree.append(child)
            frontier.append(child)
    return [p for p in tree if _rss_mb(p) > 50] or [master]  # skip tiny helper processes


def _rss_mb(pid: int) -> float:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    found = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(found.group(1)) / 1024 if found else 0.0


def slope_mb_per_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB), in MB per minute."""
    if len(samples) < 3:
        return float("nan")
    xs = [t for t, _ in samples]
    ys = [m for _, m in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return cov / var * 60 if var else float("nan")


async def drive(url: str, body: bytes, key: str, rate: float, seconds: float, tally: Tally) -> None:
    host, rest = url.split("//", 1)[1].split(":", 1)
    port, path = rest.split("/", 1)
    request = (
        f"POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"X-API-Key: {key}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    start = time.perf_counter()
    total = int(rate * seconds)
    next_slot = 0

    async def connection() -> None:
        nonlocal next_slot
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while next_slot < total:
                slot = next_slot
                next_slot += 1
                due = start + slot / rate
                wait = due - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                elif wait < -0.1:
                    tally.late += 1
                try:
                    writer.write(request)
                    header = await reader.readuntil(b"\r\n\r\n")
                    length = re.search(rb"content-length: (\d+)", header.lower())
                    await reader.readexactly(int(length.group(1)) if length else 0)
                except (OSError, asyncio.IncompleteReadError) as exc:
                    tally.error(type(exc).__name__)
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, int(port))
                    continue
                status = header.split(b" ", 2)[1].decode()
                if status != "200":
                    tally.error(f"HTTP {status}")
                tally.latencies.append(time.perf_counter() - due)
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))


async def sample_memory(
    master: int, seconds: float, samples: dict[int, list[tuple[float, float]]]
) -> None:
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for pid in workers_of(master):
            samples.setdefault(pid, []).append((elapsed, _rss_mb(pid)))
        await asyncio.sleep(SAMPLE_S)


async def soak(
    url: str, body: bytes, key: str, rate: float, seconds: float, master: int
) -> tuple[Tally, dict[int, list[tuple[float, float]]]]:
    tally, samples = Tally(), {}
    await asyncio.gather(
        drive(url, body, key, rate, seconds, tally), sample_memory(master, seconds, samples)
    )
    return tally, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=serving_bench.DEFAULT_DIR)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=1000.0, help="requests per second")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    serving_bench.prepare(args.data)
    features, as_of, pid = serving_bench.one_partner(args.data)
    body = json.dumps({"partner_id": pid, "as_of": as_of.isoformat(), "features": features})
    logs = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    proc, url = serving_bench.start_tierwise(args.data, args.workers, logs)
    seconds = args.minutes * 60
    try:
        tally, samples = asyncio.run(
            soak(url, body.encode(), serving_bench.KEY, args.rate, seconds, proc.pid)
        )
    finally:
        serving_bench.stop(proc)
    report(args, tally, samples, seconds, logs)


def report(
    args: Any,
    tally: Tally,
    samples: dict[int, list[tuple[float, float]]],
    seconds: float,
    logs: Path,
) -> None:
    lat = sorted(tally.latencies)
    n = len(lat)
    errors = sum(tally.errors.values())
    print(
        f"soak: POST /v1/score at {args.rate:,.0f} req/s for {args.minutes:g} min, "
        f"{args.workers} worker(s), {CONNECTIONS} connections: {n:,} answered "
        f"({n / seconds:,.0f} req/s), {errors} errors {tally.errors or ''}"
    )
    if n:
        print(
            f"latency from when each request was due: p50 {lat[n // 2] * 1e3:.2f} ms, "
            f"p99 {lat[int(n * 0.99)] * 1e3:.2f} ms, max {lat[-1] * 1e3:.1f} ms; "
            f"{tally.late:,} requests sent > 100 ms late (load generator behind)"
        )
    for pid, points in sorted(samples.items()):
        warm = [(t, m) for t, m in points if t >= min(60.0, seconds / 3)]
        first, last = points[0][1], points[-1][1]
        print(
            f"worker {pid}: RSS {first:.0f} → {last:.0f} MB, slope after warm-up "
            f"{slope_mb_per_min(warm):+.2f} MB/min ({len(points)} samples)"
        )
    print(
        f"machine load average: {Path('/proc/loadavg').read_text().split()[:3]} on "
        f"{os.cpu_count()} cores (the load generator shares them)"
    )
    print(
        f"reproduce: .venv/bin/python bench/bench_soak.py --data {args.data} "
        f"--minutes {args.minutes:g} --rate {args.rate:g} --workers {args.workers}  "
        f"(server log in {logs})"
    )


if __name__ == "__main__":
    main()
