"""Read and write the contract tables: a directory of CSV/Parquet files or a SQL database.

    load_tables("data/")                      # <table>.csv or <table>.parquet per table
    load_tables("postgresql+psycopg://u@h/db") # tables by name
    validate_source("data/", quarantine=Path("quarantine/"))

CSV cells are read as text so that validation (features/validate.py) can say which cell is
not a number or a timestamp; Parquet and SQL arrive typed. Anything under the directory that
is not `<table>.csv|parquet` (e.g. the simulator's `_truth/`) is never read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

import pandas as pd

from features.schema import SCHEMAS, TABLE_NAMES
from features.tables import Tables
from features.validate import Finding, ValidationReport, validate_tables
from tierwise.errors import DataValidationError, Problem

log = logging.getLogger(__name__)

FORMATS = {".csv": "csv", ".parquet": "parquet"}
TableFormat = Literal["parquet", "csv"]


@dataclass
class RawSource:
    """The tables as read, where each came from (file or URL) and what was noticed."""

    label: str
    frames: dict[str, pd.DataFrame]
    files: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def is_url(source: str | Path) -> bool:
    return isinstance(source, str) and "://" in source


def read_raw(source: str | Path) -> dict[str, pd.DataFrame]:
    """The tables of `source` exactly as stored (CSV as text), not yet validated."""
    return read_source(source).frames


def read_source(source: str | Path) -> RawSource:
    """Like `read_raw`, plus origins; raises `DataValidationError` naming every unreadable file."""
    return _read_sql(str(source)) if is_url(source) else _read_directory(Path(source))


def _read_directory(directory: Path) -> RawSource:
    if not directory.is_dir():
        problem = Problem("no such data directory (nor a SQLAlchemy URL)", file=str(directory))
        raise DataValidationError(f"cannot read {directory}", [problem])
    raw = RawSource(label=str(directory), frames={})
    problems: list[Problem] = []
    candidates: dict[str, list[Path]] = {}
    for path in sorted(directory.iterdir()):
        if path.is_file() and path.suffix.lower() in FORMATS:
            candidates.setdefault(path.stem, []).append(path)
    for name, paths in candidates.items():
        if name not in SCHEMAS:
            raw.notes.append(f"ignored {paths[0].name}: not a contract table ({_names()})")
        elif len(paths) > 1:
            found = " and ".join(p.name for p in paths)
            problems.append(Problem(f"both {found}: keep one", file=str(directory), table=name))
        else:
            try:
                raw.frames[name] = _read_file(paths[0])
                raw.files[name] = str(paths[0])
            except (ValueError, OSError, UnicodeDecodeError) as exc:
                problems.append(Problem(f"cannot read: {exc}", file=str(paths[0]), table=name))
    if problems:
        raise DataValidationError(f"cannot read {directory}", problems)
    return raw


def _names() -> str:
    return ", ".join(TABLE_NAMES)


def _read_file(path: Path) -> pd.DataFrame:
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path)
    if path.stat().st_size == 0:
        raise ValueError("the file is empty (a CSV needs at least its header line)")
    options = dict(dtype="str", keep_default_na=False, na_values=[""], encoding="utf-8-sig")
    try:
        return pd.read_csv(path, engine="pyarrow", **options)  # type: ignore[call-overload]
    except Exception:  # pyarrow refuses some valid CSV (e.g. quoted newlines); the C engine
        return pd.read_csv(path, **options)  # type: ignore[call-overload]  # says where if bad


def _read_sql(url: str) -> RawSource:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, ImportError) as exc:
        problem = Problem(f"bad database URL: {exc}", file=source_label(url))
        raise DataValidationError(f"cannot read {source_label(url)}", [problem]) from exc
    shown = source_label(url)
    raw = RawSource(label=shown, frames={})
    try:
        with engine.connect() as connection:
            present = set(sa.inspect(connection).get_table_names())
            for name in TABLE_NAMES:
                if name in present:
                    raw.frames[name] = pd.read_sql_table(name, connection)
                    raw.files[name] = shown
    except sa.exc.SQLAlchemyError as exc:
        problem = Problem(f"cannot read the database: {exc.__class__.__name__}: {exc}", file=shown)
        raise DataValidationError(f"cannot read {shown}", [problem]) from exc
    finally:
        engine.dispose()
    return raw


def validate_source(
    source: str | Path, quarantine: Path | None = None, *, as_of: datetime | None = None
) -> ValidationReport:
    """Read and validate; with `quarantine`, write the bad rows (and the good ones) there.

    `as_of`: timestamps after it are problems (default: the end of the bulk of the data)."""
    try:
        raw = read_source(source)
    except DataValidationError as exc:
        findings = [Finding(p.table or "", p.message, p.column) for p in exc.problems]
        files = {p.table or "": p.file for p in exc.problems if p.file}
        return ValidationReport(
            source_label(source), findings or [Finding("", exc.detail)], None, files=files
        )
    report = validate_tables(raw.frames, origin=raw.files, source=raw.label, as_of=as_of)
    report.notes[:0] = raw.notes
    if quarantine is not None:
        write_quarantine(report, quarantine)
    return report


def source_label(source: str | Path) -> str:
    """The source as shown to people: a database URL without its password."""
    if not is_url(source):
        return str(source)
    import sqlalchemy as sa

    try:
        return sa.engine.make_url(str(source)).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "database URL"


def load_tables(source: str | Path) -> Tables:
    """Read and validate `source`: canonical `Tables`, or `DataValidationError` listing problems."""
    report = validate_source(source)
    tables = report.raise_for_problems()
    log.info(
        "loaded %s: %s", report.source, ", ".join(f"{n} {len(f):,}" for n, f in tables.items())
    )
    return tables


def write_tables(tables: Tables, directory: str | Path, fmt: TableFormat = "parquet") -> list[Path]:
    """Write each present table as `<dir>/<table>.<fmt>`, replacing it in the other format."""
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"fmt must be 'parquet' or 'csv', not {fmt!r}")
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in tables.items():
        path = out_dir / f"{name}.{fmt}"
        other = path.with_suffix(".csv" if fmt == "parquet" else ".parquet")
        if other.exists():
            log.info("replacing %s with %s", other, path.name)
            other.unlink()
        if fmt == "parquet":
            frame.to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False)
        written.append(path)
    return written


def write_quarantine(report: ValidationReport, directory: Path) -> list[Path]:
    """`<dir>/bad/<table>.csv`: bad rows with `row` and `problem`; `<dir>/good/`: loadable rows."""
    bad_dir = directory / "bad"
    bad_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in TABLE_NAMES:
        path = bad_dir / f"{name}.csv"
        if name in report.bad:
            report.bad[name].to_csv(path, index=False)
            written.append(path)
        elif path.exists():
            path.unlink()  # left over from an earlier run: these rows are fine now
    if report.tables is not None:
        good_dir = directory / "good"
        for stale in good_dir.glob("*.*"):
            if stale.stem in SCHEMAS and stale.stem not in report.tables.present():
                stale.unlink()  # a table this source does not have must not reappear
        written += write_tables(report.tables, good_dir)
    report.notes.append(f"quarantine: bad rows in {bad_dir}, good rows in {directory / 'good'}")
    return written
