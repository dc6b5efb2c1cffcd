"""recommend_frame on the whole program (issue 7): vectorized reasons vs the per-row loop.

    .venv/bin/python bench/bench_recommend.py [--partners 20000 100000] [--runs 3]

Uses the programs bench/bench_weekly.py simulates (bench/.data/weekly-N, simulated here when
absent; the feature frame is cached there as _features.pkl). Models: the registered
champions of that data dir when present, else bench_weekly's toy LightGBM boosters. History:
3 random actions done 1-120 days ago for a third of the partners. Each run times
`recommend_frame` twice, interleaved: as it is now (reasons built column-wise per action,
`serving.reasons.frame_reasons`) and with the previous per-row loop (re-running each
action's one-partner evaluator and formatting every row), kept below as the reference;
both answers are checked identical. Prints medians (the machine is noisy) of the whole
call and of its reasons step.
"""

from __future__ import annotations

import argparse
import logging
import os
import pickle
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

YEARS = 2.25


# --- the previous implementation: one Python iteration per ranked action row -----------


def loop_reasons(
    rulebook: Any, ranked: pd.DataFrame, scored: pd.DataFrame, tiers: pd.DataFrame
) -> list[list[str]]:
    """Reasons row by row: the action's scalar evaluator on the row, then `reasons`."""
    from rules.explain import checks_from
    from serving.arbitration import Ranked
    from serving.reasons import reasons

    if ranked.empty:
        return []
    rows = pd.Index(scored["partner_id"].astype(str)).get_indexer(
        pd.Index(ranked["partner_id"].astype(str))
    )
    by_action = {a.id: a for a in rulebook.actions}
    names = set(rulebook.features_needed) | {"churn_risk", "deal_acceptance"}
    context = {c: scored[c].to_numpy(dtype=object) for c in names & set(scored.columns)}
    for name in ("tier", "tier_change", "track"):
        context[name] = tiers[name].to_numpy(dtype=object)
    numbers = (
        ranked[["rank", "priority", "propensity", "value", "weight"]]
        .to_numpy(dtype=np.float64)
        .tolist()
    )
    out = []
    for row, action_id, (rank, prio, prop, value, weight) in zip(
        rows, ranked["action_id"].astype(str).tolist(), numbers, strict=True
    ):
        values = {k: _plain(col[row]) for k, col in context.items()}
        action = by_action[action_id]
        log: list[Any] = []
        outcome = action.ev(values, log)
        checks = checks_from(log, [("action", action.id, 0, len(log), outcome)])
        r = Ranked(action_id, int(rank), prio, prop, value, weight)
        out.append(reasons(rulebook, r, checks))
    return out


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


# --- set-up -------------------------------------------------------------------------------


def feature_frame(partners: int) -> tuple[Path, pd.DataFrame, Any]:
    from bench_weekly import simulate_once

    from features.io import load_tables
    from features.snapshot import build_features
    from serving.snapshots import data_end

    data = ROOT / "bench" / ".data" / f"weekly-{partners}"
    data.mkdir(parents=True, exist_ok=True)
    simulate_once(data, partners, YEARS)
    cached = data / "_features.pkl"
    if cached.exists():
        frame, as_of = pickle.loads(cached.read_bytes())
        return data, frame, as_of
    started = time.perf_counter()
    tables = load_tables(data)
    as_of = data_end(tables)
    frame = build_features(tables, as_of=as_of)
    cached.write_bytes(pickle.dumps((frame, as_of)))
    print(f"built features for {partners:,} partners in {time.perf_counter() - started:.0f} s")
    return data, frame, as_of


def models_for(data: Path, frame: pd.DataFrame) -> tuple[Any, Any, str]:
    from bench_weekly import toy_models

    from rules import load_rulebook
    from serving.service_state import load_from_settings
    from tierwise.settings import Settings

    try:
        loaded = load_from_settings(Settings(data_dir=data))
        return loaded.rulebook, loaded.models, "registered champions"
    except Exception:  # no champions in this data dir: train toy boosters
        return load_rulebook(), toy_models(frame), "toy LightGBM (no champions registered)"


def history_for(frame: pd.DataFrame, rulebook: Any, as_of: Any) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    ids = np.array([a.id for a in rulebook.actions])
    pids = frame["partner_id"].to_numpy(dtype=object)[::3]
    return pd.DataFrame(
        {
            "partner_id": np.repeat(pids, 3),
            "action_id": np.concatenate([rng.choice(ids, 3, replace=False) for _ in pids]),
            "last_done_or_dismissed_at": [
                as_of - timedelta(days=int(d)) for d in rng.integers(1, 120, 3 * len(pids))
            ],
        }
    )


# --- measurement --------------------------------------------------------------------------


def timed_call(
    reasons_fn: Callable[..., list[list[str]]], kwargs: Mapping[str, Any]
) -> tuple[float, float, Any]:
    """(recommend_frame seconds, of which reasons seconds, answer) with ``reasons_fn``."""
    import serving.recommend as rec

    spent: list[float] = []

    def timed(
        rulebook: Any, ranked: pd.DataFrame, scored: pd.DataFrame, tiers: pd.DataFrame
    ) -> list[list[str]]:
        started = time.perf_counter()
        try:
            return reasons_fn(rulebook, ranked, scored, tiers)
        finally:
            spent.append(time.perf_counter() - started)

    saved = rec.frame_reasons
    rec.frame_reasons = timed
    try:
        started = time.perf_counter()
        out = rec.recommend_frame(**kwargs)
        total = time.perf_counter() - started
    finally:
        rec.frame_reasons = saved
    return total, spent[0], out


def bench(partners: int, runs: int) -> None:
    from serving.reasons import frame_reasons

    data, frame, as_of = feature_frame(partners)
    rulebook, models, note = models_for(data, frame)
    kwargs = {
        "frame": frame,
        "rulebook": rulebook,
        "models": models,
        "history": history_for(frame, rulebook, as_of),
        "as_of": as_of,
    }
    figures: dict[str, list[float]] = {k: [] for k in ("after", "after_r", "before", "before_r")}
    for run in range(runs):
        after, after_r, new = timed_call(frame_reasons, kwargs)
        before, before_r, old = timed_call(loop_reasons, kwargs)
        if run == 0:
            assert new.actions["reasons"].tolist() == old.actions["reasons"].tolist()
            rows = len(new.actions)
        for key, value in zip(figures, (after, after_r, before, before_r), strict=True):
            figures[key].append(value)
    med = {k: statistics.median(v) for k, v in figures.items()}
    print(
        f"{partners:,} partners, {rows:,} ranked actions, models: {note}, "
        f"median of {runs} runs (identical reasons both ways)"
    )
    print(
        f"  recommend_frame   before {med['before']:7.2f} s   after {med['after']:6.2f} s   "
        f"({med['before'] / med['after']:.1f}x)"
    )
    print(
        f"    reasons step    before {med['before_r']:7.2f} s   after {med['after_r']:6.2f} s   "
        f"({med['before_r'] / med['after_r']:.0f}x)"
    )
    print("  runs after:  " + ", ".join(f"{x:.2f}" for x in figures["after"]) + " s")
    print("  runs before: " + ", ".join(f"{x:.2f}" for x in figures["before"]) + " s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for partners in args.partners:
        bench(partners, max(1, args.runs))
    print(
        "reproduce: .venv/bin/python bench/bench_recommend.py --partners "
        + " ".join(str(p) for p in args.partners)
        + f" --runs {args.runs}"
    )


if __name__ == "__main__":
    main()
