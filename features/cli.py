"""`tierwise` subcommands of the features package (thin wrappers: load, call, save)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console

from tierwise.settings import get_settings

log = logging.getLogger(__name__)
console = Console()


# The rulebook's registration expiry (days), for the KPI report. features/ does not import
# rules/: the `tierwise` shell wires this to `rules.cli.registration_expiry_days`.
def _no_rulebook() -> int | None:
    return None


rulebook_expiry_days: Callable[[], int | None] = _no_rulebook


def parse_as_of(value: str) -> datetime:
    """An as-of date or timestamp from the command line, as tz-aware UTC."""
    import pandas as pd

    try:
        ts = pd.Timestamp(value)
    except ValueError as exc:
        raise typer.BadParameter(f"'{value}' is not a date (use YYYY-MM-DD)") from exc
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime()


def validate(
    source: str = typer.Argument(None, help="Data directory or SQLAlchemy URL"),
    quarantine: Path = typer.Option(None, "--quarantine", help="Write bad rows here"),
    as_of: str = typer.Option(
        None, "--as-of", help="Data end: later timestamps are problems [the data's own end]"
    ),
) -> None:
    """Validate a program's tables; print every problem and exit non-zero if there is one."""
    from features.io import validate_source

    src = source or str(get_settings().data_dir)
    when = parse_as_of(as_of) if as_of else None
    report = validate_source(src, quarantine=quarantine, as_of=when)
    report.print(console)
    if not report.ok:
        raise typer.Exit(code=1)


def import_(
    mapping: str = typer.Option(
        ..., "--mapping", help="A shipped mapping (salesforce-prm, transactions) or a YAML file"
    ),
    source: str = typer.Option(
        ..., "--source", help="Export directory, one file, a CSV URL or a SQLAlchemy URL"
    ),
    out: Path = typer.Option(None, "--out", help="Output data directory [TIERWISE_DATA_DIR]"),
    fmt: str = typer.Option("parquet", "--format", help="Table files: parquet or csv"),
    quarantine: Path = typer.Option(
        None, "--quarantine", help="Write bad rows here and import the good ones"
    ),
    as_of: str = typer.Option(None, "--as-of", help="Data end: later timestamps are problems"),
) -> None:
    """Import an export through a mapping into the data contract; validate; write the tables."""
    from features.importer import import_source, write_import
    from tierwise.errors import MappingError

    if fmt not in ("parquet", "csv"):
        raise typer.BadParameter(f"--format must be parquet or csv, not {fmt!r}")
    try:
        result = import_source(mapping, source, as_of=parse_as_of(as_of) if as_of else None)
    except MappingError as exc:
        console.print(f"[red]{exc.detail}[/]", highlight=False)
        for p in exc.problems:
            where = (
                f"{p.file}:{p.line}: " if p.file and p.line else (f"{p.file}: " if p.file else "")
            )
            console.print(f"  {where}{p.message}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from exc
    for name, rows in result.rows.items():
        console.print(f"  read {result.sources[name]}: {rows:,} rows ({name})")
    result.report.print(console)
    out_dir = out or get_settings().data_dir
    if not result.report.ok and quarantine is None:
        console.print("[red]nothing written[/]: fix the data or pass --quarantine DIR")
        raise typer.Exit(code=1)
    empty = result.empty_required()
    if empty:
        write_import(result, None, quarantine=quarantine)
        console.print(f"[red]nothing written[/]: no good rows in {', '.join(empty)}")
        raise typer.Exit(code=1)
    written = write_import(result, out_dir, fmt=fmt, quarantine=quarantine)  # type: ignore[arg-type]
    console.print(
        f"imported with mapping [bold]{result.mapping.name}[/] into [bold]{out_dir}[/]: "
        + ", ".join(p.name for p in written)
    )


features_app = typer.Typer(help="Point-in-time partner features.", no_args_is_help=False)


# the engine options `tierwise features` and `tierwise weekly` share
ENGINE = typer.Option("pandas", "--engine", help="pandas (one process) or spark")
SPARK_MASTER = typer.Option(
    None, "--spark-master", help="Spark master URL [local[*]; spark-submit's]"
)
SPARK_CONF = typer.Option([], "--conf", help="Any spark.<name>=<value> setting (repeatable)")
TABLE_PREFIX = typer.Option(
    None, "--table-prefix", help="Spark: read catalog tables <prefix><table> (not --data)"
)
BUCKETS = typer.Option(0, "--buckets", min=0, help="Spark: partner buckets [auto]")


@features_app.callback(invoke_without_command=True)
def features(
    ctx: typer.Context,
    data: str = typer.Option(None, "--data", help="Data directory or SQLAlchemy URL"),
    as_of: str = typer.Option(None, "--as-of", help="Snapshot date (events before it count)"),
    out: Path = typer.Option(None, "--out", help="Output Parquet file (Spark: a dataset folder)"),
    engine: str = ENGINE,
    spark_master: str = SPARK_MASTER,
    conf: list[str] = SPARK_CONF,
    table_prefix: str = TABLE_PREFIX,
    buckets: int = BUCKETS,
) -> None:
    """Build the feature frame as of a date: `tierwise features --data DIR --as-of D --out F`."""
    if ctx.invoked_subcommand is not None:
        return
    if as_of is None or out is None:
        raise typer.BadParameter("--as-of and --out are required (or use `features list`)")
    if engine == "spark":
        _features_on_spark(
            data or str(get_settings().data_dir),
            as_of=parse_as_of(as_of),
            out=out,
            options=(spark_master, conf, table_prefix, buckets),
        )
        return
    if engine != "pandas":
        raise typer.BadParameter(f"--engine must be pandas or spark, not {engine!r}")
    from features.io import load_tables
    from features.snapshot import build_features

    tables = load_tables(data or get_settings().data_dir)
    frame = build_features(tables, as_of=parse_as_of(as_of))
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out, index=False)
    console.print(f"{len(frame):,} partners x {frame.shape[1]} columns -> [bold]{out}[/]")


def _features_on_spark(
    data: str, *, as_of: datetime, out: Path, options: tuple[str, list[str], str | None, int]
) -> None:
    from features.spark.buckets import read_tables, table_rows
    from features.spark.session import SparkOptions, buckets_for, parse_conf, spark_session
    from features.spark.snapshot import build_features_spark

    master, conf, prefix, buckets = options
    settings = SparkOptions(master=master, conf=parse_conf(conf))
    uri = str(out) if "://" in str(out) else str(out.resolve())
    with spark_session(settings) as spark:
        tables = read_tables(spark, data=None if prefix else data, table_prefix=prefix)
        if buckets <= 0:
            buckets = buckets_for(table_rows(tables), dict(spark.sparkContext.getConf().getAll()))
        rows, columns = build_features_spark(
            tables, as_of=as_of, out_uri=uri, buckets=buckets, label=prefix or data
        )
    console.print(f"{rows:,} partners x {columns} columns -> [bold]{out}[/] ({buckets} parts)")


@features_app.command("list")
def list_features() -> None:
    """List every declared feature: name, kind, unit, table, description."""
    from rich.table import Table

    from features.registry import FEATURES, registry_version

    table = Table(title=f"Feature registry {registry_version()} ({len(FEATURES)} features)")
    for col in ("name", "kind", "unit", "table", "description"):
        table.add_column(col)
    for f in FEATURES.values():
        table.add_row(f.name, f.kind, f.unit, f.table, f.description)
    console.print(table)


def kpis(
    data: str = typer.Option(None, "--data", help="Data directory or SQLAlchemy URL"),
    as_of: str = typer.Option(None, "--as-of", help="End of the period (default: today)"),
    quota: int = typer.Option(None, "--quota", help="Recruitment quota for the period"),
    period_days: int = typer.Option(90, "--period-days", min=1, help="Days in the period"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for machines"),
    html: Path = typer.Option(None, "--html", help="Write a self-contained HTML report"),
    expiry_days: int = typer.Option(
        None,
        "--expiry-days",
        min=1,
        help="Days an accepted registration may go without an outcome before it expires "
        "[the rulebook's registrations.expiry_days, else 90]",
    ),
    program_cost: float = typer.Option(
        None, "--program-cost", help="The program's own costs in the period (commissions, MDF)"
    ),
    program_costs: Path = typer.Option(
        None,
        "--program-costs",
        help="CSV of dated program costs (columns at, amount; e.g. the ledger's accruals)",
    ),
) -> None:
    """The program KPI report: recruitment, success, enablement, profitability.

    CAC with program costs needs what the program paid: `--program-cost` (the period's
    total) or `--program-costs` (dated rows: the trend gets them too).
    """
    import pandas as pd

    from features.io import load_tables
    from features.kpi_metrics import DEFAULT_EXPIRY_DAYS
    from features.kpi_report import print_report, render_html
    from features.kpis import program_kpis

    if program_cost is not None and program_costs is not None:
        raise typer.BadParameter("give --program-cost or --program-costs, not both")
    costs: pd.DataFrame | float | None = program_cost
    if program_costs is not None:
        costs = pd.read_csv(program_costs)
    tables = load_tables(data or get_settings().data_dir)
    when = parse_as_of(as_of) if as_of else datetime.now().astimezone()
    expiry = expiry_days or rulebook_expiry_days() or DEFAULT_EXPIRY_DAYS
    report = program_kpis(
        tables,
        as_of=parse_as_of(str(when)),
        quota=quota,
        period_days=period_days,
        expiry_days=expiry,
        program_costs=costs,
    )
    if as_json:
        typer.echo(report.to_json())
    else:
        print_report(report, console)
    if html:
        html.write_text(render_html(report, tables), encoding="utf-8")
        if as_json:  # keep stdout pure JSON
            log.info("wrote %s", html)
        else:
            console.print(f"wrote [bold]{html}[/]")


def register(app: typer.Typer) -> None:
    """Add this package's commands to the `tierwise` CLI."""
    app.command()(validate)
    app.command("import")(import_)
    app.add_typer(features_app, name="features")
    app.command()(kpis)
