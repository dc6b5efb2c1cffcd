"""`tierwise simulate`: write a simulated partner program (thin wrapper over `simulation`)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from features.cli import parse_as_of
from tierwise.settings import get_settings

console = Console()
FORMATS = ("parquet", "csv", "salesforce")


def simulate(
    partners: int = typer.Option(2000, min=1, help="Number of partners"),
    years: float = typer.Option(2.0, min=0.25, help="Years of history"),
    seed: int = typer.Option(7, help="Random seed (same seed, same program)"),
    out: Path = typer.Option(None, "--out", help="Output directory [TIERWISE_DATA_DIR]"),
    end: str = typer.Option(None, "--end", help="Last simulated day (default: today)"),
    transactions_only: bool = typer.Option(
        False, "--transactions-only", help="Write only partners and deals (a transaction log)"
    ),
    fmt: str = typer.Option(
        "parquet",
        "--format",
        help="parquet or csv (the contract tables), or salesforce (Account, Opportunity, Lead, "
        "Task, Event exports for `tierwise import --mapping salesforce-prm`)",
    ),
    chunk: int = typer.Option(
        0,
        "--chunk",
        min=0,
        help="Simulate in independent pieces of at most this many partners, written one after "
        "another (memory bounded by one piece; ids renumbered; no ground truth). 0: one piece",
    ),
) -> None:
    """Simulate a partner program and write its five tables (+ ground truth in _truth/)."""
    from simulation.program import simulate as run
    from simulation.program import write_simulation
    from simulation.transactions import transactions_only as strip

    if fmt not in FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    out_dir = out or get_settings().data_dir
    if chunk:
        _simulate_chunked(out_dir, partners, years, seed, end, chunk, fmt, transactions_only)
        return
    sim = run(partners=partners, years=years, seed=seed, end=parse_as_of(end) if end else None)
    if transactions_only:
        sim = strip(sim)
    if fmt == "salesforce":
        from simulation.salesforce import write_salesforce

        for path in write_salesforce(sim.tables, out_dir):
            console.print(f"  {path.name}")
        console.print(
            f"wrote a simulated program as Salesforce exports to [bold]{out_dir}[/]; import it "
            f"with `tierwise import --mapping salesforce-prm --source {out_dir} --out DIR`"
        )
        return
    write_simulation(sim, out_dir, fmt=fmt)  # type: ignore[arg-type]
    for name, frame in sim.tables.items():
        console.print(f"  {name:<11} {len(frame):>10,} rows")
    console.print(f"wrote a simulated program to [bold]{out_dir}[/] (truth in {out_dir}/_truth)")


def _simulate_chunked(
    out_dir: Path,
    partners: int,
    years: float,
    seed: int,
    end: str | None,
    chunk: int,
    fmt: str,
    transactions_only: bool,
) -> None:
    from rich.progress import Progress

    from simulation.chunks import write_chunked

    if fmt == "salesforce":
        raise typer.BadParameter("--chunk writes parquet or csv, not salesforce exports")
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("simulating", total=partners)
        rows = write_chunked(
            out_dir,
            partners=partners,
            years=years,
            seed=seed,
            end=parse_as_of(end) if end else None,
            chunk=chunk,
            fmt=fmt,  # type: ignore[arg-type]
            tables=("partners", "deals") if transactions_only else None,
            progress=lambda done, _total: bar.update(task, completed=done),
        )
    for name, count in rows.items():
        console.print(f"  {name:<15} {count:>12,} rows")
    console.print(
        f"wrote a simulated program of {partners:,} partners in pieces of at most {chunk:,} to "
        f"[bold]{out_dir}[/] (no ground truth: it is per piece)"
    )


def register(app: typer.Typer) -> None:
    """Add this package's commands to the `tierwise` CLI."""
    app.command()(simulate)
