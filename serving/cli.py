"""`tierwise` subcommands of the serving package (thin wrappers: load, call, save)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from features.cli import BUCKETS, ENGINE, SPARK_CONF, SPARK_MASTER, TABLE_PREFIX
from serving.serve_cli import run_server

if TYPE_CHECKING:
    from serving.weekly import WeekRun

__all__ = ["register", "run_server"]


def register(app: typer.Typer) -> None:
    """Add this package's commands to the `tierwise` CLI."""
    from serving import ledger_cli, serve_cli

    serve_cli.register(app)  # serve, keys new
    ledger_cli.register(app)  # incentives ledger
    app.command()(weekly)
    db_app = typer.Typer(help="The service database.", no_args_is_help=True)
    db_app.command("upgrade")(db_upgrade)
    app.add_typer(db_app, name="db")


def weekly(
    week: str = typer.Option(
        "current", "--week", help="ISO week to plan, e.g. 2026-W48 (default: this week, UTC)"
    ),
    data: str = typer.Option(None, "--data", help="Data directory [TIERWISE_DATA_DIR]"),
    out: Path = typer.Option(None, "--out", help="Digest folder [<data>/digest]"),
    allow_shrink: bool = typer.Option(
        False, "--allow-shrink", help="Plan even when a table shrank sharply since the last run"
    ),
    engine: str = ENGINE,
    spark_master: str = SPARK_MASTER,
    conf: list[str] = SPARK_CONF,
    table_prefix: str = TABLE_PREFIX,
    buckets: int = BUCKETS,
    sink: str = typer.Option(
        "db", "--sink", help="db (one transaction, digest) or parquet (files in --out only)"
    ),
) -> None:
    """Plan a week: features → recommend → capacity per manager → one transaction; digest.

    Writes plan.parquet into --out on either engine."""
    from datetime import UTC, datetime

    from serving.weekly import run_week
    from serving.weeks import week_of
    from tierwise.settings import get_settings

    if week in ("", "current"):
        week = week_of(datetime.now(UTC))
    settings = get_settings()
    source = data or str(settings.data_dir)
    out_dir = out or Path(source) / "digest"
    if engine == "pandas":
        if table_prefix or conf or buckets:
            raise typer.BadParameter("--table-prefix, --conf and --buckets need --engine spark")
        run = run_week(
            settings,
            data_dir=source,
            week=week,
            out_dir=out_dir,
            allow_shrink=allow_shrink,
            sink=sink,  # type: ignore[arg-type]
        )
    elif engine == "spark":
        from features.spark.session import SparkOptions, parse_conf, spark_session
        from serving.spark_week import SparkWeek

        options = SparkOptions(master=spark_master, conf=parse_conf(conf))
        with spark_session(options) as spark:
            spark_week = SparkWeek(
                spark,
                data=None if table_prefix else source,
                table_prefix=table_prefix,
                buckets=buckets,
                sink=sink,
                out_uri=str(out_dir.resolve()) if "://" not in str(out_dir) else str(out_dir),
            )
            run = run_week(
                settings,
                data_dir=source,
                week=week,
                out_dir=out_dir,
                allow_shrink=allow_shrink,
                engine=spark_week,
                sink=sink,  # type: ignore[arg-type]
            )
    else:
        raise typer.BadParameter(f"--engine must be pandas or spark, not {engine!r}")
    show_week(run, week=week, out_dir=out_dir)


def show_week(run: WeekRun, *, week: str, out_dir: Path) -> None:
    """Print what a weekly run did: the summary table, stage timings and the digest folder."""
    from rich.console import Console
    from rich.table import Table

    s = run.summary
    table = Table(title=f"Weekly plan {week}")
    table.add_column("")
    table.add_column("", justify="right")
    for label, key in (
        ("partners scored", "partners_scored"),
        ("promotions", "promotions"),
        ("demotions", "demotions"),
        ("in grace period", "in_grace"),
        ("actions planned", "actions_planned"),
        ("overflow", "actions_overflow"),
        ("incentives eligible", "incentive_awards"),
        ("incentive accruals", "incentive_accruals"),
        ("pool refusals", "pool_refusals"),
    ):
        table.add_row(label, f"{s.get(key, 0):,}")
    table.add_row("incentive cost (accrued)", f"${s['incentive_cost']:,.0f}")
    if s.get("incentive_opening_balance"):
        table.add_row(
            "ledger opened with (reached before)", f"${s['incentive_opening_balance']:,.0f}"
        )
    for action, count in sorted(s["actions_per_type"].items(), key=lambda kv: -kv[1]):
        table.add_row(f"  {action}", f"{count:,}")
    console = Console()
    console.print(table)
    timings = ", ".join(f"{k} {v:.1f}s" for k, v in run.timings.items())
    console.print(f"stages: {timings}")
    console.print(f"digest: {len(run.digest)} files in [bold]{out_dir / week}[/]")
    if run.plan_file is not None:
        console.print(f"plan: [bold]{run.plan_file}[/]")
    for written in run.written:
        console.print(f"wrote [bold]{written}[/]")
    ignored = s.get("overrides_ignored") or []
    if ignored:
        console.print(
            f"[yellow]{len(ignored)} manager override(s) ignored[/] (tier not on the partner's "
            "track; planned by the rules — fix them on the partner page):"
        )
        for item in ignored:
            console.print(
                f"  {item['partner_id']}: '{item['override_tier']}' is not a tier of track "
                f"'{item['track']}' ({item['allowed']})"
            )


def db_upgrade() -> None:
    """Create or upgrade the service database schema (TIERWISE_DATABASE_URL or SQLite)."""
    from serving.db import current_revision, get_engine, upgrade
    from tierwise.settings import get_settings

    engine = get_engine(get_settings().db_url)
    upgrade(engine)
    typer.echo(f"{engine.url.render_as_string()} at revision {current_revision(engine)}")
