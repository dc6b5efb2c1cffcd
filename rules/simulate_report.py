"""Rendering a `SimulationReport` for program owners: terminal tables, CSV and HTML.

Terminal tables keep full track and tier names at 80 columns (one migration table per track,
compact cost columns); `--wide` lets them use any width. The CSV is the whole comparison per
partner (tier and incentive cost under both rulebooks); the HTML holds every table.
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
from rich import box
from rich.console import Console
from rich.table import Table

from rules.simulate import SimulationReport
from tierwise.exports import safe_frame


def _money(value: float) -> str:
    return f"${value:,.0f}"


def _delta(value: float) -> str:
    return f"{'+' if value >= 0 else '-'}${abs(value):,.0f}"


def print_report(console: Console, report: SimulationReport, notes: list[str]) -> None:
    when = f" as of {report.as_of:%Y-%m-%d}" if report.as_of else ""
    console.print(
        f"{report.partners:,} partners{when}: rulebook {report.current_version} → "
        f"candidate {report.candidate_version}"
    )
    for note in notes:
        console.print(f"[dim]note: {note}[/]", highlight=False)
    for track, table in report.by_track().items():
        console.print(_matrix(track, table))
    moves = report.movers["direction"].value_counts().to_dict()
    console.print(
        f"{len(report.movers):,} partners would move: "
        + (", ".join(f"{n:,} {d}" for d, n in moves.items()) or "none")
    )
    console.print(_cost_table(report))
    if len(report.pools):
        console.print(_pool_table(report))


def _matrix(track: str, table: pd.DataFrame) -> Table:
    out = Table(
        title=f"Tier migration, track {track}",
        caption="rows: now · columns: candidate",
        min_width=52,
        box=box.SIMPLE_HEAD,
        title_justify="left",
    )
    out.add_column("now", no_wrap=True)
    for col in table.columns:
        out.add_column(str(col), justify="right", no_wrap=True)
    for label, counts in table.iterrows():
        out.add_row(str(label), *(f"{int(c):,}" for c in counts))
    return out


def _cost_table(report: SimulationReport) -> Table:
    out = Table(
        title="Incentive cost of one period, to date (pools allocated, caps applied)",
        box=box.SIMPLE_HEAD,
        title_justify="left",
    )
    for name in ("incentive", "partners", "now", "candidate", "delta"):
        out.add_column(name, justify="left" if name == "incentive" else "right", no_wrap=True)
    cost = report.cost.sort_values(["period", "incentive_id"], kind="mergesort")
    for period, group in cost.groupby("period", sort=False):
        out.add_row(f"[bold]period {period}[/]")
        for r in group.to_dict("records"):
            out.add_row(
                f"  {r['incentive_id']}",
                f"{r['partners_current']:,}→{r['partners_candidate']:,}",
                _money(r["cost_current"]),
                _money(r["cost_candidate"]),
                _delta(r["cost_delta"]),
            )
        now, cand = float(group["cost_current"].sum()), float(group["cost_candidate"].sum())
        out.add_row(
            f"  all {period}", "", _money(now), _money(cand), _delta(cand - now), end_section=True
        )
    before, after = report.total_cost
    out.add_row("[bold]total[/]", "", _money(before), _money(after), _delta(after - before))
    return out


def _pool_table(report: SimulationReport) -> Table:
    out = Table(
        title="Budget pools: one period against budget",
        box=box.SIMPLE_HEAD,
        title_justify="left",
    )
    for name in ("pool", "budget", "granted now", "candidate", "refused"):
        out.add_column(name, justify="left" if name == "pool" else "right", no_wrap=True)
    for r in report.pools.to_dict("records"):
        budget = r.get("budget_candidate") or r.get("budget_current") or 0.0
        out.add_row(
            f"{r['pool']} ({r.get('period_candidate') or r.get('period_current')})",
            _money(budget),
            _share(r.get("granted_current"), r.get("budget_current")),
            _share(r.get("granted_candidate"), r.get("budget_candidate")),
            f"{_count(r.get('refused_current'))}→{_count(r.get('refused_candidate'))}",
        )
    return out


def _share(granted: float | None, budget: float | None) -> str:
    if granted is None or budget is None or pd.isna(granted):
        return "—"
    return f"{_money(granted)} ({granted / budget:.0%})" if budget else _money(granted)


def _count(value: float | None) -> str:
    return "—" if value is None or pd.isna(value) else f"{int(value):,}"


def write_out(report: SimulationReport, path: Path, notes: list[str]) -> None:
    """`.html`: every table on one page; anything else: the per-partner comparison as CSV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".html", ".htm"):
        path.write_text(render_html(report, notes), encoding="utf-8")
    else:
        safe_frame(report.partner_cost).to_csv(path, index=False)


def render_html(report: SimulationReport, notes: list[str]) -> str:
    when = f" as of {report.as_of:%Y-%m-%d}" if report.as_of else ""
    parts = [
        "<!doctype html><meta charset='utf-8'><title>Rulebook simulation</title>",
        "<style>body{font-family:sans-serif}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}</style>",
        f"<h1>Rulebook {html.escape(report.current_version)} → candidate "
        f"{html.escape(report.candidate_version)}</h1>",
        f"<p>{report.partners:,} partners{when}; {len(report.movers):,} would move.</p>",
        *(f"<p><em>note: {html.escape(n)}</em></p>" for n in notes),
    ]
    for track, table in report.by_track().items():
        parts.append(f"<h2>Track {html.escape(track)}: tier now → under the candidate</h2>")
        parts.append(table.to_html())
    parts.append("<h2>Incentive cost of one period</h2>")
    parts.append(report.cost.to_html(index=False, float_format=lambda v: f"{v:,.0f}"))
    if len(report.pools):
        parts.append("<h2>Budget pools</h2>")
        parts.append(report.pools.to_html(index=False, float_format=lambda v: f"{v:,.0f}"))
    parts.append("<h2>Partners who would move</h2>")
    parts.append(report.movers.to_html(index=False))
    return "\n".join(parts)
