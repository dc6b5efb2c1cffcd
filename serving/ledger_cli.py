"""`tierwise incentives ledger`: the incentive ledger as a table or JSON (read-only)."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import typer

incentives_app = typer.Typer(help="The incentive ledger.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(incentives_app, name="incentives")


def ledger_records(entries: pd.DataFrame, accruals: pd.DataFrame) -> list[dict[str, Any]]:
    """Entries as JSON-ready dicts, each with its weekly accruals (oldest first)."""
    from serving.db.types import jsonable

    by_key: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for a in accruals.itertuples(index=False):
        key = (str(a.partner_id), str(a.incentive_id), str(a.period))
        by_key.setdefault(key, []).append(
            {"week": a.week, "amount": a.amount, "rulebook_hash": a.rulebook_hash}
        )
    out = []
    for record in entries.to_dict("records"):
        key = (str(record["partner_id"]), str(record["incentive_id"]), str(record["period"]))
        out.append(jsonable({**record, "accruals": by_key.get(key, [])}))
    return out


@incentives_app.command("ledger")
def ledger(
    period: str = typer.Option(None, "--period", help="A period: once, 2026-Q4, 2026-11, 2026"),
    partner: str = typer.Option(None, "--partner", help="One partner id"),
    as_json: bool = typer.Option(False, "--json", help="JSON with each entry's accruals"),
) -> None:
    """Incentives granted and accruing: one entry per partner, incentive and period."""
    from rich.console import Console
    from rich.table import Table

    from serving.db import get_engine, session_scope, upgrade
    from serving.db.ledger import accruals, entries
    from tierwise.settings import get_settings

    engine = get_engine(get_settings().db_url)
    upgrade(engine)
    with session_scope(engine) as session:
        rows = entries(session, period=period, partner_id=partner)
        moves = accruals(session, partner_id=partner)
    if as_json:
        typer.echo(json.dumps({"entries": ledger_records(rows, moves)}, indent=1))
        return
    console = Console()
    table = Table(title="Incentive ledger" + (f" {period}" if period else ""))
    for name in ("partner", "incentive", "period", "status", "amount", "last week"):
        table.add_column(name, justify="right" if name == "amount" else "left", no_wrap=True)
    for r in rows.itertuples(index=False):
        table.add_row(
            str(r.partner_id),
            str(r.incentive_id),
            str(r.period),
            str(r.status),
            f"{r.amount:,.2f} {r.unit}",
            str(r.last_week),
        )
    console.print(table)
    by_status = rows.groupby("status")["amount"].agg(["size", "sum"])
    console.print(
        ", ".join(f"{s}: {int(n):,} entries, {v:,.0f}" for s, (n, v) in by_status.iterrows())
        or "no entries"
    )


@incentives_app.command("pay")
def pay(
    period: str = typer.Option(..., "--period", help="The period paid out, e.g. 2026-Q3"),
    partner: str = typer.Option(None, "--partner", help="Only this partner"),
) -> None:
    """Record that a period's earned incentives were paid (earned → paid)."""
    from serving.db import get_engine, session_scope, upgrade
    from serving.db.ledger import mark_paid
    from tierwise.settings import get_settings

    engine = get_engine(get_settings().db_url)
    upgrade(engine)
    with session_scope(engine) as session:
        count, total = mark_paid(session, period=period, partner_id=partner)
    typer.echo(f"{count:,} earned entries of {period} marked paid ({total:,.2f})")


@incentives_app.command("cost")
def cost(
    data: str = typer.Option(None, "--data", help="Data directory (for partner revenue)"),
    per: str = typer.Option("quarter", "--per", help="month | quarter | year"),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table"),
) -> None:
    """Program cost per period (what the ledger accrued) and per partner-sourced revenue $."""
    from rich.console import Console
    from rich.table import Table

    from features.io import load_tables
    from rules.loader import load_rulebook
    from rules.program_cost import cost_per_period
    from serving.db import get_engine, session_scope, upgrade
    from serving.db.ledger import accruals
    from tierwise.settings import get_settings

    if per not in ("month", "quarter", "year"):
        raise typer.BadParameter(
            f"'{per}' is not a period: month, quarter or year", param_hint="--per"
        )
    settings = get_settings()
    engine = get_engine(settings.db_url)
    upgrade(engine)
    with session_scope(engine) as session:
        moves = accruals(session)
    deals = load_tables(data or settings.data_dir).deals
    table = cost_per_period(moves, deals, load_rulebook(settings.rules_dir).calendar, per)
    if as_json:
        records = table.astype(object).where(table.notna(), None).to_dict("records")
        typer.echo(json.dumps({"per": per, "periods": records}, indent=1))
        return
    out = Table(title=f"Program cost per {per}")
    for name in ("period", "cost", "partner revenue won", "cost per revenue $"):
        out.add_column(name, justify="left" if name == "period" else "right", no_wrap=True)
    for r in table.to_dict("records"):
        ratio = r["cost_per_revenue"]
        out.add_row(
            str(r["period"]),
            f"${r['cost']:,.0f}",
            f"${r['partner_revenue']:,.0f}",
            "—" if pd.isna(ratio) else f"${ratio:.3f}",
        )
    Console().print(out)
