"""Typed errors. Each knows its HTTP status; serving maps them to problem+json in one place."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is and what is wrong with it."""

    message: str
    file: str | None = None
    table: str | None = None
    row: int | None = None
    column: str | None = None
    line: int | None = None
    rule_id: str | None = None
    value: Any = None

    def where(self) -> str:
        parts = [
            self.file,
            self.table and f"table {self.table}",
            self.line is not None and f"line {self.line}",
            self.row is not None and f"row {self.row}",
            self.column and f"column {self.column}",
            self.rule_id and f"rule {self.rule_id}",
        ]
        return ", ".join(str(p) for p in parts if p)

    def __str__(self) -> str:
        where = self.where()
        return f"{where}: {self.message}" if where else self.message

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if v is not None}
        if "value" in out:
            out["value"] = _jsonable(out["value"])
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


@dataclass
class TierwiseError(Exception):
    """Base of every error Tierwise raises on purpose."""

    detail: str
    problems: list[Problem] = field(default_factory=list)
    status = 500
    title = "Internal error"

    def __post_init__(self) -> None:
        super().__init__(self.detail)

    def __str__(self) -> str:
        if not self.problems:
            return self.detail
        lines = [self.detail, *(f"  - {p}" for p in self.problems)]
        return "\n".join(lines)


class InvalidInput(TierwiseError):
    status = 422
    title = "Invalid input"


class DataValidationError(InvalidInput):
    title = "Invalid data"


class RulebookError(InvalidInput):
    title = "Invalid rulebook"


class MappingError(InvalidInput):
    title = "Invalid import mapping"


class BadRequest(TierwiseError):
    status = 400
    title = "Bad request"


class PayloadTooLarge(TierwiseError):
    status = 413
    title = "Payload too large"


class NotFound(TierwiseError):
    status = 404
    title = "Not found"


class Unauthorized(TierwiseError):
    status = 401
    title = "Unauthorized"


class Forbidden(TierwiseError):
    status = 403
    title = "Forbidden"


class Conflict(TierwiseError):
    status = 409
    title = "Conflict"


class NotReady(TierwiseError):
    status = 503
    title = "Service not ready"


class ModelError(TierwiseError):
    status = 503
    title = "Model unavailable"


class ConfigurationError(TierwiseError):
    status = 500
    title = "Configuration error"
