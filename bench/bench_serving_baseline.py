"""Serving speed before/after, side by side: in-process recommend_one (wall and CPU), HTTP
POST /v1/score (req/s, p99, server CPU per request, share of the bare-FastAPI floor) and the
500-partner batch, of this tree and of git revision REF, alternating rounds under the same
machine load.

    .venv/bin/python bench/bench_serving_baseline.py --baseline main [--seconds 5] [--workers 2]

REF is extracted read-only with `git archive` into a temporary folder; each tree is measured
in a child process with its own `bench/bench_serving.py` (same data: --data, trained once).
The floor (bench/floor_app.py) is measured once per round. Figures are medians over rounds;
CPU times (process CPU per call or per request) are steadier than wall times on a shared
machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

CHILD = """
import json, sys, tempfile, time
from pathlib import Path
tree, data, seconds = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
sys.path[:0] = [str(tree), str(tree / "bench")]
import bench_serving as b
import httpx
from serving.recommend import recommend_one
from concurrent.futures import ThreadPoolExecutor
first_ready = b.wait_ready
def status(url):
    try:
        return httpx.get(url, timeout=5).status_code
    except httpx.TransportError:
        return 0
def wait_every_worker(url, proc, timeout=180.0):
    # a worker answers 503 until it has loaded: 8 concurrent fresh connections (so every
    # worker takes some) all 200, five times in a row
    first_ready(url, proc, timeout)
    ok, deadline = 0, time.monotonic() + timeout
    with ThreadPoolExecutor(8) as pool:
        while ok < 5 and time.monotonic() < deadline:
            ok = ok + 1 if set(pool.map(status, [url] * 8)) == {200} else 0
            time.sleep(0.2 if ok else 1.0)
b.wait_ready = wait_every_worker
from serving.service_state import load_from_settings
from tierwise.settings import Settings
features, as_of, pid = b.one_partner(data)
body = {"partner_id": pid, "as_of": as_of.isoformat(), "features": features}
median, mean = b.bench_in_process(data, features, as_of, pid)
loaded = load_from_settings(Settings(data_dir=data))
cpu = []
for _ in range(5):
    start = time.process_time()
    for _ in range(2000):
        recommend_one(features, rulebook=loaded.rulebook, models=loaded.models, as_of=as_of,
                      partner_id=pid)
    cpu.append((time.process_time() - start) / 2000 * 1e6)
batch = b.bench_batch(data, body)
logs = Path(tempfile.mkdtemp(prefix="bench-serving-"))
http = {w: b.bench_tierwise(data, body, seconds, int(w), logs) for w in sys.argv[4:]}
print(json.dumps({"median": median, "mean": mean, "cpu": min(cpu), "batch": batch, "http": http}))
"""


def source_tree(ref: str) -> Path:
    """The source tree of git revision `ref`, extracted into a temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix="bench-serving-baseline-"))
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def measure(tree: Path, data: Path, seconds: float, workers: list[int]) -> dict[str, Any]:
    """One tree's figures, measured in a child process that imports only that tree."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(tree), str(data), str(seconds)]
        + [str(w) for w in workers],
        cwd=tree,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"measuring {tree} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _median(results: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in results))


def main() -> None:
    import bench_serving

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", metavar="REF", default="main")
    parser.add_argument("--data", type=Path, default=bench_serving.DEFAULT_DIR)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[2])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    bench_serving.prepare(args.data)
    trees = {"this tree": ROOT, f"baseline {args.baseline}": source_tree(args.baseline)}
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    floors: dict[int, list[dict[str, float]]] = {w: [] for w in args.workers}
    features, as_of, pid = bench_serving.one_partner(args.data)
    body = {"partner_id": pid, "as_of": as_of.isoformat(), "features": features}
    logs = Path(tempfile.mkdtemp(prefix="bench-serving-floor-"))
    for _ in range(args.rounds):
        for name, tree in trees.items():
            rounds[name].append(measure(tree, args.data, args.seconds, args.workers))
        for w in args.workers:
            floors[w].append(bench_serving.bench_floor(args.data, body, args.seconds, w, logs))
    for name, results in rounds.items():
        print(
            f"{name:>16}: recommend_one median {_median(results, 'median'):.0f} µs wall, "
            f"{_median(results, 'cpu'):.0f} µs CPU per partner (target <= 200 µs); "
            f"batch of 500: {_median(results, 'batch'):,.0f} partners/s (aim 20,000)"
        )
        for w in args.workers:
            http = [r["http"][str(w)] for r in results]
            rps, cpu = _median(http, "rps"), _median(http, "cpu_us")
            floor_rps, floor_cpu = _median(floors[w], "rps"), _median(floors[w], "cpu_us")
            print(
                f"{'':>16}  POST /v1/score, {w} worker(s), {bench_serving.CONNECTIONS} "
                f"connections: {rps:,.0f} req/s, p99 {_median(http, 'p99_ms'):.2f} ms, "
                f"server CPU {cpu:.0f} µs/request = {rps / floor_rps:.0%} of the floor by "
                f"req/s, {floor_cpu / cpu:.0%} by server CPU (aim >= 60%)"
            )
    for w in args.workers:
        print(
            f"{'floor':>16}: bare FastAPI, {w} worker(s): {_median(floors[w], 'rps'):,.0f} req/s, "
            f"server CPU {_median(floors[w], 'cpu_us'):.0f} µs/request"
        )
    print(
        f"medians of {args.rounds} alternating rounds; machine load average "
        f"{Path('/proc/loadavg').read_text().split()[:3]} on {os.cpu_count()} cores"
    )
    workers = " ".join(str(w) for w in args.workers)
    print(
        f"reproduce: .venv/bin/python bench/bench_serving_baseline.py --baseline {args.baseline} "
        f"--data {args.data} --seconds {args.seconds:g} --workers {workers} "
        f"--rounds {args.rounds}"
    )


if __name__ == "__main__":
    main()
