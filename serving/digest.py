"""The per-manager weekly digest: one CSV and one self-contained HTML page per manager."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from pathlib import Path

import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from serving.db import queries
from tierwise.exports import safe_cell, safe_frame

TEMPLATES = Path(__file__).resolve().parent / "templates"
MAX_STEM = 80  # file-name characters for a manager id (file systems allow 255 bytes)
CSV_COLUMNS = (
    "manager_rank",
    "partner_id",
    "partner_name",
    "region",
    "tier",
    "action_id",
    "title",
    "sentence",
    "priority",
    "propensity",
    "value",
    "weight",
    "churn_risk",
    "status",
    "overflow",
    "reasons",
)


def environment() -> Environment:
    """Jinja2 with autoescaping on for every template (HTML is never trusted to callers)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True)
    )
    env.filters["money"] = lambda v: "" if v is None or pd.isna(v) else f"${v:,.0f}"
    env.filters["num"] = lambda v, d=2: "" if v is None or pd.isna(v) else f"{v:,.{d}f}"
    env.filters["priority"] = priority_text
    return env


def reason_text(reasons: object) -> str:
    """Reasons (a list of conditions/numbers, or a mapping) as one readable line."""
    if isinstance(reasons, dict):
        return "; ".join(f"{k}: {v}" for k, v in reasons.items())
    if isinstance(reasons, list):
        parts = []
        for item in reasons:
            if isinstance(item, dict):
                text = item.get("text") or item.get("condition") or item.get("reason")
                parts.append(str(text) if text else ", ".join(f"{k}={v}" for k, v in item.items()))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return "" if reasons is None else str(reasons)


CONDITION = re.compile(
    r"^(?P<feature>[A-Za-z_][\w]*) (?P<op>>=|<=|==|!=|>|<|not in|in) (?P<threshold>.+?) "
    r"\(actual (?P<actual>.+)\)$"
)
OP_WORDS = {">=": "at least", "<=": "at most", ">": "above", "<": "below", "!=": "not"}


def why_sentence(reasons: object) -> str:
    """The conditions behind an action as one sentence a manager can read:
    `churn_risk >= 0.3 (actual 0.62)` → "churn risk is 0.62 (at least 0.3)"."""
    items = reasons if isinstance(reasons, list) else []
    parts = []
    for item in items:
        text = (
            str(item.get("text") or item.get("condition") or "")
            if isinstance(item, dict)
            else str(item)
        )
        if not text or text.startswith("priority"):
            continue
        found = CONDITION.match(text)
        if found is None:
            parts.append(text)
            continue
        name = found["feature"].replace("_", " ")
        bound = OP_WORDS.get(found["op"])
        parts.append(
            f"{name} is {found['actual']}" + (f" ({bound} {found['threshold']})" if bound else "")
        )
    return f"Suggested because {'; '.join(parts)}." if parts else ""


def priority_text(value: object) -> str:
    """A priority for people: thousands separated, no 7-digit decimals."""
    if value is None or not isinstance(value, int | float) or pd.isna(value):
        return ""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def plan_csv(actions: pd.DataFrame) -> str:
    """The plan as CSV (one row per action, reasons flattened to text)."""
    out = actions.reindex(columns=list(CSV_COLUMNS)).copy()
    out["reasons"] = actions["reasons"].map(reason_text) if len(actions) else []
    return safe_frame(out).to_csv(index=False)


def write_digest(session: Session, *, week: str, out_dir: Path) -> list[Path]:
    """`<out_dir>/<week>/<manager>.csv` and `.html` for every manager in the week's plan.

    One read of the week (planned actions, tier changes, awards), one conversion to rows, one
    grouping by manager; then per manager only the rendering of a compiled template.
    """
    folder = out_dir / week
    folder.mkdir(parents=True, exist_ok=True)
    actions = queries.plan_actions(session, week=week, include_overflow=False)
    actions["reason_text"] = actions["reasons"].map(reason_text)
    changes = queries.tier_changes(session, week=week)
    awards = queries.incentive_awards(session, week=week)
    action_rows, csv_rows = _records(actions), _csv_rows(actions)
    change_rows, award_rows = _records(changes), _records(awards)
    changes_by = changes.groupby("manager_id", sort=False).indices if len(changes) else {}
    awards_by = awards.groupby("manager_id", sort=False).indices if len(awards) else {}
    template = environment().get_template("digest.html")
    written: list[Path] = []
    for manager, at in actions.groupby("manager_id", sort=True).indices.items():
        stem = _safe(str(manager))
        csv_path, html_path = folder / f"{stem}.csv", folder / f"{stem}.html"
        csv_path.write_text(_csv_text([csv_rows[i] for i in at]), encoding="utf-8")
        html = template.render(
            week=week,
            manager=manager,
            actions=[action_rows[i] for i in at],
            changes=[change_rows[i] for i in changes_by.get(manager, ())],
            awards=[award_rows[i] for i in awards_by.get(manager, ())],
        )
        html_path.write_text(html, encoding="utf-8")
        written += [csv_path, html_path]
    return written


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Every row as a dict (NaN kept: the template filters treat it as missing)."""
    names = [str(c) for c in frame.columns]
    columns = [frame[c].tolist() for c in frame.columns]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def _csv_rows(actions: pd.DataFrame) -> list[tuple[object, ...]]:
    """The CSV cells of every action, formatted as `plan_csv` (pandas) writes them."""
    out = actions.reindex(columns=list(CSV_COLUMNS))
    out["reasons"] = actions["reason_text"] if len(actions) else []
    cells = out.astype(object)
    cells = cells.where(out.notna(), None)
    return list(cells.itertuples(index=False, name=None))


def _csv_text(rows: list[tuple[object, ...]]) -> str:
    """Header + rows, with the csv module's quoting (what pandas' to_csv uses)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(tuple(safe_cell(v) for v in row) for row in rows)
    return buffer.getvalue()


def _safe(name: str) -> str:
    """A file name for a manager id: safe characters, at most ~80 of them, one per id.

    An id that had to be changed (unsafe characters, too long for the file system) gets a
    hash suffix, so two ids never share a file and a 1 MB id never fails with ENAMETOOLONG.
    """
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name[:MAX_STEM])
    if safe == name and safe.strip(".") and len(safe) <= MAX_STEM:
        return safe
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    return f"{safe[: MAX_STEM - 13].strip('.') or 'manager'}-{digest}"


def filter_actions(actions: pd.DataFrame, filters: dict[str, str]) -> pd.DataFrame:
    """The actions matching the page's filters (action type, tier, region)."""
    mask = pd.Series(True, index=actions.index)
    for key, column in (("action", "action_id"), ("tier", "tier"), ("region", "region")):
        if filters.get(key):
            mask &= actions[column].astype(str) == filters[key]
    return actions.loc[mask]


def chart_data(every: pd.DataFrame, decisions: pd.DataFrame) -> dict[str, list[tuple[str, float]]]:
    """Bars for: actions by type, tier movement, churn-risk distribution (deciles)."""
    planned = every.loc[~every["overflow"].astype(bool)]
    by_type = planned["action_id"].value_counts().sort_index()
    moves = decisions["change"].value_counts() if len(decisions) else pd.Series(dtype="int64")
    order = ["promoted", "demoted", "grace", "override", "unchanged", "new"]
    risk = pd.to_numeric(decisions["churn_risk"], errors="coerce").dropna()
    bins = pd.cut(risk.clip(0, 1), [i / 10 for i in range(11)], include_lowest=True)
    counts = bins.value_counts(sort=False)
    return {
        "Actions by type": [(str(k), float(v)) for k, v in by_type.items()],
        "Tier movement": [(k, float(moves.get(k, 0))) for k in order if moves.get(k, 0)],
        "Churn risk of your partners": [
            (f"{i * 10}–{i * 10 + 10}%", float(v)) for i, v in enumerate(counts.to_numpy())
        ],
    }
