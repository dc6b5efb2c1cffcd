"""Benchmark: the weekly job end to end for 100,000 partners (~10 million events).

    .venv/bin/python bench/bench_weekly.py [--partners 100000] [--years 2.25] [--db-url URL]
        [--runs 3]

Simulates the program once (cached in bench/.data/), then runs `run_week` in a child process
so its peak memory (RSS) is measured alone: load → features → models → history → recommend →
persist (one transaction) → digest. Models: the registered champions when the MLflow store of
the data dir has them, otherwise two small LightGBM boosters trained here on the feature frame
(same predict path: numpy in, probabilities out, one thread). Prints seconds per stage, total
and peak RSS; with --runs N, N fresh runs and the median of each figure (the machine is
noisy). `recommend` includes the job's own post-processing (tier classification, awards);
the lines under it split out `recommend_frame` and the toy model training. Targets
(issue 7): < 3 min and < 4 GB on 2 cores. The child then plans the next week on the same
database (the incentive ledger warm, issue 14) and reports its time too.
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
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WEEK = "2026-W48"
END = datetime(2026, 11, 30, tzinfo=UTC)


def simulate_once(folder: Path, partners: int, years: float) -> None:
    from simulation.program import simulate, write_simulation

    marker = folder / f".done-{partners}-{years}"
    if marker.exists():
        return
    started = time.perf_counter()
    sim = simulate(partners=partners, years=years, seed=7, end=END)
    write_simulation(sim, folder)
    events = sum(len(f) for _, f in sim.tables.items())
    marker.write_text(str(events))
    print(
        f"simulated {partners:,} partners, {events:,} rows in {time.perf_counter() - started:.0f}s"
    )


class ToyScorer:
    """A LightGBM booster on numeric features: the Scorer surface recommend_frame uses."""

    def __init__(self, booster: Any, features: list[str]) -> None:
        self.booster, self.features, self.version = booster, features, "bench"

    def encode_frame(self, frame: Any) -> Any:
        import numpy as np
        import pandas as pd

        cols = [pd.to_numeric(frame[f], errors="coerce") for f in self.features]
        return np.column_stack([c.to_numpy(dtype=np.float64, na_value=np.nan) for c in cols])

    def encode(self, rows: Any) -> Any:
        import pandas as pd

        return self.encode_frame(pd.DataFrame(list(rows)))

    def predict(self, x: Any) -> Any:
        return self.booster.predict(x, num_threads=1)


def toy_models(frame: Any) -> Any:
    import lightgbm as lgb
    import numpy as np

    from features.registry import names
    from serving.recommend import Models

    numeric = [n for n in names("number") if n in frame.columns]
    scorer = ToyScorer(None, numeric)
    x = scorer.encode_frame(frame)
    rng = np.random.default_rng(0)
    idle = np.nan_to_num(x[:, numeric.index("days_since_last_activity")], nan=365.0)
    y = (idle + rng.normal(0, 30, len(idle)) > 60).astype(int)
    params = {"objective": "binary", "num_threads": 1, "verbose": -1, "num_leaves": 15}
    booster = lgb.train(params, lgb.Dataset(x[:20000], y[:20000]), num_boost_round=50)
    scorer.booster = booster
    deal_features = numeric  # the typical-deal columns are added by recommend; ignored here
    # duck-typed: recommend_frame only calls encode_frame/predict and reads version
    return Models(churn=cast(Any, scorer), deal=cast(Any, ToyScorer(booster, deal_features)))


def run_child(data: Path, db_url: str, out: Path) -> None:
    """The measured part: one weekly run (this process's peak RSS is reported)."""
    import logging

    from serving import weekly
    from serving.weeks import next_week
    from tierwise.settings import Settings

    logging.basicConfig(level=logging.WARNING)
    settings = Settings(data_dir=data, database_url=db_url)
    started = time.perf_counter()
    models_note = "registered champions"
    cache: dict[str, Any] = {}
    try:
        recommender = weekly.default_recommender(settings)
    except Exception:
        models_note = "toy LightGBM (no champions registered)"
        recommender = _toy_recommender(cache)
    lookup = time.perf_counter() - started
    run = weekly.run_week(settings, data_dir=data, week=WEEK, out_dir=out, recommender=recommender)
    total = time.perf_counter() - started
    # the next week on the same database: the incentive ledger is warm (accruals, no re-grants)
    second = time.perf_counter()
    after = weekly.run_week(
        settings, data_dir=data, week=next_week(WEEK), out_dir=None, recommender=recommender
    )
    next_total = time.perf_counter() - second
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "timings": run.timings,
                "detail": {
                    "champion lookup": lookup,
                    "recommend_frame": cache.get("recommend_s", 0.0),
                    "toy training": cache.get("train_s", 0.0),
                },
                "total": total,
                "next_week": {"total": next_total, "timings": after.timings},
                "next_summary": after.summary,
                "peak_mb": peak_mb,
                "summary": run.summary,
                "models": models_note,
            },
            default=str,
        )
    )


def _toy_recommender(cache: dict[str, Any]) -> Any:
    from rules import load_rulebook
    from serving.recommend import recommend_frame

    rulebook = load_rulebook()

    def recommend(frame: Any, *, previous: Any, history: Any, as_of: datetime) -> Any:
        started = time.perf_counter()
        if "models" not in cache:
            cache["models"] = toy_models(frame)
        cache["train_s"] = time.perf_counter() - started
        started = time.perf_counter()
        out = recommend_frame(
            frame,
            rulebook=rulebook,
            models=cache["models"],
            previous=previous,
            history=history,
            as_of=as_of,
        )
        cache["recommend_s"] = time.perf_counter() - started
        return out

    return recommend


def run_once(data: Path, db_url: str | None) -> dict[str, Any]:
    """One measured weekly run in a child process, on a fresh SQLite file unless --db-url."""
    db = data / "bench.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            str(data),
            db_url or f"sqlite:///{db}",
            str(data / "digest"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if child.returncode != 0:
        print(child.stdout, child.stderr, sep="\n")
        raise SystemExit(child.returncode)
    result: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=100_000)
    parser.add_argument("--years", type=float, default=2.25)
    parser.add_argument("--db-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--runs", type=int, default=1, help="fresh runs; medians are printed")
    parser.add_argument("--child", nargs=3, metavar=("DATA", "DB", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(Path(args.child[0]), args.child[1], Path(args.child[2]))
        return
    data = ROOT / "bench" / ".data" / f"weekly-{args.partners}"
    data.mkdir(parents=True, exist_ok=True)
    simulate_once(data, args.partners, args.years)
    runs = [run_once(data, args.db_url) for _ in range(max(1, args.runs))]
    result = runs[-1]
    events = (data / f".done-{args.partners}-{args.years}").read_text()
    database = (args.db_url or "sqlite").split(":")[0]
    print(
        f"weekly job, {args.partners:,} partners, {int(events):,} rows, week {WEEK}, "
        f"database {database}, models: {result['models']}"
        + (f", median of {len(runs)} runs" if len(runs) > 1 else "")
    )

    def median(*path: str) -> float:
        values = []
        for r in runs:
            value: Any = r
            for key in path:
                value = value[key]
            values.append(float(value))
        return float(statistics.median(values))

    for stage in result["timings"]:
        print(f"  {stage:<10} {median('timings', stage):7.1f} s")
        if stage == "recommend":
            for part in ("recommend_frame", "toy training"):
                print(f"    {part:<16} {median('detail', part):5.1f} s")
    print(f"  {'total':<10} {median('total'):7.1f} s   (target < 180 s)")
    print(f"    champion lookup  {median('detail', 'champion lookup'):5.1f} s")
    print(
        f"  next week  {median('next_week', 'total'):7.1f} s   (same database: ledger warm; "
        f"persist {median('next_week', 'timings', 'persist'):.1f} s, of it ledger "
        f"{median('next_week', 'timings', 'ledger'):.1f} s)"
    )
    print(f"  peak RSS   {median('peak_mb'):7.0f} MB  (target < 4096 MB, both weeks)")
    if len(runs) > 1:
        print("  totals: " + ", ".join(f"{r['total']:.1f}" for r in runs) + " s")
    s = result["summary"]
    print(
        f"  planned {s['actions_planned']:,} actions (+{s['actions_overflow']:,} overflow), "
        f"{s['promotions']:,} promotions, {s['demotions']:,} demotions, "
        f"incentive cost ${s['incentive_cost']:,.0f} accrued"
        f" (next week ${result['next_summary']['incentive_cost']:,.0f},"
        f" {result['next_summary']['pool_refusals']:,} pool refusals)"
    )
    print(
        f"reproduce: .venv/bin/python bench/bench_weekly.py --partners {args.partners} "
        f"--years {args.years}"
        + (f" --db-url {args.db_url}" if args.db_url else "")
        + (f" --runs {args.runs}" if args.runs > 1 else "")
    )


if __name__ == "__main__":
    main()
