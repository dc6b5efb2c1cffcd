"""`tierwise import`: read an export, apply a mapping, validate against the contract, write.

    result = import_source("transactions", "log.csv")         # nothing written yet
    result.report.print(console); write_import(result, "data/")

The edges of `features.mappings` / `features.mapping_apply`: reading the sources named by a
mapping from a directory, one file, a CSV URL or a SQL database (`query:` / `table:`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd

from features.io import (
    FORMATS,
    TableFormat,
    is_url,
    source_label,
    write_quarantine,
    write_tables,
)
from features.mapping_apply import apply_mapping, filtered
from features.mapping_spec import SourceSpec
from features.mappings import LoadedMapping, check_sources, load_mapping
from features.schema import SCHEMAS
from features.validate import ValidationReport, validate_tables
from tierwise.errors import MappingError, Problem

log = logging.getLogger(__name__)
CSV_URL_SCHEMES = ("http://", "https://", "file://")


@dataclass
class Imported:
    mapping: LoadedMapping
    source: str
    report: ValidationReport
    sources: dict[str, str] = field(default_factory=dict)  # source name -> where it was read
    rows: dict[str, int] = field(default_factory=dict)  # source name -> rows read

    def empty_required(self) -> list[str]:
        """Required tables without a single good row (nothing worth writing)."""
        tables = self.report.tables
        required = [s.name for s in SCHEMAS.values() if s.required]
        return [n for n in required if tables is None or getattr(tables, n).empty]


def import_source(
    mapping: str | Path, source: str | Path, *, as_of: datetime | None = None
) -> Imported:
    """Read `source` through `mapping` and validate; `MappingError` lists mapping problems."""
    loaded = load_mapping(mapping)
    frames, labels, problems = read_sources(loaded, source)
    problems += check_sources(loaded, frames, labels)
    shown = source_label(source)
    if problems:
        raise MappingError(f"mapping {loaded.file} does not fit {shown}", problems)
    tables = apply_mapping(loaded.spec, frames)
    origin = {name: _origin(loaded, name, labels) for name in tables}
    report = validate_tables(tables, origin=origin, source=shown, as_of=as_of)
    report.notes[:0] = filtered(loaded.spec, frames)
    rows = {name: len(frame) for name, frame in frames.items()}
    return Imported(loaded, shown, report, labels, rows)


def _origin(m: LoadedMapping, table: str, labels: dict[str, str]) -> str:
    used = [labels[p.from_] for p in m.spec.tables[table] if p.from_ in labels]
    return f"imported {table} ({', '.join(used)})"  # rows are the imported table's, not lines


def write_import(
    result: Imported,
    out: str | Path | None,
    *,
    fmt: TableFormat = "parquet",
    quarantine: Path | None = None,
) -> list[Path]:
    """Write the good tables to `out` (contract tables it does not produce are removed)."""
    tables = result.report.tables
    if quarantine is not None:
        write_quarantine(result.report, quarantine)
    if tables is None or out is None:
        return []
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    present = tables.present()
    for stale in out_dir.iterdir():
        if stale.stem in SCHEMAS and stale.suffix in FORMATS and stale.stem not in present:
            log.info("removing %s: this import has no %s", stale, stale.stem)
            stale.unlink()
    return write_tables(tables, out_dir, fmt=fmt)


# --- reading the sources -----------------------------------------------------------------


def read_sources(
    m: LoadedMapping, source: str | Path
) -> tuple[dict[str, pd.DataFrame], dict[str, str], list[Problem]]:
    """Each source the mapping names that exists, where it came from, and what is missing."""
    frames: dict[str, pd.DataFrame] = {}
    labels: dict[str, str] = {}
    problems: list[Problem] = []
    used = {p.from_ for parts in m.spec.tables.values() for p in parts}
    single = (not is_url(source) and Path(source).is_file()) or _csv_url(source)
    if single and len(used) > 1:
        message = f"mapping {m.name} reads {len(used)} sources ({', '.join(sorted(used))}): "
        problems.append(Problem(message + "give a directory", file=str(source)))
        return frames, labels, problems
    for name in sorted(used):
        spec = m.spec.sources[name]
        path = ("sources", name)
        try:
            if single:
                frame, label = _read_csv(str(source), spec), str(source)
            elif is_url(source):
                frame, label = _read_sql(str(source), spec), f"{spec.table or 'query'} ({name})"
            else:
                found = _find(Path(source), spec)
                if found is None:
                    if not spec.optional:
                        wanted = " or ".join(spec.files) or "a file"
                        message = f"no {wanted} in {source} for source {name}"
                        problems.append(m.problem(path, message))
                    continue
                frame, label = _read_csv(str(found), spec), found.name
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            problems.append(m.problem(path, f"cannot read source {name}: {exc}"))
            continue
        frames[name], labels[name] = frame, label
    if not Path(str(source)).exists() and not is_url(source):
        problems = [Problem("no such file or directory", file=str(source))]
    return frames, labels, problems


def _csv_url(source: str | Path) -> bool:
    return isinstance(source, str) and source.startswith(CSV_URL_SCHEMES)


def _find(directory: Path, spec: SourceSpec) -> Path | None:
    if not directory.is_dir():
        return None
    for pattern in spec.files:
        matches = sorted(directory.glob(pattern))
        if matches:
            return matches[0]
    return None


def _read_csv(where: str, spec: SourceSpec) -> pd.DataFrame:
    """Every cell as text (empty = null), as `features.io` reads contract CSVs."""
    if spec.file is None:
        raise ValueError("this source is a SQL query or table: give a database URL")
    if where.lower().endswith(".parquet"):
        return pd.read_parquet(where)
    options = dict(
        dtype="str",
        keep_default_na=False,
        na_values=[""],
        sep=spec.delimiter,
        encoding=spec.encoding,
    )
    try:
        return pd.read_csv(where, engine="pyarrow", **options)  # type: ignore[call-overload]
    except Exception:  # pyarrow refuses some valid CSV (quoted newlines); the C engine does not
        return pd.read_csv(where, **options)  # type: ignore[call-overload]


def _read_sql(url: str, spec: SourceSpec) -> pd.DataFrame:
    import sqlalchemy as sa

    if spec.query is None and spec.table is None:
        raise ValueError("this source is a file: give a directory, not a database URL")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            if spec.query is not None:
                return pd.read_sql_query(sa.text(spec.query), connection)
            return pd.read_sql_table(str(spec.table), connection)
    except sa.exc.SQLAlchemyError as exc:
        raise ValueError(f"{exc.__class__.__name__}: {exc}") from exc
    finally:
        engine.dispose()
