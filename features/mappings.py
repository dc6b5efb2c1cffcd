"""Import mappings: declarative YAML from an export (PRM/CRM objects, a transaction log) to
the data contract, validated like a rulebook — every problem in one pass, with file:line and
a did-you-mean for unknown names.

    mapping = load_mapping("salesforce-prm")          # shipped (mappings/*.yaml) or a file
    problems = check_sources(mapping, frames, labels)  # the source columns it names exist
    tables = apply_mapping(mapping.spec, frames)       # features.mapping_apply: pure pandas

`load_mapping` checks everything the YAML alone can tell (shape, contract tables and columns,
allowed values, sources, time zones); `check_sources` what needs the data (its columns).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
from pydantic import BaseModel, ValidationError

from features.mapping_spec import (
    ColumnSpec,
    Mapping,
    SourceSpec,
    TablePart,
    shape_message,
    yaml_path,
)
from features.schema import SCHEMAS, Column
from tierwise.errors import MappingError, Problem
from tierwise.yaml_lines import NodePath, line_of, load_yaml_lines

SUFFIXES = (".yaml", ".yml")


def shipped() -> dict[str, Path]:
    """The mappings shipped with Tierwise, by name."""
    folder = resources.files("mappings")
    found = {}
    for entry in folder.iterdir():
        path = Path(str(entry))
        if path.suffix in SUFFIXES:
            found[path.stem] = path
    return dict(sorted(found.items()))


def resolve(name_or_file: str | Path) -> Path:
    """A shipped mapping's file by name, or the given file."""
    path = Path(name_or_file)
    if path.suffix in SUFFIXES or path.exists():
        if not path.is_file():
            raise MappingError(f"no mapping file {path}", [Problem("no such file", file=str(path))])
        return path
    known = shipped()
    if str(name_or_file) in known:
        return known[str(name_or_file)]
    message = f"no shipped mapping '{name_or_file}'{did_you_mean(str(name_or_file), known)}"
    raise MappingError(
        message, [Problem(f"{message}; shipped: {', '.join(known)}", value=str(name_or_file))]
    )


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    pool = [str(c) for c in candidates]
    lowered = {c.lower(): c for c in pool}
    if name.lower() in lowered:
        return f" (did you mean '{lowered[name.lower()]}'?)"
    match = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


@dataclass
class LoadedMapping:
    """A valid mapping, its file and the line of each YAML node (for later problems)."""

    spec: Mapping
    file: Path
    lines: dict[NodePath, int] = field(default_factory=dict)
    raw: Any = None
    indices: dict[str, list[int]] = field(default_factory=dict)  # part -> its YAML list index

    @property
    def name(self) -> str:
        return self.spec.name or self.file.stem

    def problem(self, path: NodePath, message: str, value: Any = None) -> Problem:
        return Problem(message, file=str(self.file), line=line_of(self.lines, path), value=value)

    def part_path(self, table: str, index: int) -> NodePath:
        return (
            ("tables", table, index)
            if isinstance(self.raw["tables"][table], list)
            else (
                "tables",
                table,
            )
        )


def load_mapping(name_or_file: str | Path) -> LoadedMapping:
    """Read and check a mapping; `MappingError` lists every problem the YAML alone shows."""
    file = resolve(name_or_file)
    problems: list[Problem] = []
    raw, lines = load_yaml_lines(file, problems)
    if raw is not None and not isinstance(raw, dict):
        problems.append(Problem("a mapping is a YAML mapping (sources, tables)", file=str(file)))
    if problems or raw is None:
        problems = problems or [Problem("the mapping is empty", file=str(file))]
        raise MappingError(f"invalid mapping {file}", problems)
    where = LoadedMapping(spec=Mapping(sources={}, tables={}), file=file, lines=lines, raw=raw)
    spec = _piecewise(where, raw, problems)
    loaded = LoadedMapping(spec=spec, file=file, lines=lines, raw=raw, indices=where.indices)
    problems += list(_static_problems(loaded, broken=_broken_sources(raw, spec)))
    if problems:
        raise MappingError(f"invalid mapping {file}", problems)
    return loaded


def _piecewise(where: LoadedMapping, raw: dict[str, Any], problems: list[Problem]) -> Mapping:
    """The mapping from the pieces whose shape is right; a problem for every piece that is not
    (so that one bad column does not hide the problems of the others)."""
    M = TypeVar("M", bound=BaseModel)

    def valid(cls: type[M], data: Any, path: NodePath) -> M | None:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors():
                at = (*path, *yaml_path(data, err["loc"]))
                problems.append(where.problem(at, shape_message(err, at), _shown(err)))
            return None

    top = {k: v for k, v in raw.items() if k not in ("sources", "tables")}
    valid(Mapping, {**top, "sources": {}, "tables": {}}, ())
    for key in ("sources", "tables"):
        if not isinstance(raw.get(key), dict) or not raw[key]:
            problems.append(where.problem((key,), f"'{key}' must be a non-empty mapping"))
    sources = {}
    for name, data in _items(raw.get("sources")):
        source = valid(SourceSpec, data, ("sources", name))
        if source is not None:
            sources[name] = source
    tables: dict[str, list[TablePart]] = {}
    for table, data in _items(raw.get("tables")):
        pieces = data if isinstance(data, list) else [data]
        base: NodePath = ("tables", table)
        parts = [
            _part(valid, piece, (*base, i) if isinstance(data, list) else base)
            for i, piece in enumerate(pieces)
        ]
        tables[table] = [p for p in parts if p is not None]
        where.indices[table] = [i for i, p in enumerate(parts) if p is not None]
    return Mapping(
        name=top.get("name") if isinstance(top.get("name"), str) else None,
        timezone=top.get("timezone") if isinstance(top.get("timezone"), str) else None,
        sources=sources,
        tables=tables,
    )


def _part(valid: Any, piece: Any, path: NodePath) -> TablePart | None:
    """A table part whose columns are checked one by one (a broken one stays as a blank)."""
    if not isinstance(piece, dict) or not isinstance(piece.get("columns"), dict):
        return valid(TablePart, piece, path)
    shell = valid(TablePart, {**piece, "columns": {}}, path)
    columns = {}
    for name, data in _items(piece["columns"]):
        spec = valid(ColumnSpec, data, (*path, "columns", name))
        columns[name] = spec if spec is not None else ColumnSpec.model_construct()
    return None if shell is None else shell.model_copy(update={"columns": columns})


def _items(value: Any) -> list[tuple[str, Any]]:
    return [(str(k), v) for k, v in value.items()] if isinstance(value, dict) else []


def _broken_sources(raw: dict[str, Any], spec: Mapping) -> set[str]:
    return {name for name, _ in _items(raw.get("sources"))} - set(spec.sources)


def _shown(err: Any) -> Any:
    value = err.get("input")
    return value if isinstance(value, (str, int, float, bool)) else None


def _static_problems(m: LoadedMapping, broken: set[str]) -> Iterator[Problem]:
    spec = m.spec
    yield from _zone_problems(m, ("timezone",), spec.timezone)
    for name, source in spec.sources.items():
        given = [k for k in ("file", "query", "table") if getattr(source, k)]
        if len(given) != 1:
            yield m.problem(("sources", name), "give exactly one of file, query or table")
    for table, parts in spec.tables.items():
        if table not in SCHEMAS:
            hint = did_you_mean(table, SCHEMAS)
            yield m.problem(("tables", table), f"unknown table '{table}'{hint}", table)
            continue
        for i, part in enumerate(parts):
            if part.from_ not in broken:
                yield from _part_problems(m, table, m.part_path(table, i), part)


def _part_problems(
    m: LoadedMapping, table: str, path: NodePath, part: TablePart
) -> Iterator[Problem]:
    schema = SCHEMAS[table]
    if part.from_ not in m.spec.sources:
        hint = did_you_mean(part.from_, m.spec.sources)
        yield m.problem((*path, "from"), f"unknown source '{part.from_}'{hint}", part.from_)
    for name, spec in part.columns.items():
        where = (*path, "columns", name)
        if name not in schema.column_names:
            hint = did_you_mean(name, schema.column_names)
            yield m.problem(where, f"'{name}' is not a column of {table}{hint}", name)
            continue
        yield from _column_problems(m, where, schema.column(name), spec, part)
    for col in schema.columns:
        if not (col.optional or col.name in part.columns):
            yield m.problem((*path, "columns"), f"{table}.{col.name} is required: map it", col.name)
    if part.group_by is not None and part.group_by not in part.columns:
        yield m.problem(
            (*path, "group_by"), f"group_by '{part.group_by}' is not a mapped column", part.group_by
        )


def _column_problems(
    m: LoadedMapping, path: NodePath, col: Column, spec: ColumnSpec, part: TablePart
) -> Iterator[Problem]:
    yield from _zone_problems(m, (*path, "timezone"), spec.timezone)
    targets: list[tuple[NodePath, Any]] = [(("const",), spec.const), (("default",), spec.default)]
    targets += [(("values", k), v) for k, v in (spec.values or {}).items()]
    for key, value in targets:
        if col.allowed is not None and value is not None and str(value) not in col.allowed:
            hint = did_you_mean(str(value), col.allowed)
            message = f"'{value}' is not one of {', '.join(col.allowed)}{hint}"
            yield m.problem((*path, *key), message, value)
    kinds = {
        "format": ("timestamp",),
        "scale": ("number", "integer"),
        "currency": ("number",),
        "prefix": ("id",),
    }
    if (spec.currency is None) != (spec.rates is None):
        yield m.problem(path, "'currency' (the source column) and 'rates' go together")
    for option, allowed_kinds in kinds.items():
        if getattr(spec, option) is not None and col.kind not in allowed_kinds:
            yield m.problem((*path, option), f"'{option}' applies to {' or '.join(allowed_kinds)}")
    if spec.agg is not None and part.group_by is None:
        yield m.problem((*path, "agg"), "'agg' needs the table's group_by")
    if spec.not_before is not None and spec.not_before not in part.columns:
        hint = did_you_mean(spec.not_before, part.columns)
        yield m.problem(
            (*path, "not_before"), f"not_before '{spec.not_before}' is not mapped here{hint}"
        )


def _zone_problems(m: LoadedMapping, path: NodePath, zone: str | None) -> Iterator[Problem]:
    if zone is None:
        return
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        yield m.problem(path, f"unknown time zone '{zone}' (use an IANA name such as UTC)", zone)


def source_columns(part: TablePart) -> Iterator[tuple[NodePath, str, bool]]:
    """(path within the part, source column, may be absent) for every column a part reads."""
    for i, cond in enumerate(part.filter):
        yield ("filter", i, "column"), cond.column, False
    for name, spec in part.columns.items():
        if spec.column is not None:
            yield ("columns", name, "column"), spec.column, spec.optional
        if spec.fallback is not None:
            yield ("columns", name, "fallback"), spec.fallback, False
        if spec.currency is not None:
            yield ("columns", name, "currency"), spec.currency, False
        for i, cond in enumerate(spec.when):
            yield ("columns", name, "when", i, "column"), cond.column, False


def check_sources(
    m: LoadedMapping, frames: dict[str, pd.DataFrame], labels: dict[str, str]
) -> list[Problem]:
    """Every source column the mapping names exists in its source (did-you-mean if not)."""
    problems = []
    for table, parts in m.spec.tables.items():
        for i, part in enumerate(parts):
            frame = frames.get(part.from_)
            if frame is None:
                continue
            base = m.part_path(table, i)
            present = [str(c) for c in frame.columns]
            for path, column, may_be_absent in source_columns(part):
                if column in frame.columns or may_be_absent:
                    continue
                hint = did_you_mean(column, present)
                message = f"no column '{column}' in {labels.get(part.from_, part.from_)}{hint}"
                problems.append(m.problem((*base, *path), message, column))
    return problems
