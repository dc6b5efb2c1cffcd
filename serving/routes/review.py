"""The managers' review pages: sign-in, the weekly plan, CSV export and review forms.

Sessions and CSRF are `serving.sessions`; the partner page is `serving.routes.review_partners`.
A manager sees and changes only their own partners; an admin sees every manager's plan. All
output goes through autoescaping.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import pandas as pd
from fastapi import APIRouter, Depends, Form, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from serving.auth import settings_of as get_settings_of
from serving.db import queries
from serving.db.reviews import review_action
from serving.deps import SessionDep
from serving.digest import chart_data, filter_actions, plan_csv, reason_text, why_sentence
from serving.pages import error_page, page, to_login
from serving.sessions import (
    SignInRequired,
    Visitor,
    check_csrf,
    end_session,
    login_token_ok,
    new_token,
    reviewer_for,
    set_login_cookie,
    start_session,
    visitor,
)
from serving.weeks import week_start
from tierwise.errors import Forbidden, InvalidInput, NotFound, Problem, TierwiseError
from tierwise.settings import Settings, get_settings

log = logging.getLogger(__name__)
router = APIRouter(prefix="/review", include_in_schema=False)
STATIC = Path(__file__).resolve().parent.parent / "static"
FILTERS = ("action", "tier", "region", "manager")
SettingsDep = Annotated[Settings, Depends(get_settings)]


# --- sign in / out ----------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    token = new_token()
    response = page(request, "login.html", csrf=token, message=None)
    set_login_cookie(request, response, token, get_settings_of(request))
    return response


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    key: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    expected = request.cookies.get("tw_login", "")
    if not login_token_ok(request, csrf):
        return page(
            request,
            "login.html",
            403,
            csrf=expected or new_token(),
            message="The sign-in form expired; please try again.",
        )
    if reviewer_for(key, settings) is None:
        return page(
            request,
            "login.html",
            401,
            csrf=expected,
            message="That key is not a manager or admin key.",
        )
    return start_session(request, settings, key, session)


@router.post("/logout")
def logout(
    request: Request, settings: SettingsDep, session: SessionDep, csrf: Annotated[str, Form()] = ""
) -> Response:
    try:
        check_csrf(visitor(request, settings, session), csrf)
    except SignInRequired:
        pass
    except TierwiseError as exc:
        return error_page(request, exc)
    return end_session(request, settings, session, to_login())


@router.get("/static/{name}")
def static(name: str) -> Response:
    """The page's own CSS and JS (no CDN)."""
    files = {"review.css": "text/css", "review.js": "text/javascript"}
    if name not in files:
        return Response(status_code=404)
    return Response(
        (STATIC / name).read_bytes(),
        media_type=files[name],
        headers={"Cache-Control": "max-age=3600"},
    )


# --- the plan -------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def home(request: Request, settings: SettingsDep, session: SessionDep) -> Response:
    try:
        who = visitor(request, settings, session)
    except SignInRequired:
        return to_login()
    week = queries.latest_week(session)
    if week is None:
        return page(request, "empty.html", visitor=who)
    return RedirectResponse(f"/review/plans/{week}", status_code=303)


def _scope(who: Visitor, requested: str | None) -> str | None:
    """Whose plan to show: a manager always their own; an admin any (or all)."""
    if who.principal.role == "admin":
        return requested or None
    if requested and requested != who.principal.manager_id:
        raise Forbidden(
            f"You may not see the plan of manager '{requested}'",
            [Problem("not your plan", column="manager", value=requested)],
        )
    return who.principal.manager_id


def _plan_data(session: Any, week: str, who: Visitor, filters: dict[str, str]) -> dict[str, Any]:
    week_start(week)
    plan = queries.get_plan(session, week)
    if plan is None:
        raise NotFound(f"No plan for week {week}", [Problem("no plan", value=week)])
    manager = _scope(who, filters.get("manager"))
    every = queries.plan_actions(session, week=week, manager_id=manager)
    shown = filter_actions(every, filters)
    return {"plan": plan, "manager": manager, "every": every, "shown": shown}


def _filters(request: Request) -> dict[str, str]:
    return {k: request.query_params.get(k, "").strip() for k in FILTERS}


@router.get("/plans/{week}", response_class=HTMLResponse)
def planpage(week: str, request: Request, settings: SettingsDep, session: SessionDep) -> Response:
    try:
        who = visitor(request, settings, session)
    except SignInRequired:
        return to_login()
    filters = _filters(request)
    try:
        data = _plan_data(session, week, who, filters)
    except TierwiseError as exc:
        return error_page(request, exc, who)
    every, shown, manager = data["every"], data["shown"], data["manager"]
    decisions = queries.week_decisions(session, week=week, manager_id=manager)
    rows = shown.assign(
        reason_text=shown["reasons"].map(reason_text), why=shown["reasons"].map(why_sentence)
    ).to_dict("records")
    query = urlencode({k: v for k, v in filters.items() if v})
    return page(
        request,
        "plan.html",
        visitor=who,
        week=week,
        plan=data["plan"],
        manager=manager,
        planned=[r for r in rows if not r["overflow"]],
        overflow=[r for r in rows if r["overflow"]],
        filters=filters,
        query=query,
        options=_options(every, session, week, who),
        changes=queries.tier_changes(session, week=week, manager_id=manager).to_dict("records"),
        awards=queries.incentive_awards(session, week=week, manager_id=manager).to_dict("records"),
        charts=chart_data(every, decisions),
        today=date.today().isoformat(),
        descriptions=action_descriptions(request),
    )


def action_descriptions(request: Request) -> dict[str, str]:
    """What each action of the active rulebook is, in the rulebook's words."""
    current = getattr(getattr(request.app.state, "service", None), "current", None)
    if current is not None:
        book = current.rulebook
    else:
        from rules import load_rulebook

        book = load_rulebook(get_settings_of(request).rules_dir)
    return {a.id: a.description for a in book.actions}


def _options(every: pd.DataFrame, session: Any, week: str, who: Visitor) -> dict[str, list[str]]:
    def values(column: str) -> list[str]:
        return sorted({str(v) for v in every[column].dropna()})

    managers: list[str] = []
    if who.principal.role == "admin":
        managers = sorted(set(queries.plan_actions(session, week=week)["manager_id"]))
    return {
        "action": values("action_id"),
        "tier": values("tier"),
        "region": values("region"),
        "manager": managers,
    }


@router.get("/plans/{week}/export.csv")
def export_csv(week: str, request: Request, settings: SettingsDep, session: SessionDep) -> Response:
    try:
        who = visitor(request, settings, session)
        data = _plan_data(session, week, who, _filters(request))
    except SignInRequired:
        return to_login()
    except TierwiseError as exc:
        return error_page(request, exc)
    name = f"tierwise-plan-{week}-{data['manager'] or 'all'}.csv"
    return Response(
        plan_csv(data["shown"]),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- review decisions -------------------------------------------------------------------------


def _back(next_url: str, fallback: str) -> str:
    """Only ever redirect inside the review pages."""
    ok = next_url.startswith("/review/") and "//" not in next_url and "\\" not in next_url
    return next_url if ok else fallback


def form_date(value: str, field: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidInput(
            f"'{value}' is not a date", [Problem("use YYYY-MM-DD", column=field, value=value)]
        ) from exc


@router.post("/actions/{action_id}", response_class=HTMLResponse)
def review(
    action_id: Annotated[int, PathParam(ge=1, le=2_147_483_647)],
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    decision: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    until: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    try:
        who = visitor(request, settings, session)
    except SignInRequired:
        return to_login()
    try:
        check_csrf(who, csrf)
        action = review_action(
            session,
            action_id=action_id,
            reviewer=who.principal,
            decision=decision,
            reason=reason or None,
            until=form_date(until, "until"),
            now=datetime.now(UTC),
        )
    except TierwiseError as exc:
        session.rollback()
        return error_page(request, exc, who)
    return RedirectResponse(_back(next, f"/review/plans/{action.week}"), status_code=303)
