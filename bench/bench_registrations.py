"""Deal registrations: what eligibility and storing each scored registration cost.

    .venv/bin/python bench/bench_registrations.py [--partners 300] [--requests 300] [--rounds 5]

Simulates a program (seed 7), trains the deal model only (a real champion in a temporary
MLflow SQLite store), then measures, side by side in alternating rounds (the machine is shared:
medians of the rounds):

- `rules.registrations.assess` alone, per registration (µs);
- `POST /v1/deal-registrations/score` in-process (FastAPI TestClient, one client, SQLite
  service database): without a deal_id (scored, not stored) vs with a fresh deal_id each
  request (scored and stored: one insert) vs the same deal_id again (one update).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

END = datetime(2026, 11, 23, tzinfo=UTC)
KEY = "bench-scorer-key"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--partners", type=int, default=300)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    root = Path(tempfile.mkdtemp(prefix="bench-registrations-"))
    try:
        run(root, args)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(root: Path, args: argparse.Namespace) -> None:
    from fastapi.testclient import TestClient

    from features.io import load_tables
    from features.snapshot import build_features
    from rules import load_rulebook
    from rules.registrations import assess
    from serving.app import create_app
    from serving.auth import hash_key
    from serving.service_state import ServiceState, load_from_settings
    from serving.snapshots import clean_value
    from simulation.program import simulate, write_simulation
    from tierwise.settings import ApiKey, Settings
    from training.train import train_all

    data = root / "data"
    write_simulation(simulate(partners=args.partners, years=2.0, seed=7, end=END), data)
    settings = Settings(
        data_dir=data,
        database_url=f"sqlite:///{root / 'service.db'}",
        reload_interval_s=0,
        session_secret="bench-only-session-secret-0123456789",
        webhook_interval_s=0,
        rate_limit_per_minute=0,
        access_log=False,
        api_keys=[ApiKey(key_sha256=hash_key(KEY), role="scorer", name="bench")],
    )
    started = time.perf_counter()
    train_all(data, settings=settings, models=("churn", "deal"), make_plots=False, oracle=False)
    print(f"trained both models in {time.perf_counter() - started:.0f} s")
    loaded = load_from_settings(settings)
    book = load_rulebook(ROOT / "rules" / "default")
    rules = book.registrations
    assert rules is not None
    frame = build_features(load_tables(data), as_of=END)
    partner = {n: clean_value(frame.iloc[0][n]) for n in frame.columns if n not in ("as_of",)}
    partner = {k: v for k, v in partner.items() if k not in ("partner_id", "manager_id")}
    deal: dict[str, Any] = {
        "amount": 40_000.0,
        "product": "core",
        "deal_kind": "new",
        "customer_has_open_direct_deal": False,
        "customer_is_existing": False,
        "customer_open_partner_deals": 0.0,
        "partner_customer_deals": 0.0,
        "partner_deals_in_flight": 1.0,
    }
    from features import registry

    body = {
        "customer_id": "C1",
        "partner_features": {n: partner.get(n) for n in registry.FEATURES},
        "as_of": END.isoformat(),
        "deal": deal,
    }
    state = ServiceState(settings)
    state.current = loaded
    headers = {"X-API-Key": KEY}
    results: dict[str, list[float]] = {"assess": [], "no id": [], "new id": [], "same id": []}
    with TestClient(create_app(settings, state=state)) as client:
        client.post("/v1/deal-registrations/score", json=body, headers=headers)  # warm up
        counter = 0
        for _ in range(args.rounds):
            t = time.perf_counter()
            for _ in range(args.requests * 10):
                assess(rules, deal, registered_at=END)
            results["assess"].append((time.perf_counter() - t) / (args.requests * 10))
            for label in ("no id", "new id", "same id"):
                t = time.perf_counter()
                for _ in range(args.requests):
                    counter += 1
                    extra = {"no id": {}, "new id": {"deal_id": f"R{counter}"}}.get(
                        label, {"deal_id": "SAME"}
                    )
                    r = client.post(
                        "/v1/deal-registrations/score", json={**body, **extra}, headers=headers
                    )
                    assert r.status_code == 200, r.text
                results[label].append((time.perf_counter() - t) / args.requests)
    load = os.getloadavg()[0]
    print(
        f"{args.partners} partners simulated, real deal champion, {args.requests} requests x "
        f"{args.rounds} rounds, load average {load:.1f} on {os.cpu_count()} cores"
    )
    for label, times in results.items():
        print(f"  {label:>8}: median {statistics.median(times) * 1e6:8.1f} µs per registration")
    print(
        "reproduce: .venv/bin/python bench/bench_registrations.py "
        f"--partners {args.partners} --requests {args.requests} --rounds {args.rounds}"
    )


if __name__ == "__main__":
    main()
