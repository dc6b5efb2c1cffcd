"""Benchmark: the weekly job on pandas vs Spark local[2], side by side on one program.

    .venv/bin/python bench/bench_spark.py [--partners 100000] [--years 2] [--engines pandas,spark]
        [--master local[2]] [--buckets 0] [--sink parquet|db] [--conf spark.x=y ...]
        [--chunk 0] [--max-gb 20]

Simulates the program once (cached in bench/.data/, as bench_weekly.py does; above 100,000
partners in independent pieces of 50,000, `simulation.chunks`, since the simulator holds a
whole program in memory), trains real
champions once on a 1,000-partner sample of the same simulator (cached MLflow store), then
runs `tierwise weekly`'s `run_week` per engine in a child process while this process samples
the RSS of the child's whole process tree (driver, JVM, Python workers) with psutil every
0.2 s: wall time, peak memory (sum of RSS), events per second, per-bucket timings (Spark),
and an estimate of the wall time on a 16-executor cluster from those bucket timings.
Both engines use the same sink (`parquet` by default: the compute and its files, without the
database's own write time; `--sink db` persists through the shared code). The figures depend
on the machine's load: it is printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
WEEK = "2026-W48"
CACHE = ROOT / "bench" / ".data"


def champions_once(partners: int = 1000) -> Path:
    """An MLflow store holding real champions trained on a small simulated program."""
    folder = CACHE / f"champions-{partners}"
    marker = folder / ".trained"
    if marker.exists():
        return folder
    from bench_weekly import END

    from simulation.program import simulate, write_simulation
    from tierwise.settings import Settings
    from training.train import train_all

    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    write_simulation(simulate(partners=partners, years=1.0, seed=7, end=END), folder)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    train_all(folder, settings=Settings(data_dir=folder), make_plots=False)
    marker.write_text("ok")
    print(f"trained champions on {partners:,} partners in {time.perf_counter() - started:.0f}s")
    return folder


def run_child(args: argparse.Namespace) -> None:
    """The measured part: one weekly run on one engine; prints a JSON line."""
    import logging

    from serving.weekly import default_recommender, run_week
    from tierwise.settings import Settings

    logging.basicConfig(level=logging.WARNING)
    data, out = Path(args.data), Path(args.out)
    settings = Settings(data_dir=Path(args.models), database_url=args.db_url)
    started = time.perf_counter()
    recommender = default_recommender(settings)
    common: dict[str, Any] = {
        "data_dir": data,
        "week": WEEK,
        "out_dir": out,
        "recommender": recommender,
        "sink": args.sink,
        "allow_shrink": True,
    }
    buckets = None
    if args.child == "pandas":
        run = run_week(settings, **common)
    else:
        from features.spark.session import SparkOptions, parse_conf, spark_session
        from serving.spark_week import SparkWeek

        options = SparkOptions(master=args.master, conf=parse_conf(args.conf or []))
        with spark_session(options) as spark:
            engine = SparkWeek(
                spark, data=str(data), buckets=args.buckets, sink=args.sink, out_uri=str(out)
            )
            run = run_week(settings, engine=engine, **common)
            if engine.bucket_timings is not None:
                buckets = engine.bucket_timings.to_dict("list")
    total = time.perf_counter() - started
    print(
        json.dumps(
            {
                "total": total,
                "timings": run.timings,
                "summary": run.summary,
                "buckets": buckets,
            },
            default=str,
        )
    )


def simulate_cached(folder: Path, partners: int, years: float, chunk: int) -> int:
    """The program's rows: simulated once into `folder` (in pieces of `chunk` partners if
    `chunk`), then read from the marker."""
    marker = folder / f".done-{partners}-{years}"
    if not marker.exists():
        if not chunk:
            from bench_weekly import simulate_once

            simulate_once(folder, partners, years)
        else:
            from bench_weekly import END

            from simulation.chunks import write_chunked

            started = time.perf_counter()
            rows = write_chunked(
                folder, partners=partners, years=years, seed=7, end=END, chunk=chunk
            )
            marker.write_text(str(sum(rows.values())))
            print(
                f"simulated {partners:,} partners in pieces of {chunk:,}, "
                f"{sum(rows.values()):,} rows in {time.perf_counter() - started:.0f}s"
            )
    return int(marker.read_text())


def measure(engine: str, args: argparse.Namespace, data: Path, models: Path) -> dict[str, Any]:
    """Run one engine in a child process; sample the RSS of its process tree. Past
    `args.max_gb` the tree is stopped (so the machine is not): the result says so."""
    import psutil

    out = CACHE / f"out-{engine}"
    db = CACHE / f"bench-{engine}.db"
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        path.unlink(missing_ok=True)
    command = [
        sys.executable,
        __file__,
        "--child",
        engine,
        "--data",
        str(data),
        "--models",
        str(models),
        "--out",
        str(out),
        "--db-url",
        f"sqlite:///{db}",
        "--sink",
        args.sink,
        "--master",
        args.master,
        "--buckets",
        str(args.buckets),
    ]
    for item in args.conf or []:
        command += ["--conf", item]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    parent = psutil.Process(child.pid)
    peak, cap = 0, args.max_gb * 2**30
    while child.poll() is None:
        peak = max(peak, _tree_rss(parent))
        if peak > cap:
            _stop_tree(parent)
            child.communicate()
            wall = time.perf_counter() - started
            print(f"{engine}: stopped after {wall:.0f}s, its memory passed {args.max_gb} GB")
            return {"stopped": True, "wall": wall, "peak_mb": peak / 2**20, "timings": {}}
        time.sleep(0.2)
    stdout, stderr = child.communicate()
    if child.returncode != 0:
        print(stdout, stderr[-5000:], sep="\n")
        raise SystemExit(child.returncode)
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    result["wall"] = time.perf_counter() - started
    result["peak_mb"] = peak / 2**20
    return result


def _tree_rss(process: Any) -> int:
    import psutil

    total = 0
    try:
        for p in [process, *process.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except psutil.NoSuchProcess:
                continue
    except psutil.NoSuchProcess:
        return 0
    return total


def _stop_tree(process: Any) -> None:
    import psutil

    tree = [process, *process.children(recursive=True)]
    for p in tree:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(tree, timeout=30)


def estimate_cluster(result: dict[str, Any], *, cores: int, executors: int = 16) -> str:
    """Wall time on `executors` single-core executors from the measured bucket timings.

    The bucket work (features, models, rules per bucket: measured in the workers) is spread
    over `executors`, but no run is shorter than its longest bucket (more buckets shorten
    it). What ran outside the buckets (session start, reading, counting, the per-table
    shuffles, the driver's collection) is the wall time minus the bucket work spread over the
    local `cores`: kept as measured it gives the upper figure; spread over the executors like
    the buckets (its shuffles are per partition too) it gives the lower one."""
    seconds = result["buckets"]["seconds"]
    work = sum(seconds)
    outside = max(0.0, result["total"] - work / cores)
    spread = max(work / executors, max(seconds))
    low = outside * cores / executors + spread
    return (
        f"{low:.0f}-{outside + spread:.0f} s: bucket work {work:.0f} s / {executors} "
        f"(longest bucket {max(seconds):.1f} s, median {statistics.median(seconds):.1f} s over "
        f"{len(seconds)} buckets) + outside the buckets {outside:.0f} s measured on {cores} "
        f"cores (upper) or spread over the executors too (lower)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=100_000)
    parser.add_argument("--years", type=float, default=2.0)
    parser.add_argument("--engines", default="pandas,spark")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--buckets", type=int, default=0, help="0: ~1,000,000 rows a bucket")
    parser.add_argument("--sink", default="parquet", choices=["parquet", "db"])
    parser.add_argument("--conf", action="append", help="spark.<name>=<value> (repeatable)")
    parser.add_argument(
        "--chunk",
        type=int,
        default=-1,
        help="simulate in pieces of this many partners "
        "(default: 50,000 above 100,000 partners; 0: in one piece)",
    )
    parser.add_argument(
        "--max-gb", type=float, default=20.0, help="stop an engine whose memory passes this"
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--models", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--db-url", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args)
        return
    chunk = args.chunk if args.chunk >= 0 else (50_000 if args.partners > 100_000 else 0)
    data = CACHE / f"spark-{args.partners}-{args.years}"
    data.mkdir(parents=True, exist_ok=True)
    events = simulate_cached(data, args.partners, args.years, chunk)
    models = champions_once()
    results = {}
    for engine in args.engines.split(","):
        load = os.getloadavg()[0]
        results[engine] = measure(engine, args, data, models)
        results[engine]["load"] = (load, os.getloadavg()[0])
    _report(results, args, events)


def _report(results: dict[str, Any], args: argparse.Namespace, events: int) -> None:
    print(
        f"\nweekly plan, {args.partners:,} partners x {args.years:g} years ({events:,} rows), "
        f"real champions trained on a 1,000-partner sample, sink {args.sink}, "
        f"{os.cpu_count()} cores"
    )
    print(f"{'engine':<8} {'wall s':>8} {'peak MB':>9} {'events/s':>10} {'load':>11}  stages")
    for engine, r in results.items():
        if r.get("stopped"):
            wall, peak = f">{r['wall']:.0f}", f">{r['peak_mb']:,.0f}"
            print(
                f"{engine:<8} {wall:>8} {peak:>9} {'-':>10} {'':>11}  "
                f"stopped: its memory passed --max-gb {args.max_gb:g}"
            )
            continue
        stages = ", ".join(f"{k} {v:.1f}" for k, v in r["timings"].items())
        load = f"{r['load'][0]:.0f}->{r['load'][1]:.0f}"
        print(
            f"{engine:<8} {r['wall']:>8.1f} {r['peak_mb']:>9,.0f} {events / r['wall']:>10,.0f} "
            f"{load:>11}  {stages}"
        )
    spark = results.get("spark")
    if spark and spark.get("buckets"):
        b = spark["buckets"]
        print(
            "spark buckets: "
            + ", ".join(
                f"#{k} {s:.1f}s/{p:,}p"
                for k, s, p in zip(b["bucket"], b["seconds"], b["partners"], strict=True)
            )
        )
        cores = int("".join(c for c in args.master if c.isdigit()) or os.cpu_count() or 2)
        print("estimate on 16 executors: " + estimate_cluster(spark, cores=cores))
    finished = [r for r in results.values() if not r.get("stopped")]
    if "pandas" in results and "spark" in results and len(finished) == 2:
        same = results["pandas"]["summary"] == results["spark"]["summary"]
        print(f"same summary on both engines: {same}")
    command = " ".join(a for a in sys.argv if a)
    print(f"reproduce: .venv/bin/python {command.replace(str(ROOT) + '/', '')}")


if __name__ == "__main__":
    main()
