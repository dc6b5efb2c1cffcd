"""The shape of an import mapping (YAML → pydantic): sources, and per contract table the
columns it takes from them. Semantics and checks are in `features.mappings`.

    sources:
      Opportunity: {file: Opportunity.csv}          # or query: / table: for a SQL source
    tables:
      deals:
        from: Opportunity
        filter: [{column: IsDeleted, in: [false]}]
        columns:
          deal_id: Id                                # shorthand for {column: Id}
          amount: {column: Amount, scale: 0.01}
          outcome: {column: StageName, values: {Closed Won: won}, default: open}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Scalar = str | int | float | bool
Agg = Literal["first", "last", "min", "max", "sum", "count"]


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Condition(Spec):
    """A test on one source column; every given test must hold. Text compares case-blind."""

    column: str
    in_: list[Scalar | None] | None = Field(None, alias="in")
    not_in: list[Scalar | None] | None = None
    not_null: bool | None = None
    min: float | None = None
    max: float | None = None


class ColumnSpec(Spec):
    """Where one contract column comes from: a source column, a constant or a row number."""

    column: str | None = None  # source column
    const: Scalar | None = None
    sequence: bool = False  # 1, 2, 3 … (with `prefix`): ids for rows that have none
    optional: bool = False  # the source column may be absent (then nulls, or `fallback`)
    fallback: str | None = None  # source column used where `column` is null or absent
    values: dict[str, Scalar | None] | None = None  # source value → contract value
    default: Scalar | None = None  # for nulls, and for values the map does not name
    format: str | None = None  # strptime format of a timestamp ("%m/%d/%Y")
    timezone: str | None = None  # of timestamps without an offset (overrides the mapping's)
    scale: float | None = None  # multiply numbers (cents → dollars: 0.01)
    currency: str | None = None  # source column of each amount's currency code …
    rates: dict[str, float] | None = None  # … and the rate of each into the program's currency
    prefix: str | None = None  # prepended to ids
    agg: Agg | None = None  # with the table's group_by (default: first)
    when: list[Condition] = []  # the value only where these hold, else null
    not_before: str | None = None  # contract column: a date-only value is raised to it

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"column": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _one_origin(self) -> ColumnSpec:
        given = [
            k for k in ("column", "const", "sequence") if getattr(self, k) not in (None, False)
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of column, const or sequence"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


class TablePart(Spec):
    """One contract table (or one part of it) taken from one source."""

    from_: str = Field(alias="from")
    filter: list[Condition] = []
    group_by: str | None = None  # contract column: one output row per value
    columns: dict[str, ColumnSpec]


class SourceSpec(Spec):
    """A source: a file (first existing of a list; globs allowed) or, for SQL, a query/table."""

    file: str | list[str] | None = None
    query: str | None = None
    table: str | None = None
    optional: bool = False  # absent: the tables (parts) reading it are skipped
    delimiter: str = ","
    encoding: str = "utf-8-sig"

    @property
    def files(self) -> list[str]:
        return [self.file] if isinstance(self.file, str) else list(self.file or [])


class Mapping(Spec):
    name: str | None = None
    description: str = ""
    timezone: str | None = None  # of timestamps without an offset
    sources: dict[str, SourceSpec]
    tables: dict[str, list[TablePart]]  # one part, or a list of parts concatenated

    @model_validator(mode="before")
    @classmethod
    def _one_part(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("tables"), dict):
            tables = {k: [v] if isinstance(v, dict) else v for k, v in data["tables"].items()}
            data = {**data, "tables": tables}
        return data


def yaml_path(raw: Any, loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    """A pydantic error location as a path in the YAML (a single table part has no index)."""
    out: list[str | int] = []
    node = raw
    for key in loc:
        if isinstance(key, int) and isinstance(node, dict):
            continue  # the list `_one_part` wrapped around a single part
        if not isinstance(key, (str, int)) or (isinstance(key, str) and "[" in key):
            continue
        out.append(key)
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
        else:
            node = None
    return tuple(out)


def shape_message(err: Any, path: tuple[str | int, ...]) -> str:
    where = ".".join(str(x) for x in path) or "mapping"
    if err["type"] == "extra_forbidden":
        return f"unknown key '{path[-1]}'" if path else "unknown key"
    if err["type"] == "missing":
        return f"missing required key '{where}'"
    return f"{where}: {err['msg']}"
