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
) -> None:
    """Simulate a partner program and write its five tables (+ ground truth in _truth/)."""
    from simulation.program import simulate as run
    from simulation.program import write_simulation
    from simulation.transactions import transactions_only as strip

    if fmt not in FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    out_dir = out or get_settings().data_dir
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


def register(app: typer.Typer) -> None:
    """Add this package's commands to the `tierwise` CLI."""
    app.command()(simulate)
