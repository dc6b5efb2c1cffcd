"""Benchmark the program KPI report: `program_kpis` (period + 12-month trend + break-downs by
partner type and region) and `render_html`, on a simulated program.

Simulates once in this process, then times each step `--repeats` times and prints medians and
the peak RSS of the whole run (simulation included, so it is an upper bound).

    .venv/bin/python bench/bench_kpis.py                          # 100k partners, 2 years
    .venv/bin/python bench/bench_kpis.py --partners 10000 --repeats 3
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from features.kpi_report import render_html  # noqa: E402
from features.kpis import program_kpis  # noqa: E402
from simulation.program import simulate  # noqa: E402

END = datetime(2026, 6, 1, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=100_000)
    parser.add_argument("--years", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    t0 = time.perf_counter()
    tables = simulate(partners=args.partners, years=args.years, seed=7, end=END).tables
    rows = {name: len(frame) for name, frame in tables.items()}
    print(
        f"simulated in {time.perf_counter() - t0:.1f} s: "
        + ", ".join(f"{n} {r:,}" for n, r in rows.items())
    )

    kpi_times, html_times = [], []
    for _ in range(args.repeats):
        t1 = time.perf_counter()
        report = program_kpis(tables, as_of=END, quota=100)
        t2 = time.perf_counter()
        html = render_html(report, tables)
        t3 = time.perf_counter()
        kpi_times.append(t2 - t1)
        html_times.append(t3 - t2)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"program_kpis  median {statistics.median(kpi_times):.2f} s  (n={args.repeats}; "
        f"1 period + {len(report.trend)} monthly windows + "
        f"{sum(len(f) for f in report.breakdowns.values())} break-down groups)"
    )
    print(
        f"render_html   median {statistics.median(html_times) * 1000:.0f} ms  "
        f"({len(html) / 1024:.0f} KiB)"
    )
    print(f"peak RSS      {peak_mb:,.0f} MB (whole run, simulation included)")
    print(
        f"reproduce: .venv/bin/python bench/bench_kpis.py --partners {args.partners} "
        f"--years {args.years} --repeats {args.repeats}"
    )


if __name__ == "__main__":
    main()
