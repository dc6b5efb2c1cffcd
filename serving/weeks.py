"""The ISO-week calendar of the weekly plan: `2026-W48` ↔ its Monday 00:00 UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tierwise.errors import InvalidInput, Problem

WEEK_PATTERN = re.compile(r"^(\d{4})-W(\d{2})$")


def week_start(week: str) -> datetime:
    """Monday 00:00 UTC of an ISO week such as `2026-W48`."""
    match = WEEK_PATTERN.match(week)
    if match is None:
        raise InvalidInput(
            f"'{week}' is not an ISO week", [Problem("use YYYY-Www, e.g. 2026-W48", value=week)]
        )
    try:
        day = datetime.strptime(f"{match[1]}-W{match[2]}-1", "%G-W%V-%u")
    except ValueError as exc:
        raise InvalidInput(f"'{week}' is not an ISO week", [Problem(str(exc), value=week)]) from exc
    if day.isocalendar()[:2] != (int(match[1]), int(match[2])):
        raise InvalidInput(f"'{week}' does not exist", [Problem("no such week", value=week)])
    return day.replace(tzinfo=UTC)


def week_of(moment: datetime) -> str:
    """The ISO week a moment falls in (`2026-W48`)."""
    year, number, _ = moment.astimezone(UTC).isocalendar()
    return f"{year}-W{number:02d}"


def next_week(week: str) -> str:
    return week_of(week_start(week) + timedelta(days=7))
