"""How long validation takes on a large activity table (the biggest table a program exports).

    .venv/bin/python bench/bench_validate.py [--rows 10000000] [--partners 100000] [--repeat 3]

Builds a synthetic program in memory (typed, as from Parquet) and as CSV text, and prints the
median seconds of `validate_tables` for each, plus reading the CSV back as text.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from features.io import read_raw
from features.validate import validate_tables


def program(rows: int, partners: int, seed: int = 0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    pids = pd.Series([f"P{i:06d}" for i in range(partners)], dtype="str")
    start = pd.Timestamp("2023-01-01", tz="UTC")
    partner_frame = pd.DataFrame(
        {
            "partner_id": pids,
            "name": "Partner " + pids,
            "partner_type": rng.choice(["VAR", "MSP", "SI"], partners),
            "region": "EMEA",
            "manager_id": "M1",
            "joined_at": start,
            "onboarded_at": start + pd.Timedelta(days=30),
            "exited_at": pd.Series(pd.NaT, index=pids.index, dtype="datetime64[ns, UTC]"),
            "company_size": rng.integers(1, 500, partners),
            "market_share": rng.random(partners),
            "verticals": "health|retail",
            "customer_count": rng.integers(0, 50, partners),
            "portfolio_fit": rng.random(partners),
            "recruited_via": "event",
            "recruit_cost": 100.0,
        }
    )
    deals = pd.DataFrame(
        {
            "deal_id": [f"D{i}" for i in range(partners)],
            "partner_id": pids,
            "customer_id": "C1",
            "product": "core",
            "deal_kind": "new",
            "amount": 1000.0,
            "registered_at": start + pd.Timedelta(days=60),
            "status": "submitted",
            "decided_at": pd.Series(pd.NaT, index=pids.index, dtype="datetime64[ns, UTC]"),
            "outcome": "open",
            "closed_at": pd.Series(pd.NaT, index=pids.index, dtype="datetime64[ns, UTC]"),
        }
    )
    seconds = rng.integers(0, 2 * 365 * 86400, rows)
    activities = pd.DataFrame(
        {
            "partner_id": pids.to_numpy()[rng.integers(0, partners, rows)],
            "occurred_at": start + pd.to_timedelta(seconds, unit="s"),
            "kind": rng.choice(["training", "event", "manager_contact"], rows),
        }
    )
    activities["partner_id"] = activities["partner_id"].astype("str")
    return {"partners": partner_frame, "deals": deals, "activities": activities}


def median_seconds(fn: object, repeat: int) -> str:
    """Median wall and CPU seconds (CPU: all threads; the machine is shared and noisy)."""
    wall, cpu = [], []
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()  # type: ignore[operator]
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return f"{statistics.median(wall):.2f} s wall, {statistics.median(cpu):.2f} s CPU"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--partners", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    raw = program(args.rows, args.partners)
    typed = median_seconds(lambda: validate_tables(raw), args.repeat)
    print(f"validate_tables, typed (Parquet-like), {args.rows:,} activities: {typed}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, frame in raw.items():
            frame.to_csv(Path(tmp) / f"{name}.csv", index=False)
        read = median_seconds(lambda: read_raw(tmp), args.repeat)
        text = read_raw(tmp)
    print(f"read_raw, CSV as text: {read}")
    from_csv = median_seconds(lambda: validate_tables(text), args.repeat)
    print(f"validate_tables, CSV text: {from_csv}")
    print(
        f"(median of {args.repeat}; reproduce: .venv/bin/python bench/bench_validate.py "
        f"--rows {args.rows} --partners {args.partners} --repeat {args.repeat})"
    )


if __name__ == "__main__":
    main()
