"""Rendering of the program KPI report: rich tables for a terminal, one self-contained HTML file.

The HTML has no external resources: inline CSS and charts drawn as inline SVG (small multiples
of the monthly trend, partner-vs-direct bars, recruitment-channel bars), every data string
escaped. SVG keeps the page searchable and renders in milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

import pandas as pd

from features.kpi_metrics import FAMILIES, KPIS
from features.kpis import KpiReport, Value
from features.tables import Tables

if TYPE_CHECKING:
    from rich.console import Console

# The metrics shown side by side in the break-down tables of the terminal report.
HEADLINE = (
    "total_partners",
    "new_partners",
    "partner_churn_rate",
    "registered_deals",
    "acceptance_rate",
    "win_rate",
    "partner_revenue_won",
)
PARTNER_VS_DIRECT = (
    ("CAC", "cac"),
    ("Retention", "retention"),
    ("Cross-sell/upsell rate", "expansion_rate"),
)
_PARTNER_COLOR, _DIRECT_COLOR, _MUTED = "#2a6f97", "#c8553d", "#98a2aa"
_SVG = 'xmlns="http://www.w3.org/2000/svg" role="img"'
_W, _H = 250, 120  # one trend chart
_LEFT, _RIGHT, _TOP, _BOTTOM = 46, 12, 24, 22

_TREND_NOTE = (
    "Monthly trend: each point is the metric over one calendar month, the last one "
    "ending at as_of. Hover a point for its value."
)
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;
max-width:1100px;color:#1d2730;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:2px solid #dde3e8}
.meta{color:#5b6770}table{border-collapse:collapse;margin:.6rem 0 1rem;width:100%}
th,td{padding:.3rem .6rem;border-bottom:1px solid #e4e8eb;text-align:left;vertical-align:top}
td.num,th.num{text-align:right;white-space:nowrap}th{background:#f3f6f8}
td.desc{color:#5b6770;font-size:.9em}figure{margin:.5rem 0}img{max-width:100%}
.na{color:#98a2aa}.charts{display:flex;flex-wrap:wrap;gap:.4rem 1rem}
svg text{font-size:10px;fill:#5b6770}svg text.t{font-size:12px;font-weight:600;fill:#1d2730}
svg text.v{fill:#1d2730}
"""


def format_value(value: Value, unit: str) -> str:
    """A metric for humans: 0.25 ratio → '25.0%', 1234.5 USD → '$1,234.50', None → 'n/a'."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "n/a"
    if unit == "ratio":
        return f"{value:.1%}"
    if unit == "USD":
        return f"${value:,.2f}"
    if unit == "days":
        return f"{value:,.1f} d"
    if unit == "score":
        return f"{value:.2f}"
    if unit == "count":
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def print_report(report: KpiReport, console: Console) -> None:
    """The KPIs as rich tables: one per family, then channels and break-downs."""
    from rich.table import Table

    console.print(f"[bold]Program KPIs[/] {_period(report)}")
    if report.missing_tables:
        console.print(f"tables absent (their metrics are n/a): {', '.join(report.missing_tables)}")
    for family in FAMILIES:
        table = Table(title=family.capitalize(), title_justify="left")
        table.add_column("metric")
        table.add_column("value", justify="right")
        table.add_column("definition", style="dim")
        for name, value in report.family(family).items():
            kpi = KPIS[name]
            table.add_row(name, format_value(value, kpi.unit), kpi.description)
        console.print(table)
    channels = Table(title="Recruitment channels", title_justify="left")
    for col in ("channel", "partners", "share", "new partners", "avg recruit cost"):
        channels.add_column(col, justify="left" if col == "channel" else "right")
    for channel, row in report.channels.iterrows():
        channels.add_row(str(channel), *_channel_cells(row))
    console.print(channels)
    for dim, frame in report.breakdowns.items():
        table = Table(title=f"By {dim.replace('_', ' ')}", title_justify="left")
        table.add_column(dim)
        for name in HEADLINE:
            table.add_column(name, justify="right")
        for group, row in frame.iterrows():
            table.add_row(str(group), *(_cell(row[n], n) for n in HEADLINE))
        console.print(table)


def render_html(report: KpiReport, tables: Tables | None = None) -> str:
    """One self-contained HTML page: KPI tables, monthly trends, partner vs direct, channels."""
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Program KPIs {escape(_period(report))}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Partner program KPIs</h1>",
        f'<p class="meta">{escape(_period(report))}. {escape(_sources(report, tables))}</p>',
    ]
    for family in FAMILIES:
        parts += [
            f'<section id="{family}"><h2>{family.capitalize()}</h2>',
            _metrics_table(report, family),
            f'<p class="meta">{_TREND_NOTE}</p>',
            _trend_charts(report, family),
            "</section>",
        ]
    parts += [
        '<section id="partner-vs-direct"><h2>Partner channel vs direct</h2>',
        _partner_vs_direct_chart(report),
        "</section>",
        '<section id="channels"><h2>Recruitment channels</h2>',
        _channel_section(report),
        "</section>",
        '<section id="breakdowns"><h2>Break-downs</h2>',
        *(_breakdown_table(dim, frame) for dim, frame in report.breakdowns.items()),
        "</section></body></html>",
    ]
    return "\n".join(parts)


def _period(report: KpiReport) -> str:
    start, end = report.period_start.date(), report.as_of.date()
    return f"{start} to {end} ({report.period_days} days before as_of {report.as_of.isoformat()})"


def _sources(report: KpiReport, tables: Tables | None) -> str:
    counts = {name: len(frame) for name, frame in tables.items()} if tables is not None else {}
    shown = ", ".join(f"{n} ({counts[n]:,} rows)" if n in counts else n for n in report.tables)
    text = f"Tables: {shown}."
    if report.missing_tables:
        text += f" Absent (their metrics are n/a): {', '.join(report.missing_tables)}."
    if report.quota is not None:
        text += f" Recruitment quota: {report.quota:,}."
    return text


def _cell(value: float | None, name: str) -> str:
    number = None if value is None or math.isnan(value) else float(value)
    return format_value(number, KPIS[name].unit)


def _channel_cells(row: pd.Series) -> list[str]:
    return [
        format_value(int(row["partners"]), "count"),
        format_value(None if pd.isna(row["share"]) else float(row["share"]), "ratio"),
        format_value(int(row["new_partners"]), "count"),
        format_value(
            None if pd.isna(row["avg_recruit_cost"]) else float(row["avg_recruit_cost"]), "USD"
        ),
    ]


def _td(text: str, cls: str = "num") -> str:
    css = f"{cls} na" if text == "n/a" else cls
    return f'<td class="{css}">{escape(text)}</td>'


def _metrics_table(report: KpiReport, family: str) -> str:
    rows = [
        f"<tr><td>{escape(name)}</td>{_td(format_value(value, KPIS[name].unit))}"
        f'<td class="desc">{escape(KPIS[name].description)}</td></tr>'
        for name, value in report.family(family).items()
    ]
    head = '<tr><th>metric</th><th class="num">value</th><th>definition</th></tr>'
    return f"<table>{head}{''.join(rows)}</table>"


def _channel_section(report: KpiReport) -> str:
    if report.channels.empty:
        return '<p class="na">No partners in the program.</p>'
    head = "".join(
        f'<th class="{"" if c == "channel" else "num"}">{c}</th>'
        for c in ("channel", "partners", "share", "new partners", "avg recruit cost")
    )
    rows = "".join(
        f"<tr><td>{escape(str(ch))}</td>{''.join(_td(c) for c in _channel_cells(row))}</tr>"
        for ch, row in report.channels.iterrows()
    )
    chart = _channel_chart(report.channels)
    return f"{chart}<table><tr>{head}</tr>{rows}</table>"


def _breakdown_table(dim: str, frame: pd.DataFrame) -> str:
    """Rows = metrics, columns = the groups (partner types or regions)."""
    title = f"<h3>By {escape(dim.replace('_', ' '))}</h3>"
    if frame.empty:
        return f'{title}<p class="na">No partners.</p>'
    head = (
        "<tr><th>metric</th>"
        + "".join(f'<th class="num">{escape(str(g))}</th>' for g in frame.index)
        + "</tr>"
    )
    rows = "".join(
        f"<tr><td>{escape(name)}</td>"
        + "".join(_td(_cell(v, name)) for v in frame[name].tolist())
        + "</tr>"
        for name in frame.columns
        if not name.endswith("_direct")
    )
    note = '<p class="meta">Direct-sales metrics belong to no partner group: see above.</p>'
    return f"{title}<table>{head}{rows}</table>{note}"


def _trend_charts(report: KpiReport, family: str) -> str:
    """One small line chart per metric of the family: its value in each monthly window."""
    last_days = [pd.Timestamp(t) - pd.Timedelta(days=1) for t in report.trend.index]
    labels = [day.strftime("%b %y") for day in last_days]
    charts = [
        _trend_svg(name, labels, report.trend[name].tolist())
        for name in report.family(family)
        if name in report.trend.columns
    ]
    return f'<div class="charts">{"".join(charts)}</div>'


def _trend_svg(name: str, labels: Sequence[str], values: Sequence[float]) -> str:
    unit = KPIS[name].unit
    points = [(i, float(v)) for i, v in enumerate(values) if not _missing(v)]
    parts = [
        f'<svg class="trend" {_SVG} viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" '
        f'aria-label="{escape(name)}: monthly trend">',
        f'<text class="t" x="2" y="14">{escape(name)}</text>',
    ]
    if not points:
        parts.append(f'<text x="{_W / 2}" y="{_H / 2}" text-anchor="middle">n/a</text></svg>')
        return "".join(parts)
    low = min(0.0, *(v for _, v in points))
    high = max(v for _, v in points)
    high = high if high > low else low + 1.0

    def x(i: int) -> float:
        return _LEFT + (_W - _LEFT - _RIGHT) * i / max(1, len(values) - 1)

    def y(v: float) -> float:
        return _H - _BOTTOM - (_H - _TOP - _BOTTOM) * (v - low) / (high - low)

    base = _H - _BOTTOM
    parts += [
        f'<line x1="{_LEFT}" y1="{base}" x2="{_W - _RIGHT}" y2="{base}" stroke="#ccd3d8"/>',
        f'<text x="{_LEFT - 4}" y="{_TOP + 4}" text-anchor="end">{_short(high, unit)}</text>',
        f'<text x="{_LEFT - 4}" y="{base}" text-anchor="end">{_short(low, unit)}</text>',
        f'<text x="{_LEFT}" y="{_H - 6}">{escape(labels[0])}</text>',
        f'<text x="{_W - _RIGHT}" y="{_H - 6}" text-anchor="end">{escape(labels[-1])}</text>',
    ]
    for run in _runs(points):
        coords = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in run)
        parts.append(
            f'<polyline points="{coords}" fill="none" stroke="{_PARTNER_COLOR}" '
            'stroke-width="1.8"/>'
        )
    parts += [
        f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.4" fill="{_PARTNER_COLOR}">'
        f"<title>{escape(labels[i])}: {escape(format_value(v, unit))}</title></circle>"
        for i, v in points
    ]
    parts.append("</svg>")
    return "".join(parts)


def _partner_vs_direct_chart(report: KpiReport) -> str:
    """Three panels (CAC, retention, cross-sell/upsell rate), a partner and a direct bar each."""
    width, height, panel = 780, 190, 260
    parts = [
        f'<svg class="bars" {_SVG} viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" aria-label="Partner channel vs direct sales">'
    ]
    for k, (title, stem) in enumerate(PARTNER_VS_DIRECT):
        unit = KPIS[f"{stem}_partner"].unit
        values = [report.value(f"{stem}_partner"), report.value(f"{stem}_direct")]
        known = [float(v) for v in values if v is not None]
        top = 1.0 if unit == "ratio" else max([*known, 0.0]) or 1.0
        left = k * panel
        parts.append(f'<text class="t" x="{left + 10}" y="16">{escape(title)}</text>')
        for j, (label, value, color) in enumerate(
            zip(("partner", "direct"), values, (_PARTNER_COLOR, _DIRECT_COLOR), strict=True)
        ):
            cx = left + 50 + j * 100
            bar = 0.0 if value is None else 120 * float(value) / top
            parts += [
                f'<rect x="{cx}" y="{160 - bar:.1f}" width="60" height="{bar:.1f}" '
                f'fill="{color}"/>',
                f'<text class="v" x="{cx + 30}" y="{154 - bar:.1f}" text-anchor="middle">'
                f"{escape(format_value(value, unit))}</text>",
                f'<text x="{cx + 30}" y="176" text-anchor="middle">{label}</text>',
            ]
    parts.append("</svg>")
    return "".join(parts)


def _channel_chart(channels: pd.DataFrame) -> str:
    """A horizontal bar per recruitment channel: its share of the partners in the program."""
    row, label_w, bar_w = 24, 110, 420
    height = row * len(channels) + 10
    parts = [
        f'<svg class="bars" {_SVG} viewBox="0 0 {label_w + bar_w + 60} {height}" '
        f'width="{label_w + bar_w + 60}" height="{height}" '
        'aria-label="Share of partners per recruitment channel">'
    ]
    shares = channels["share"].fillna(0.0)
    widest = float(shares.max()) or 1.0  # the largest share spans the whole bar width
    for k, (channel, share) in enumerate(shares.items()):
        value, y = float(share), 5 + k * row
        length = bar_w * value / widest
        parts += [
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{escape(str(channel))}</text>',
            f'<rect x="{label_w}" y="{y + 3}" width="{length:.1f}" height="{row - 8}" '
            f'fill="{_PARTNER_COLOR}"/>',
            f'<text class="v" x="{label_w + length + 6:.1f}" y="{y + 15}">{value:.0%}</text>',
        ]
    parts.append("</svg>")
    return "".join(parts)


def _runs(points: list[tuple[int, float]]) -> list[list[tuple[int, float]]]:
    """Consecutive points, so a month without a value breaks the line."""
    runs: list[list[tuple[int, float]]] = []
    for i, v in points:
        if runs and runs[-1][-1][0] == i - 1:
            runs[-1].append((i, v))
        else:
            runs.append([(i, v)])
    return runs


def _short(value: float, unit: str) -> str:
    """An axis label: 0.5 ratio → '50%', 12500 USD → '$12.5k'."""
    if unit == "ratio":
        return f"{value:.0%}"
    prefix = "$" if unit == "USD" else ""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{prefix}{value / size:.3g}{suffix}"
    return f"{prefix}{value:.3g}"


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
