"""The per-manager weekly digest: one CSV and one self-contained HTML page per manager."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from serving import store

TEMPLATES = Path(__file__).resolve().parent / "templates"
CSV_COLUMNS = (
    "manager_rank",
    "partner_id",
    "partner_name",
    "region",
    "tier",
    "action_id",
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


def plan_csv(actions: pd.DataFrame) -> str:
    """The plan as CSV (one row per action, reasons flattened to text)."""
    out = actions.reindex(columns=list(CSV_COLUMNS)).copy()
    out["reasons"] = actions["reasons"].map(reason_text) if len(actions) else []
    return out.to_csv(index=False)


def write_digest(session: Session, *, week: str, out_dir: Path) -> list[Path]:
    """`<out_dir>/<week>/<manager>.csv` and `.html` for every manager in the week's plan."""
    folder = out_dir / week
    folder.mkdir(parents=True, exist_ok=True)
    actions = store.plan_actions(session, week=week, include_overflow=False)
    actions["reason_text"] = actions["reasons"].map(reason_text)
    changes = store.tier_changes(session, week=week)
    awards = store.incentive_awards(session, week=week)
    owners = store.partner_managers(session)
    awards["manager_id"] = awards["partner_id"].map(owners)
    changes_by = dict(tuple(changes.groupby("manager_id")))
    awards_by = dict(tuple(awards.groupby("manager_id")))
    template = environment().get_template("digest.html")
    written: list[Path] = []
    for manager, mine in actions.groupby("manager_id", sort=True):
        stem = _safe(str(manager))
        csv_path, html_path = folder / f"{stem}.csv", folder / f"{stem}.html"
        csv_path.write_text(plan_csv(mine), encoding="utf-8")
        html = template.render(
            week=week,
            manager=manager,
            actions=mine.to_dict("records"),
            changes=_rows(changes_by.get(manager)),
            awards=_rows(awards_by.get(manager)),
        )
        html_path.write_text(html, encoding="utf-8")
        written += [csv_path, html_path]
    return written


def _rows(frame: pd.DataFrame | None) -> list[dict[str, object]]:
    return (
        []
        if frame is None
        else [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")]
    )


def _safe(name: str) -> str:
    """A file-name-safe version of a manager id."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "manager"


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
