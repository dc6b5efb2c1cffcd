"""Rules engine speed: one partner (whole default rulebook, explanations included), a small
frame and a population of partners at once (vectorized).

Targets: ≤ 50 µs per partner with checks and gap; 1,000,000 partners in ≤ 1 s.

    .venv/bin/python bench/bench_rules.py                    # 1,000,000 partners
    .venv/bin/python bench/bench_rules.py --partners 200000 --repeat 5
    .venv/bin/python bench/bench_rules.py --baseline a58eaa7 # before/after, side by side

With ``--baseline REF`` the rules/ package of git revision REF (extracted read-only with
``git archive`` into a temporary directory) is measured against the working tree, each in
its own process, alternating rounds so that both see the same machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
AS_OF = datetime(2025, 6, 30, tzinfo=UTC)
Sample = dict[str, list[float]]  # measure → per-batch (wall, CPU) figures, interleaved


def population(n: int, seed: int = 7) -> Any:
    """n synthetic partners over every registry feature (5% of numbers missing)."""
    import numpy as np
    import pandas as pd

    from features import registry
    from features.schema import PARTNER_TYPES

    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {
        "partner_id": pd.Series(np.char.add("P", np.arange(n).astype(str)), dtype="str")
    }
    for f in registry.FEATURES.values():
        if f.kind == "category":
            values = np.array(PARTNER_TYPES if f.name == "partner_type" else ("a", "b", "c"))
            cols[f.name] = pd.Series(values[rng.integers(0, len(values), n)], dtype="str")
        elif f.kind == "boolean":
            cols[f.name] = rng.random(n) < 0.05
        else:
            scale = {"USD": 600_000, "count": 12, "score": 10, "days": 700}.get(f.unit, 1)
            x = rng.random(n) * scale
            x[rng.random(n) < 0.05] = np.nan
            cols[f.name] = x
    cols["churn_risk"] = rng.random(n)
    cols["deal_acceptance"] = rng.random(n)
    return pd.DataFrame(cols)


def _timed(fn: Callable[[], object], per: int) -> tuple[float, float]:
    """(wall, CPU) seconds per call of one batch of ``per`` calls of ``fn``."""
    start, start_cpu = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - start) / per, (time.process_time() - start_cpu) / per


def measure(partners: int, repeat: int, reps: int, batches: int) -> Sample:
    """Every measure once, in this process, with whichever `rules` is first on sys.path."""
    from rules import evaluate_frame, evaluate_partner, load_rulebook

    book = load_rulebook()
    rows = [{str(k): v for k, v in r.items()} for r in population(200).to_dict("records")]
    small = population(12, seed=11)
    out: Sample = {}

    def record(name: str, wall: float, cpu: float) -> None:
        out.setdefault(f"{name} wall", []).append(wall)
        out.setdefault(f"{name} cpu", []).append(cpu)

    def partner(explain: bool) -> Callable[[], None]:
        def run() -> None:
            for i in range(reps):
                d = evaluate_partner(book, rows[i % len(rows)], previous=None, as_of=AS_OF)
                if explain:
                    _ = d.checks, d.gap

        return run

    for run in (partner(False), partner(True)):  # warm up (plan, caches)
        run()
    for _ in range(batches):  # interleaved, so that both see the same load
        record("partner", *_timed(partner(False), reps))
        record("explained", *_timed(partner(True), reps))
    for _ in range(batches):
        record("frame12", *_timed(lambda: evaluate_frame(book, small, as_of=AS_OF), 1))
    if partners:
        frame = population(partners)
        for _ in range(repeat):
            record("frame", *_timed(lambda: evaluate_frame(book, frame, as_of=AS_OF), 1))
    return out


def _extract(ref: str, into: Path) -> Path:
    """rules/ of git revision ``ref`` under ``into`` (read-only: git archive)."""
    data = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "rules"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into


def _worker(rules_root: Path | None, args: argparse.Namespace, partners: int) -> Sample:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        f"--partners={partners}",
        f"--repeat={args.repeat}",
        f"--reps={args.reps}",
        f"--batches={args.batches}",
    ]
    if rules_root is not None:
        cmd.append(f"--rules-root={rules_root}")
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    sample: Sample = json.loads(done.stdout.strip().splitlines()[-1])
    return sample


def _median(sample: Sample, key: str, scale: float) -> str:
    values = sample.get(key)
    return f"{statistics.median(values) * scale:9.1f}" if values else f"{'-':>9}"


def report(samples: dict[str, Sample], partners: int) -> None:
    rows = [
        ("one partner: decision + explanation log", "partner", 1e6, "µs"),
        ("one partner: + checks and gap built", "explained", 1e6, "µs"),
        ("12 partners, evaluate_frame", "frame12", 1e3, "ms"),
    ]
    if partners:
        rows.append((f"{partners:,} partners, evaluate_frame", "frame", 1.0, "s"))
    head = "".join(f"{name + ' wall':>16}{name + ' CPU':>16}" for name in samples)
    print(f"{'median':44}{head}")
    for label, key, scale, unit in rows:
        cells = "".join(
            f"{_median(s, f'{key} {clock}', scale):>12} {unit:<3}"
            for s in samples.values()
            for clock in ("wall", "cpu")
        )
        print(f"{label:44}{cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--partners", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of the big frame")
    parser.add_argument("--reps", type=int, default=2000, help="partners per timed batch")
    parser.add_argument("--batches", type=int, default=15, help="timed batches per measure")
    parser.add_argument("--rounds", type=int, default=3, help="alternations with --baseline")
    parser.add_argument("--baseline", metavar="REF", help="also measure rules/ of git REF")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rules-root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        if args.rules_root is not None:
            sys.path.insert(0, str(args.rules_root))
        print(json.dumps(measure(args.partners, args.repeat, args.reps, args.batches)))
        return
    print(
        f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
        f"on {os.cpu_count()} cores (wall time suffers when the machine is shared; "
        "CPU time is what the process itself used)"
    )
    samples: dict[str, Sample] = {}
    with tempfile.TemporaryDirectory() as tmp:
        variants: list[tuple[str, Path | None]] = [("now", None)]
        if args.baseline:
            variants.insert(0, (args.baseline, _extract(args.baseline, Path(tmp))))
        rounds = args.rounds if args.baseline else 1
        for _ in range(rounds):
            for name, root in variants:
                got = _worker(root, args, args.partners if _ == 0 else 0)
                for key, values in got.items():
                    samples.setdefault(name, {}).setdefault(key, []).extend(values)
    report(samples, args.partners)
    print("targets: one partner incl. checks and gap ≤ 50 µs; 1,000,000 partners ≤ 1 s (CPU)")
    cmd = (
        f".venv/bin/python bench/bench_rules.py --partners {args.partners} --repeat "
        f"{args.repeat} --reps {args.reps} --batches {args.batches}"
    )
    if args.baseline:
        cmd += f" --baseline {args.baseline} --rounds {args.rounds}"
    print(f"reproduce: {cmd}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # the editable install may expose packages as namespaces only
    main()
