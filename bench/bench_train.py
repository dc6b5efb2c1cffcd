"""Benchmark training: both models trained, evaluated (+ oracle), logged and registered.

    .venv/bin/python bench/bench_train.py                          # 50,000 partners x 2 years
    .venv/bin/python bench/bench_train.py --partners 5000 --runs 3
    .venv/bin/python bench/bench_train.py --no-oracle              # skip the Monte-Carlo truth
    .venv/bin/python bench/bench_train.py --oracle-paths 64        # cheaper, noisier oracle

The program is simulated once (not timed) into a temporary directory; each run is a fresh
`train_all` into a fresh SQLite MLflow store there. Prints time per stage (median over runs),
the test-period AUCs, the oracle gap and calibration error, and the target check
(AUC within 0.03 of the oracle, ECE < 0.02, total < 180 s).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

END = datetime(2026, 11, 23, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=50_000)
    parser.add_argument("--years", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--no-oracle", action="store_true")
    parser.add_argument("--oracle-paths", type=int, default=None)
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument("--model", choices=["churn", "deal", "both"], default="both")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.pop("MLFLOW_TRACKING_URI", None)

    from simulation.program import simulate, write_simulation
    from tierwise.settings import Settings
    from training.train import train_all

    root = Path(tempfile.mkdtemp(prefix="bench-train-"))
    started = time.perf_counter()
    sim = simulate(partners=args.partners, years=args.years, seed=args.seed, end=END)
    write_simulation(sim, root / "data")
    print(
        f"simulated {args.partners:,} partners x {args.years} years in "
        f"{time.perf_counter() - started:.1f} s (not counted)"
    )
    print("rows: " + ", ".join(f"{n} {len(f):,}" for n, f in sim.tables.items()))
    del sim

    totals: list[float] = []
    stages: dict[str, list[float]] = {}
    last = None
    for run in range(args.runs):
        store = root / f"store{run}"
        store.mkdir()
        settings = Settings(data_dir=store)
        started = time.perf_counter()
        models = ("churn", "deal") if args.model == "both" else (args.model,)
        last = train_all(
            root / "data",
            settings=settings,
            models=models,  # type: ignore[arg-type]
            oracle=not args.no_oracle,
            oracle_paths=args.oracle_paths,
            make_plots=not args.no_plots,
        )
        totals.append(time.perf_counter() - started)
        for kind, result in last.items():
            for stage, seconds in result.timings.items():
                stages.setdefault(f"{kind}: {stage}", []).append(seconds)
    assert last is not None

    print(
        f"\nmedian over {args.runs} run(s), load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    for name, values in stages.items():
        print(f"  {name:<28} {statistics.median(values):7.1f} s")
    total = statistics.median(totals)
    print(f"  {'total (load + models)':<28} {total:7.1f} s")
    print()
    ok = total < 180
    for kind, result in last.items():
        ev, f = result.evaluation, result.fitted
        m = ev.metrics
        line = (
            f"{kind:<6} train {f.counts['train']:,} / val {f.counts['validation']:,} / "
            f"test {f.counts['test']:,}  AUC model {m['model']['roc_auc']:.4f} "
            f"baseline {m['baseline']['roc_auc']:.4f}"
        )
        if "oracle" in m:
            line += f" oracle {m['oracle']['roc_auc']:.4f} gap {ev.oracle_gap:+.4f}"
            ok &= (ev.oracle_gap or 0) <= 0.03
        line += (
            f"  ECE model {m['model']['ece']:.4f} baseline {m['baseline']['ece']:.4f}"
            f"  best iteration {f.scorer.booster.current_iteration()}"
        )
        ok &= m["model"]["ece"] < 0.02
        print(line)
    checked = "AUC gap <= 0.03, " if not args.no_oracle else "(no oracle) "
    verdict = "met" if ok else "NOT met"
    print(f"\ntargets ({checked}ECE < 0.02, total < 180 s): {verdict}")
    print("reproduce: .venv/bin/python bench/bench_train.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
