"""Rendering of the KPI report: terminal tables and the self-contained HTML page.

Values come from the hand-built program of tests/features/kpi_program.py (see test_kpis.py
for how each is worked out).
"""

from __future__ import annotations

import re
from dataclasses import replace
from xml.etree import ElementTree

import pytest
from rich.console import Console

from features.kpi_metrics import KPIS
from features.kpi_report import format_value, print_report, render_html
from features.kpis import KpiReport, program_kpis
from features.tables import Tables
from tests.features.kpi_program import AS_OF, TREND_METRICS, program, svgs


@pytest.fixture(scope="module")
def report() -> KpiReport:
    return program_kpis(program(), as_of=AS_OF, quota=4)


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (0.25, "ratio", "25.0%"),
        (1234.5, "USD", "$1,234.50"),
        (30.5, "days", "30.5 d"),
        (6, "count", "6"),
        (None, "ratio", "n/a"),
        (float("nan"), "USD", "n/a"),
    ],
)
def test_format_value(value: float | None, unit: str, text: str) -> None:
    assert format_value(value, unit) == text


def test_print_shows_every_metric_and_na(report: KpiReport) -> None:
    full = program()
    console = Console(record=True, width=240)
    print_report(program_kpis(Tables(full.partners, full.deals), as_of=AS_OF), console)
    text = console.export_text()
    assert all(name in text for name in KPIS)
    assert "n/a" in text
    assert "Recruitment channels" in text
    assert "By partner type" in text


# --- HTML ----------------------------------------------------------------------------------


def test_html_is_self_contained_with_charts(report: KpiReport) -> None:
    html = render_html(report, program())
    # a trend chart per metric; partner vs direct and recruitment channels as bar charts
    assert len(svgs(html, "trend")) == TREND_METRICS
    assert len(svgs(html, "bars")) == 2
    assert "<script" not in html
    assert "<img" not in html and "<link" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    for section in (
        "recruitment",
        "success",
        "enablement",
        "profitability",
        "partner-vs-direct",
        "channels",
        "breakdowns",
    ):
        assert f'id="{section}"' in html
    assert "$8,333.33" in html  # avg_deal_value
    assert "partners (7 rows)" in html


def test_trend_chart_plots_each_month(report: KpiReport) -> None:
    html = render_html(report)
    chart = next(c for c in svgs(html, "trend") if "registered_deals: monthly" in c)
    # 12 points with their month and value; June's window (ending 07-01) had 3 registrations
    assert chart.count("<circle") == 12
    assert "<title>Jun 24: 3</title>" in chart
    assert "<title>Mar 24: 0</title>" in chart


def test_partner_vs_direct_bars_show_both_values(report: KpiReport) -> None:
    bars = svgs(render_html(report), "bars")[0]
    assert "$400.00" in bars and "$1,200.00" in bars  # CAC partner / direct
    assert "50.0%" in bars and "66.7%" in bars  # retention partner / direct


def test_trend_line_breaks_where_a_month_has_no_value(report: KpiReport) -> None:
    chart = next(c for c in svgs(render_html(report), "trend") if "acceptance_rate: monthly" in c)
    # decisions: Jan D6 (accepted), Apr D1 accepted + D3 rejected, May D2, Jun D5; none in
    # Feb/Mar → two lines (Jan; Apr-Jun) and four points; April is 1/2
    assert chart.count("<polyline") == 2
    assert chart.count("<circle") == 4
    assert "<title>Apr 24: 50.0%</title>" in chart


def test_every_chart_is_well_formed_svg(report: KpiReport) -> None:
    html = render_html(report)
    charts = svgs(html, "trend") + svgs(html, "bars")
    for chart in charts:
        ElementTree.fromstring(chart)  # raises on malformed XML
    assert len(charts) == TREND_METRICS + 2


def test_html_escapes_data() -> None:
    tables = program()
    partners = tables.partners.assign(
        region=tables.partners["region"].replace("EMEA", "<b>R&D</b>"),
        recruited_via=tables.partners["recruited_via"].replace("webinar", "<script>x</script>"),
    )
    html = render_html(program_kpis(replace(tables, partners=partners), as_of=AS_OF))
    assert "&lt;b&gt;R&amp;D&lt;/b&gt;" in html
    assert "<b>R&D</b>" not in html
    assert "<script" not in html


def test_html_renders_with_only_required_tables() -> None:
    full = program()
    tables = Tables(full.partners, full.deals)
    html = render_html(program_kpis(tables, as_of=AS_OF), tables)
    assert len(svgs(html, "trend")) == TREND_METRICS
    cac = next(c for c in svgs(html, "trend") if "cac_partner: monthly" in c)
    assert ">n/a</text>" in cac and "<circle" not in cac
    assert "Absent (their metrics are n/a): activities, surveys, customers" in html


def test_html_renders_an_empty_program() -> None:
    full = program()
    tables = Tables(full.partners.iloc[:0], full.deals.iloc[:0])
    report = program_kpis(tables, as_of=AS_OF)
    assert report.value("total_partners") == 0
    assert report.value("partner_churn_rate") is None
    html = render_html(report, tables)
    assert "No partners in the program." in html
    assert len(svgs(html, "bars")) == 1  # no channel chart
