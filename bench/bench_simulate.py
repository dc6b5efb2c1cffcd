"""Benchmark the simulator: wall time (median of runs), rows per table, peak memory.

    .venv/bin/python bench/bench_simulate.py                       # 100,000 partners x 2 years
    .venv/bin/python bench/bench_simulate.py --partners 2000 --runs 5
    .venv/bin/python bench/bench_simulate.py --truth                # + churn oracle timing

Each run is a fresh process (so peak memory is that run's own), on the same seed and end.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime

END = datetime(2026, 11, 23, tzinfo=UTC)


def one_run(partners: int, years: float, seed: int, truth: bool) -> dict[str, object]:
    from features.simulate import simulate

    started = time.perf_counter()
    sim = simulate(partners=partners, years=years, seed=seed, end=END)
    seconds = time.perf_counter() - started
    out: dict[str, object] = {
        "seconds": seconds,
        "rows": {name: len(frame) for name, frame in sim.tables.items()},
    }
    if truth:
        started = time.perf_counter()
        p = sim.truth.churn_probability(datetime(2026, 6, 1, tzinfo=UTC), 90)
        out["truth_seconds"] = time.perf_counter() - started
        out["truth_partners"] = len(p)
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=100_000)
    parser.add_argument("--years", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--truth", action="store_true", help="also time churn_probability")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_run(args.partners, args.years, args.seed, args.truth)))
        return
    results = []
    for _ in range(args.runs):
        cmd = [sys.executable, __file__, "--child", "--partners", str(args.partners),
               "--years", str(args.years), "--seed", str(args.seed)]
        if args.truth:
            cmd.append("--truth")
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    seconds = [float(r["seconds"]) for r in results]
    print(f"simulate: {args.partners:,} partners x {args.years:g} years, seed {args.seed}")
    print(f"  wall time  median {statistics.median(seconds):.1f} s "
          f"(runs: {', '.join(f'{s:.1f}' for s in seconds)})")
    print(f"  peak RSS   median {statistics.median(float(r['peak_mb']) for r in results):,.0f} MB")
    for name, rows in results[0]["rows"].items():
        print(f"  {name:<11} {rows:>12,} rows")
    if args.truth:
        t = [float(r["truth_seconds"]) for r in results]
        print(f"  churn truth (90 d, 256 paths) for {results[0]['truth_partners']:,} partners: "
              f"median {statistics.median(t):.1f} s")
    print(f"reproduce: .venv/bin/python bench/bench_simulate.py --partners {args.partners} "
          f"--years {args.years:g} --runs {args.runs}{' --truth' if args.truth else ''}")


if __name__ == "__main__":
    main()
