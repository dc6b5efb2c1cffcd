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
