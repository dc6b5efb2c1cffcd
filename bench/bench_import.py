"""Benchmark `tierwise import`: a transaction log of N rows, and a simulated program's
Salesforce exports, each read, mapped, validated and written as Parquet.

Prints the median seconds per step, rows per second and the peak RSS of the run (an upper
bound: the simulation is included).

    .venv/bin/python bench/bench_import.py                                  # 1M rows, 10k partners
    .venv/bin/python bench/bench_import.py --rows 100000 --partners 2000 --repeats 1
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from features.importer import import_source, write_import  # noqa: E402
from simulation.program import simulate  # noqa: E402
from simulation.salesforce import write_salesforce  # noqa: E402

END = datetime(2026, 6, 1, tzinfo=UTC)


def transaction_log(rows: int, partners: int, seed: int = 7) -> pd.DataFrame:
    """`rows` purchases by `partners` partners over two years (naive local times)."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp(END).tz_localize(None) - pd.Timedelta(days=730)
    seconds = np.sort(rng.integers(0, 730 * 86_400, rows))
    return pd.DataFrame(
        {
            "partner_id": "P" + pd.Series(rng.integers(1, partners + 1, rows)).astype(str),
            "occurred_at": (start + pd.to_timedelta(seconds, unit="s")).strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
            "amount": np.round(rng.lognormal(7, 1, rows), 2),
            "customer_id": "C" + pd.Series(rng.integers(1, rows // 5 + 2, rows)).astype(str),
        }
    )


def timed(mapping: str, source: Path, out: Path, repeats: int) -> tuple[float, dict[str, int]]:
    times = []
    rows: dict[str, int] = {}
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = import_source(mapping, source)
        assert result.report.ok, result.report.problems[:3]
        write_import(result, out)
        times.append(time.perf_counter() - t0)
        rows = dict(result.report.rows)
    return statistics.median(times), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="transaction log rows")
    parser.add_argument("--log-partners", type=int, default=10_000)
    parser.add_argument("--partners", type=int, default=10_000, help="simulated Salesforce org")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        log = work / "log.csv"
        transaction_log(args.rows, args.log_partners).to_csv(log, index=False)
        seconds, rows = timed("transactions", log, work / "tx", args.repeats)
        print(
            f"transactions: {args.rows:,} log rows -> {rows} in {seconds:.2f} s "
            f"({args.rows / seconds:,.0f} rows/s, median of {args.repeats})"
        )

        sim = simulate(partners=args.partners, years=2, seed=7, end=END)
        export = work / "salesforce"
        write_salesforce(sim.tables, export)
        read = sum(len(pd.read_csv(p, usecols=[0])) for p in export.glob("*.csv"))
        seconds, rows = timed("salesforce-prm", export, work / "sf", args.repeats)
        print(
            f"salesforce-prm: {args.partners:,} partners, {read:,} export rows -> {rows} in "
            f"{seconds:.2f} s ({read / seconds:,.0f} rows/s)"
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak_mb:,.0f} MB (simulation included)")
    print(
        "reproduce: .venv/bin/python bench/bench_import.py "
        f"--rows {args.rows} --log-partners {args.log_partners} --partners {args.partners} "
        f"--repeats {args.repeats}"
    )


if __name__ == "__main__":
    main()
