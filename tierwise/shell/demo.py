"""`make demo`: the main job end to end on embedded defaults.

simulate → validate → KPIs → rules check → train + register champions → weekly plan → serve.
Every step calls the same functions the CLI does; nothing here holds domain logic.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import shlex
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from tierwise import logs
from tierwise.settings import ApiKey, Settings

log = logging.getLogger("tierwise.shell.demo")
console = Console()


def _step(title: str) -> None:
    console.print(Rule(f"[bold]{title}"))


def simulate_program(data: Path, *, partners: int, years: float, seed: int) -> None:
    from simulation.program import simulate, write_simulation

    if (data / "partners.parquet").exists():
        console.print(f"reusing the simulated program in {data} (delete it to start afresh)")
        return
    sim = simulate(partners=partners, years=years, seed=seed)
    write_simulation(sim, data)
    for name, frame in sim.tables.items():
        console.print(f"  {name:<11} {len(frame):>9,} rows")
    console.print(
        "  (your own data: `tierwise import --mapping salesforce-prm|transactions|FILE.yaml "
        "--source EXPORT --out DIR`; README, 'Load your own data')"
    )


def validate_program(data: Path) -> None:
    from features.io import validate_source

    report = validate_source(str(data))
    report.print(console)
    if not report.ok:
        raise SystemExit("the simulated program does not pass validation")


def show_kpis(data: Path, as_of: datetime) -> None:
    from features.io import load_tables
    from features.kpi_report import print_report, render_html
    from features.kpis import program_kpis

    tables = load_tables(data)
    report = program_kpis(tables, as_of=as_of)
    print_report(report, console)
    html = data / "out" / "kpis.html"
    html.parent.mkdir(parents=True, exist_ok=True)
    html.write_text(render_html(report, tables), encoding="utf-8")
    console.print(f"KPI report: [bold]{html}[/]")


def check_rules(settings: Settings) -> None:
    from rules import load_rulebook

    book = load_rulebook(settings.rules_dir)
    console.print(f"rulebook {book.version} ({book.content_hash[:12]}) is valid")


def train_models(data: Path, settings: Settings) -> None:
    from training.report import show_trained
    from training.train import train_all

    show_trained(train_all(data, settings=settings), console, settings.mlflow_tracking_uri)


def plan_week(data: Path, settings: Settings, week: str) -> None:
    from serving.cli import show_week
    from serving.weekly import run_week

    out_dir = data / "digest"
    run = run_week(settings, data_dir=data, week=week, out_dir=out_dir)
    show_week(run, week=week, out_dir=out_dir)


def demo_keys(data: Path, manager_id: str) -> dict[str, str]:
    """Fresh keys and a session secret for the demo (kept in data/demo-keys.json; only the
    keys' hashes go to settings)."""
    path = data / "demo-keys.json"
    if path.exists():
        keys: dict[str, str] = json.loads(path.read_text())
        if keys.get("manager_id") == manager_id and keys.get("session_secret"):
            return keys
    keys = {role: secrets.token_urlsafe(24) for role in ("scorer", "manager", "admin")}
    keys["manager_id"] = manager_id
    keys["session_secret"] = secrets.token_urlsafe(32)  # the demo generates its own
    path.write_text(json.dumps(keys, indent=2))
    return keys


def api_keys_setting(keys: dict[str, str]) -> str:
    from serving.auth import hash_key

    entries = [
        ApiKey(key_sha256=hash_key(keys["scorer"]), role="scorer", name="demo PRM"),
        ApiKey(
            key_sha256=hash_key(keys["manager"]),
            role="manager",
            manager_id=keys["manager_id"],
            name=f"demo manager {keys['manager_id']}",
        ),
        ApiKey(key_sha256=hash_key(keys["admin"]), role="admin", name="demo admin"),
    ]
    return json.dumps([e.model_dump() for e in entries])


def busiest_manager(data: Path) -> tuple[str, str]:
    """A manager with partners, and one of their partners, for the printed examples."""
    import pandas as pd

    columns = ["partner_id", "manager_id", "exited_at"]
    partners = pd.read_parquet(data / "partners.parquet", columns=columns)
    partners = partners.loc[partners["exited_at"].isna()]  # the weekly plan scored these
    manager = str(partners["manager_id"].value_counts().index[0])
    partner = str(partners.loc[partners["manager_id"] == manager, "partner_id"].iloc[0])
    return manager, partner


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--partners", type=int, default=2000)
    parser.add_argument("--years", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-serve", action="store_true", help="stop before starting the service")
    args = parser.parse_args(argv)
    logs.configure()

    data: Path = args.data.resolve()
    data.mkdir(parents=True, exist_ok=True)
    os.environ["TIERWISE_DATA_DIR"] = str(data)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    settings = Settings(data_dir=data)

    _step("1. simulate a partner program")
    simulate_program(data, partners=args.partners, years=args.years, seed=args.seed)
    _step("2. validate it against the data contract")
    validate_program(data)
    from serving.weeks import week_of
    from simulation.program import default_end

    as_of = default_end()
    week = week_of(as_of)
    _step(f"3. program KPIs as of {as_of:%Y-%m-%d}")
    show_kpis(data, as_of)
    _step("4. check the rulebook")
    check_rules(settings)
    _step("5. train, evaluate and register the models (MLflow)")
    train_models(data, settings)
    _step(f"6. plan week {week}")
    plan_week(data, settings, week)

    manager, partner = busiest_manager(data)
    keys = demo_keys(data, manager)
    os.environ["TIERWISE_API_KEYS"] = api_keys_setting(keys)
    os.environ.setdefault("TIERWISE_SESSION_SECRET", keys["session_secret"])
    url = f"http://{settings.host}:{settings.port}"
    _step("7. try it")
    console.print(
        "MLflow UI:   "
        + shlex.join(
            [
                ".venv/bin/mlflow",
                "ui",
                "--backend-store-uri",
                settings.mlflow_tracking_uri,
                "--port",
                "5000",
            ]
        )
    )
    console.print(f"KPI report:  {data / 'out' / 'kpis.html'}")
    console.print(f"Digests:     {data / 'digest' / week}")
    console.print(
        f"Review page: {url}/review  (sign in as manager {manager} with key "
        f"[bold]{keys['manager']}[/])"
    )
    console.print(f"Admin key:   {keys['admin']}   (keys are in {data / 'demo-keys.json'})")
    console.print("Score a partner (paste into another terminal while the service runs):")
    console.print(
        f"  curl -s -X POST {url}/v1/partners/{partner}/score "
        f"-H 'Authorization: Bearer {keys['scorer']}'",
        soft_wrap=True,
    )
    if args.no_serve:
        return
    _step(f"8. serving on {url} (Ctrl-C to stop) — started {datetime.now(UTC):%H:%M:%S} UTC")
    from serving.cli import run_server

    run_server(Settings(data_dir=data))


if __name__ == "__main__":
    main()
