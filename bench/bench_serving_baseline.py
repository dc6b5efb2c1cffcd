"""Serving speed before/after, side by side: in-process recommend_one and HTTP POST /v1/score
of this tree and of git revision REF, alternating (two rounds each) under the same machine load.

    .venv/bin/python bench/bench_serving_baseline.py --baseline main [--seconds 5] [--workers 2]

REF is extracted read-only with `git archive` into a temporary folder; each tree is measured
in a child process with its own `bench/bench_serving.py` (same data: --data, trained once).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

CHILD = """
import json, sys, tempfile
from pathlib import Path
tree, data, seconds = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
sys.path[:0] = [str(tree), str(tree / "bench")]
import bench_serving as b
features, as_of, pid = b.one_partner(data)
body = {"partner_id": pid, "as_of": as_of.isoformat(), "features": features}
median, mean = b.bench_in_process(data, features, as_of, pid)
logs = Path(tempfile.mkdtemp(prefix="bench-serving-"))
http = {w: b.bench_tierwise(data, body, seconds, int(w), logs) for w in sys.argv[4:]}
print(json.dumps({"median": median, "mean": mean, "http": http}))
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
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    import bench_serving

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", metavar="REF", default="main")
    parser.add_argument("--data", type=Path, default=bench_serving.DEFAULT_DIR)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[2])
    args = parser.parse_args()
    bench_serving.prepare(args.data)
    trees = {"this tree": ROOT, f"baseline {args.baseline}": source_tree(args.baseline)}
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    for _ in range(2):
        for name, tree in trees.items():
            rounds[name].append(measure(tree, args.data, args.seconds, args.workers))
    for name, results in rounds.items():
        median = min(r["median"] for r in results)
        print(f"{name:>16}: recommend_one median {median:.0f} µs per partner (target < 200 µs)")
        for w in args.workers:
            best = max((r["http"][str(w)] for r in results), key=lambda h: h["rps"])
            print(
                f"{'':>16}  POST /v1/score, {w} worker(s), {bench_serving.CONNECTIONS} "
                f"connections: {best['rps']:,.0f} req/s, p99 {best['p99_ms']:.2f} ms"
            )
    print(
        f"best of 2 alternating rounds; machine load average "
        f"{Path('/proc/loadavg').read_text().split()[:3]} on {os.cpu_count()} cores"
    )
    workers = " ".join(str(w) for w in args.workers)
    print(
        f"reproduce: .venv/bin/python bench/bench_serving_baseline.py --baseline {args.baseline} "
        f"--data {args.data} --seconds {args.seconds:g} --workers {workers}"
    )


if __name__ == "__main__":
    main()
