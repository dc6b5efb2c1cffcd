"""Benchmark the point-in-time feature builder: one snapshot, 12 monthly snapshots, deal features.

Generates a program (the simulator when `simulation.program` is available, else a synthetic
program with the same tables and realistic event mix), writes it to Parquet once, then runs
each measurement in a fresh process (so peak RSS is that of the measurement alone: loading
the Parquet tables + building) and prints medians.

    .venv/bin/python bench/bench_features.py                       # 100k partners, ~10M events
    .venv/bin/python bench/bench_features.py --partners 10000 --repeats 1   # quick look
    .venv/bin/python bench/bench_features.py --compare-older   # with vs without issue 15's
        certifications table and revenue-mix / parent columns, alternating, same program
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from features.schema import ACTIVITY_KINDS  # noqa: E402
from features.tables import Tables  # noqa: E402

END = pd.Timestamp("2025-01-01", tz="UTC")
TABLES = ("partners", "deals", "activities", "surveys", "customers", "certifications")
# what an export from before issue 15 lacks (`--compare-older` drops it when reading)
ISSUE15_COLUMNS = {
    "partners": ["parent_partner_id"],
    "deals": ["revenue_type", "arr", "attribution"],
}


def synthetic(partners: int, years: float, seed: int, events_per_partner: float) -> Tables:
    """A synthetic program: ~`events_per_partner` events per partner across the event tables."""
    rng = np.random.default_rng(seed)
    start_ns = (END - pd.Timedelta(days=365 * years)).value
    span = END.value - start_ns
    day = 86_400 * 10**9
    ids = pd.array([f"P{i:06d}" for i in range(partners)], dtype="str")
    joined = start_ns + (rng.random(partners) * 0.8 * span).astype(np.int64)

    def stamps(ns: np.ndarray) -> pd.Series:
        return pd.Series(pd.to_datetime(ns, utc=True)).dt.as_unit("ns")

    def after_join(owner: np.ndarray) -> np.ndarray:
        return joined[owner] + (rng.random(len(owner)) * (END.value - joined[owner])).astype(
            np.int64
        )

    p = pd.DataFrame(
        {
            "partner_id": ids,
            "name": ids,
            "partner_type": rng.choice(["VAR", "MSP", "SI", "referral", "reseller"], partners),
            "region": rng.choice(["EMEA", "NA", "APAC", "LATAM"], partners),
            "manager_id": rng.choice([f"M{i}" for i in range(200)], partners),
            "joined_at": stamps(joined),
            "onboarded_at": stamps(joined + rng.integers(5, 90, partners) * day),
            "exited_at": stamps(
                np.where(
                    rng.random(partners) < 0.2,
                    END.value - rng.integers(1, 300, partners) * day,
                    np.iinfo(np.int64).min,
                )
            ),
            "company_size": rng.integers(1, 5000, partners).astype(float),
            "market_share": rng.random(partners) * 0.2,
            "verticals": rng.choice(["health", "retail|finance", "public|health|edu"], partners),
            "customer_count": rng.integers(0, 500, partners).astype(float),
            "portfolio_fit": rng.random(partners),
            "recruited_via": rng.choice(["event", "content", "referral", "inbound"], partners),
            "recruit_cost": rng.random(partners) * 5000,
        }
    )
    n_deals = int(partners * events_per_partner * 0.12)
    owner = rng.integers(0, partners, n_deals)
    registered = after_join(owner)
    status = rng.choice(np.array(["submitted", "accepted", "rejected"]), n_deals, p=[0.1, 0.7, 0.2])
    decided = registered + rng.integers(1, 20, n_deals) * day
    outcome = np.where(status == "accepted", rng.choice(["open", "won", "lost"], n_deals), "open")
    closed = decided + rng.integers(5, 120, n_deals) * day
    nat = np.iinfo(np.int64).min
    direct = rng.random(n_deals) < 0.15
    d = pd.DataFrame(
        {
            "deal_id": pd.array([f"D{i}" for i in range(n_deals)], dtype="str"),
            "partner_id": pd.Series(ids.take(owner)).where(~direct),
            "customer_id": pd.array(
                [f"C{i}" for i in rng.integers(0, n_deals // 3 + 1, n_deals)], dtype="str"
            ),
            "product": rng.choice(["core", "analytics", "security"], n_deals),
            "deal_kind": rng.choice(["new", "cross_sell", "upsell", "renewal"], n_deals),
            "amount": rng.lognormal(9, 1, n_deals).round(2),
            "registered_at": stamps(registered),
            "status": status,
            "decided_at": stamps(np.where(status == "submitted", nat, decided)),
            "outcome": outcome,
            "closed_at": stamps(np.where(outcome == "open", nat, closed)),
        }
    )
    n_act = int(partners * events_per_partner * 0.82)
    owner = rng.integers(0, partners, n_act)
    a = pd.DataFrame(
        {
            "partner_id": ids.take(owner),
            "occurred_at": stamps(after_join(owner)),
            "kind": rng.choice(np.array(ACTIVITY_KINDS), n_act),
        }
    )
    n_surv = int(partners * events_per_partner * 0.03)
    owner = rng.integers(0, partners, n_surv)
    s = pd.DataFrame(
        {
            "partner_id": ids.take(owner),
            "answered_at": stamps(after_join(owner)),
            "score": rng.integers(0, 11, n_surv).astype(float),
        }
    )
    n_cust = int(partners * events_per_partner * 0.03)
    owner = rng.integers(0, partners, n_cust)
    acquired = after_join(owner)
    churned = acquired + rng.integers(30, 900, n_cust) * day
    c = pd.DataFrame(
        {
            "customer_id": pd.array([f"K{i}" for i in range(n_cust)], dtype="str"),
            "source": rng.choice(["partner", "direct"], n_cust, p=[0.7, 0.3]),
            "partner_id": ids.take(owner),
            "acquired_at": stamps(acquired),
            "acquisition_cost": rng.random(n_cust) * 2000,
            "churned_at": stamps(np.where(rng.random(n_cust) < 0.3, churned, nat)),
        }
    )
    return Tables(p, d, a, s, c)


def generate(source: str, partners: int, years: float, seed: int, per_partner: float) -> Tables:
    if source == "simulate":
        from simulation.program import simulate

        return simulate(partners=partners, years=years, seed=seed, end=END.to_pydatetime()).tables
    return synthetic(partners, years, seed, per_partner)


def default_source() -> str:
    try:
        import simulation.program  # noqa: F401
    except ImportError:
        return "synthetic"
    return "simulate"


def write(tables: Tables, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_parquet(directory / f"{name}.parquet", index=False)


def read(directory: Path, older: bool = False) -> Tables:
    frames = {
        name: pd.read_parquet(directory / f"{name}.parquet")
        for name in TABLES
        if (directory / f"{name}.parquet").exists() and not (older and name == "certifications")
    }
    if older:
        for name, columns in ISSUE15_COLUMNS.items():
            frames[name] = frames[name].drop(columns=columns, errors="ignore")
    return Tables(**frames)


def measure(task: str, directory: Path, older: bool = False) -> dict[str, float]:
    """One measurement (runs in a child process): seconds to build + peak RSS of the process."""
    from features.deal_features import build_deal_features
    from features.snapshot import build_features, build_snapshots

    tables = read(directory, older)
    rows = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    if task == "snapshot":
        rows = len(build_features(tables, as_of=END))
    elif task == "monthly12":
        months = pd.date_range(end=END, periods=12, freq="MS", tz="UTC")
        rows = len(build_snapshots(tables, list(months)))
    elif task == "deals":
        rows = len(build_deal_features(tables, tables.deals))
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "cpu": cpu, "peak_mb": peak_mb, "rows": rows}


def child(task: str, directory: Path, older: bool = False) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", task, "--dir", str(directory)]
    cmd += ["--older"] if older else []
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=100_000)
    parser.add_argument("--years", type=float, default=3.5)
    parser.add_argument(
        "--source",
        choices=("simulate", "synthetic"),
        default=None,
        help="simulator (default when available) or the bench's own synthetic generator",
    )
    parser.add_argument("--events-per-partner", type=float, default=100.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--tasks", default="snapshot,monthly12,deals")
    parser.add_argument("--compare-older", action="store_true")
    parser.add_argument("--older", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.dir, args.older)))
        return
    source = args.source or default_source()
    name = f"tierwise-bench-{source}-{args.partners}-{args.years}-{args.seed}"
    directory = args.dir or Path("/tmp") / name
    if not (directory / "partners.parquet").exists():
        started = time.perf_counter()
        tables = generate(source, args.partners, args.years, args.seed, args.events_per_partner)
        write(tables, directory)
        del tables
        print(f"generated ({source}) in {time.perf_counter() - started:.1f}s -> {directory}")
    sizes = {
        name: pq.ParquetFile(directory / f"{name}.parquet").metadata.num_rows
        for name in TABLES
        if (directory / f"{name}.parquet").exists()
    }
    events = sum(n for name, n in sizes.items() if name != "partners")
    print(f"program: {sizes['partners']:,} partners, {events:,} events  {sizes}")
    print(f"baseline peak RSS of loading the tables: {child('load', directory)['peak_mb']:,.0f} MB")
    for task in args.tasks.split(","):
        if args.compare_older:  # alternate the two, so the machine's load hits both alike
            pairs = [
                (child(task, directory), child(task, directory, older=True))
                for _ in range(args.repeats)
            ]
            results = [
                (f"{task} (with issue 15)", [a for a, _ in pairs]),
                (f"{task} (older export)", [b for _, b in pairs]),
            ]
        else:
            results = [(task, [child(task, directory) for _ in range(args.repeats)])]
        for label, runs in results:
            secs = statistics.median(r["seconds"] for r in runs)
            cpu = statistics.median(r["cpu"] for r in runs)
            peak = statistics.median(r["peak_mb"] for r in runs)
            each = ", ".join(f"{r['seconds']:.2f}" for r in runs)
            print(
                f"{label:<10} rows {int(runs[0]['rows']):>10,}  median wall {secs:6.2f}s  "
                f"cpu {cpu:6.2f}s  peak RSS {peak:,.0f} MB  ({args.repeats} runs: {each})"
            )
    cmd = " ".join(["bench/bench_features.py", *sys.argv[1:]])
    print(f"reproduce: .venv/bin/python {cmd}")


if __name__ == "__main__":
    main()
