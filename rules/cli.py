"""`tierwise rules …` subcommands (thin wrappers: load, call the pure core, print or save)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import typer
from rich.console import Console

from rules.loader import load_rulebook
from rules.model import Rulebook
from tierwise.errors import RulebookError, TierwiseError
from tierwise.settings import get_settings

log = logging.getLogger(__name__)
console = Console(soft_wrap=True)

rules_app = typer.Typer(help="Rulebooks: check, test, explain, simulate.", no_args_is_help=True)

DirArg = typer.Argument(None, help="Rulebook directory or file [TIERWISE_RULES_DIR]")


def _as_of(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    from features.cli import parse_as_of

    return parse_as_of(value)


def _print_problems(exc: TierwiseError) -> None:
    console.print(f"[red]{exc.detail}[/]")
    for p in exc.problems:
        where = f"{p.file}:{p.line}" if p.file and p.line else (p.file or "")
        rule = f" [{p.rule_id}]" if p.rule_id else ""
        console.print(f"  {where}{rule}: {p.message}", markup=False, highlight=False)


def _load(directory: Path | None) -> Rulebook:
    try:
        return load_rulebook(directory or get_settings().rules_dir)
    except RulebookError as exc:
        _print_problems(exc)
        raise typer.Exit(code=1) from exc


def registration_expiry_days() -> int | None:
    """The active rulebook's `registrations.expiry_days` (None: no such rules, or a rulebook
    that does not load — said on the log, the KPI report then uses its default)."""
    path = get_settings().rules_dir
    try:
        rules = load_rulebook(path).registrations
    except RulebookError as exc:
        log.warning("rulebook %s does not load (%s): default registration expiry", path, exc)
        return None
    return None if rules is None else rules.expiry_days


@rules_app.command("check")
def check(
    directory: Path = DirArg,
    data: str = typer.Option(
        None, "--data", help="Also warn about rules reading features this data cannot provide"
    ),
) -> None:
    """Validate a rulebook; print every problem with file:line and exit 1 if there is one."""
    book = _load(directory)
    if data is not None:
        from features.coverage import unavailable_features
        from features.io import load_tables
        from rules.data_check import unprovided

        for warning in unprovided(book, unavailable_features(load_tables(data))):
            console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    tiers = sum(len(t.tiers) for t in book.tracks)
    console.print(
        f"[green]ok[/] rulebook {book.version} ({book.content_hash[:12]}): "
        f"{len(book.tracks)} tracks, {tiers} tiers, {len(book.incentives)} incentives,"
        f" {len(book.scorecard)} scorecard components, {len(book.actions)} actions; "
        f"needs {len(book.features_needed)} features" + _registrations_line(book)
    )


def _registrations_line(book: Rulebook) -> str:
    rules = book.registrations
    if rules is None:
        return "; no deal-registration rules"
    return (
        f"; deal registrations protected {rules.protection_days} days, "
        f"expire unworked after {rules.expiry_days}"
    )


@rules_app.command("test")
def test(directory: Path = DirArg) -> None:
    """Run the cases beside the rules (tests.yaml); report failures and unexercised rules."""
    from rules.testcases import case_file, run_cases

    book = _load(directory)
    try:
        report = run_cases(book, case_file(Path(directory or get_settings().rules_dir)))
    except RulebookError as exc:
        _print_problems(exc)
        raise typer.Exit(code=1) from exc
    for r in report.results:
        mark = "[green]pass[/]" if r.ok else "[red]FAIL[/]"
        console.print(f"{mark} {r.id} (line {r.line})")
        for failure in r.failures:
            console.print(f"    {failure}", markup=False)
    for mismatch in report.mismatches:
        console.print(f"[red]frame/partner mismatch[/] {mismatch}", markup=False)
    for kind, ids in report.uncovered.items():
        if ids:
            console.print(
                f"[yellow]no case exercises these {kind}:[/] {', '.join(ids)}",
                markup=True,
                highlight=False,
            )
    passed = sum(r.ok for r in report.results)
    console.print(
        f"{passed}/{len(report.results)} cases passed"
        + (
            "; every tier, incentive, action and registration refusal exercised"
            if report.complete
            else ""
        )
    )
    if not report.ok:
        raise typer.Exit(code=1)


def _frame(
    data: str | None, features: Path | None, as_of: datetime, notes: list[str] | None = None
) -> pd.DataFrame:
    """The feature frame: built from the program's tables, or read from a saved frame.

    Model outputs absent from it are added as missing; `notes` collects a line about it."""
    if features is not None:
        frame = (
            pd.read_parquet(features) if features.suffix == ".parquet" else pd.read_csv(features)
        )
    else:
        from features.io import load_tables
        from features.snapshot import build_features

        frame = build_features(load_tables(data or get_settings().data_dir), as_of=as_of)
    absent = [o for o in ("churn_risk", "deal_acceptance") if o not in frame.columns]
    for output in absent:
        frame[output] = np.nan
    if absent:
        message = (
            f"no {' or '.join(absent)} in the data: conditions on "
            f"{'them' if len(absent) > 1 else 'it'} count as missing"
        )
        if notes is None:
            log.warning("%s", message)
        else:
            notes.append(message)
    return frame


@contextmanager
def _quiet() -> Iterator[None]:
    """Keep INFO logging (data loading…) out of a report printed for people."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        root.setLevel(level)


@rules_app.command("explain")
def explain(
    partner: str = typer.Option(..., "--partner", help="Partner id"),
    data: str = typer.Option(None, "--data", help="Data directory or SQLAlchemy URL"),
    features: Path = typer.Option(None, "--features", help="A saved feature frame instead"),
    as_of: str = typer.Option(None, "--as-of", help="Snapshot date (default: now)"),
    rules: Path = typer.Option(None, "--rules", help="Rulebook [TIERWISE_RULES_DIR]"),
) -> None:
    """Explain one partner's tier, gap to the next tier, incentives, scores and actions."""
    from rules.engine import evaluate_partner

    book = _load(rules)
    when = _as_of(as_of)
    frame = _frame(data, features, when)
    rows = frame[frame["partner_id"].astype(str) == partner]
    if rows.empty:
        console.print(f"[red]no partner '{partner}' in the feature frame as of {when:%Y-%m-%d}[/]")
        raise typer.Exit(code=1)
    row = {str(k): (None if _na(v) else v) for k, v in rows.iloc[0].to_dict().items()}
    try:
        decision = evaluate_partner(book, row, previous=None, as_of=when)
    except TierwiseError as exc:
        _print_problems(exc)
        raise typer.Exit(code=1) from exc
    for line in decision.explain():
        console.print(line, markup=False, highlight=False)


def _na(value: object) -> bool:
    try:
        return bool(pd.isna(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False


@rules_app.command("simulate")
def simulate(
    candidate: Path = typer.Option(..., "--candidate", help="Candidate rulebook directory"),
    data: str = typer.Option(None, "--data", help="Data directory or SQLAlchemy URL"),
    features: Path = typer.Option(None, "--features", help="A saved feature frame instead"),
    as_of: str = typer.Option(..., "--as-of", help="Snapshot date"),
    current: Path = typer.Option(None, "--current", help="Current rulebook [TIERWISE_RULES_DIR]"),
    out: Path = typer.Option(
        None, "--out", help="Write the whole comparison: .html (every table) or .csv (per partner)"
    ),
    wide: bool = typer.Option(False, "--wide", help="Use any width (no 80-column layout)"),
) -> None:
    """Compare current and candidate rulebooks: tier migration per track, movers, incentive
    cost of one period, budget pools against their budgets."""
    from rules.simulate import simulate_change
    from rules.simulate_report import print_report, write_out

    now, cand = _load(current), _load(candidate)
    when = _as_of(as_of)
    notes: list[str] = []
    with _quiet():
        frame = _frame(data, features, when, notes)
        report = simulate_change(now, cand, frame, as_of=when)
    screen = Console(soft_wrap=False, width=400) if wide else Console(soft_wrap=False)
    print_report(screen, report, notes)
    if out is not None:
        write_out(report, out, notes)
        console.print(f"wrote the comparison to [bold]{out}[/]")


def register(app: typer.Typer) -> None:
    """Add this package's commands to the `tierwise` CLI."""
    app.add_typer(rules_app, name="rules")
