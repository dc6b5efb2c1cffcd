"""Benchmark the simulator: wall time (median of runs), rows per table, peak memory.

    .venv/bin/python bench/bench_simulate.py                       # 100,000 partners x 2 years
    .venv/bin/python bench/bench_simulate.py --partners 2000 --runs 5
    .venv/bin/python bench/bench_simulate.py --partners 50000 --truth   # + churn truth

Each run is a fresh process (so peak memory is that run's own), on the same seed and end.

`--truth` also times the churn truth (`Truth.churn_estimate`) on the same program, side by
side: "before" = the original estimator (`method="plain"`, a simulated 0/1 label per path,
256 paths) and "after" = the default (`method="conditional"`, the Rao-Blackwellised
estimator, default paths), each over the same as_ofs (the three month starts the training
bench tests on, 90-day horizon). Prints the median time per as_of and in total, the
standard errors each reports, how far the two estimates are apart (in combined standard
errors), a repeated call (cached) and two 1,000-partner subsets (consecutive partners, and
partners spread over every block: a subset costs the blocks of 1,024 partners it touches).
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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulation.program import Simulation
    from simulation.truth_oracle import Method

END = datetime(2026, 11, 23, tzinfo=UTC)


AS_OFS = [datetime(2026, m, 1, tzinfo=UTC) for m in (6, 7, 8)]
HORIZON = 90


def time_truth(sim: Simulation, reference_paths: int) -> dict[str, object]:
    """Before (plain, `reference_paths`) and after (conditional, default paths), per as_of."""
    import numpy as np
    import pandas as pd

    from simulation.truth import Truth
    from simulation.truth_oracle import PILOT_PATHS, SE_TARGET

    out: dict[str, object] = {"se_target": SE_TARGET, "pilot": PILOT_PATHS}
    estimates: dict[str, list[pd.DataFrame]] = {}
    runs: list[tuple[Method, int | None]] = [("plain", reference_paths), ("conditional", None)]
    for method, paths in runs:
        truth = Truth(deal_acceptance=sim.truth.deal_acceptance, latent=sim.truth.latent)
        seconds = []
        for as_of in AS_OFS:
            started = time.perf_counter()
            est = truth.churn_estimate(as_of, HORIZON, paths=paths, method=method)
            seconds.append(time.perf_counter() - started)
            estimates.setdefault(method, []).append(est)
        out[f"{method}_seconds"] = seconds
        both = pd.concat(estimates[method])
        se = both["se"].to_numpy()
        out[f"{method}_se"] = [
            float(np.nanmedian(se)),
            float(np.nanquantile(se, 0.99)),
            float(np.nanmax(se)),
        ]
        simulated = both["paths"].to_numpy()
        out[f"{method}_paths"] = float(simulated[simulated > 0].mean())
        if method == "conditional":
            started = time.perf_counter()
            truth.churn_estimate(AS_OFS[0], HORIZON, paths=paths)
            out["cached_seconds"] = time.perf_counter() - started
            first = estimates[method][0].index
            for name, ids in (
                ("subset", first[:1000]),
                ("scattered", first[:: max(1, len(first) // 1000)][:1000]),
            ):
                fresh = Truth(deal_acceptance=sim.truth.deal_acceptance, latent=sim.truth.latent)
                started = time.perf_counter()
                fresh.churn_estimate(AS_OFS[0], HORIZON, paths=paths, partner_ids=ids)
                out[f"{name}_seconds"] = time.perf_counter() - started
    plain, cond = pd.concat(estimates["plain"]), pd.concat(estimates["conditional"])
    diff = (cond["p_churn"] - plain["p_churn"]).to_numpy()
    se = np.sqrt(cond["se"].to_numpy() ** 2 + plain["se"].to_numpy() ** 2)
    out["partners"] = [len(e) for e in estimates["plain"]]
    out["mean"] = [float(plain["p_churn"].mean()), float(cond["p_churn"].mean())]
    out["mean_abs_diff"] = float(np.abs(diff).mean())
    out["mean_diff_in_se"] = float(diff.sum() / np.sqrt(np.nansum(se**2)))
    return out


def one_run(
    partners: int, years: float, seed: int, truth: bool, reference_paths: int
) -> dict[str, object]:
    from simulation.program import simulate

    started = time.perf_counter()
    sim = simulate(partners=partners, years=years, seed=seed, end=END)
    seconds = time.perf_counter() - started
    out: dict[str, object] = {
        "seconds": seconds,
        "rows": {name: len(frame) for name, frame in sim.tables.items()},
    }
    if truth:
        out["truth"] = time_truth(sim, reference_paths)
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=100_000)
    parser.add_argument("--years", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--truth", action="store_true", help="also time the churn truth")
    parser.add_argument(
        "--reference-paths",
        type=int,
        default=256,
        help="paths of the original (plain) churn truth estimator",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(
            json.dumps(
                one_run(args.partners, args.years, args.seed, args.truth, args.reference_paths)
            )
        )
        return
    results = []
    for _ in range(args.runs):
        cmd = [
            sys.executable,
            __file__,
            "--child",
            "--partners",
            str(args.partners),
            "--years",
            str(args.years),
            "--seed",
            str(args.seed),
        ]
        if args.truth:
            cmd += ["--truth", "--reference-paths", str(args.reference_paths)]
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    seconds = [float(r["seconds"]) for r in results]
    print(f"simulate: {args.partners:,} partners x {args.years:g} years, seed {args.seed}")
    print(
        f"  wall time  median {statistics.median(seconds):.1f} s "
        f"(runs: {', '.join(f'{s:.1f}' for s in seconds)})"
    )
    print(f"  peak RSS   median {statistics.median(float(r['peak_mb']) for r in results):,.0f} MB")
    for name, rows in results[0]["rows"].items():
        print(f"  {name:<11} {rows:>12,} rows")
    if args.truth:
        print_truth([r["truth"] for r in results], args.reference_paths)
    extra = f" --truth --reference-paths {args.reference_paths}" if args.truth else ""
    print(
        f"reproduce: .venv/bin/python bench/bench_simulate.py --partners {args.partners} "
        f"--years {args.years:g} --runs {args.runs}{extra}"
    )


def print_truth(runs: list[dict[str, Any]], reference_paths: int) -> None:
    first = runs[0]
    med = statistics.median
    days = ", ".join(a.date().isoformat() for a in AS_OFS)
    print(
        f"  churn truth, {HORIZON}-day horizon, as_of {days} "
        f"({', '.join(f'{n:,}' for n in first['partners'])} active partners)"
    )
    labels = {
        "plain": f"before: plain, {reference_paths} paths",
        "conditional": f"after:  conditional, SE target {first['se_target']}",
    }
    for method, label in labels.items():
        per = [med(float(r[f"{method}_seconds"][i]) for r in runs) for i in range(len(AS_OFS))]
        total = med(sum(r[f"{method}_seconds"]) for r in runs)
        se = first[f"{method}_se"]
        print(
            f"    {label:<36} total median {total:6.1f} s  (per as_of "
            f"{', '.join(f'{x:.1f}' for x in per)})  SE median {se[0]:.4f} "
            f"p99 {se[1]:.4f} max {se[2]:.4f}  paths/partner {first[f'{method}_paths']:.1f}"
            + (f" (+ {first['pilot']} pilot)" if method == "conditional" else "")
        )
    before = med(sum(r["plain_seconds"]) for r in runs)
    after = med(sum(r["conditional_seconds"]) for r in runs)
    print(
        f"    speed-up {before / after:.1f}x; mean P(churn) before {first['mean'][0]:.4f} "
        f"after {first['mean'][1]:.4f}; mean |after - before| {first['mean_abs_diff']:.4f}; "
        f"summed difference {first['mean_diff_in_se']:+.2f} combined SE"
    )
    cached = med(float(r["cached_seconds"]) for r in runs)
    subset = med(float(r["subset_seconds"]) for r in runs)
    scattered = med(float(r["scattered_seconds"]) for r in runs)
    print(
        f"    repeated call (cached) median {cached:.3f} s; 1,000 partners (fresh): "
        f"consecutive median {subset:.2f} s, spread over all blocks {scattered:.2f} s"
    )


if __name__ == "__main__":
    main()
