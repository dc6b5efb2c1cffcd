"""Printing a `ValidationReport` for people (rich): grouped problems, warnings, notes."""

from __future__ import annotations

import itertools
from typing import Any

from features.validate import MAX_EXAMPLES, Finding, ValidationReport, _problems_of, _s


def render(report: ValidationReport, console: Any) -> None:
    from rich.markup import escape

    groups: dict[tuple[str, str | None, str], list[Finding]] = {}
    for f in report.findings:
        groups.setdefault((f.table, f.column, f.message), []).append(f)
    for (table, column, message), found in groups.items():
        file = report.files.get(table)
        parts = (file, table and f"table {table}", column and f"column {column}")
        where = ", ".join(p for p in parts if p)
        count = sum(f.count for f in found)
        many = f" [dim]({count:,} row{_s(count)})[/]" if found[0].rows is not None else ""
        console.print(f"[red]✗[/] {escape(where)}: {escape(message)}{many}")
        every = (p for f in found for p in _problems_of(f, file))
        examples = list(itertools.islice(every, MAX_EXAMPLES))
        for p in examples if found[0].rows is not None else []:
            at = f"line {p.line} (row {p.row})" if p.line is not None else f"row {p.row}"
            shown = "" if p.value is None else f": {escape(repr(p.value))}"
            console.print(f"    {at}{shown}")
        if found[0].rows is not None and count > len(examples):
            console.print(f"    … and {count - len(examples):,} more")
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}")
    for note in report.notes:
        console.print(f"[dim]note: {escape(note)}[/]")
    sizes = ", ".join(f"{name} {n:,}" for name, n in report.rows.items())
    if report.ok:
        console.print(f"[green]✓[/] {escape(report.source)}: valid ({sizes} rows)")
        return
    bad = ", ".join(f"{name} {len(frame):,}" for name, frame in report.bad.items()) or "none"
    console.print(
        f"[red]✗ {escape(report.source)}: {report.problem_count:,} problem"
        f"{_s(report.problem_count)}[/]; rows read: {sizes or 'none'}; bad rows: {bad}"
    )
