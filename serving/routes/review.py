"""The managers' review pages: server-rendered HTML, signed session cookie, CSRF-protected forms.

Sign in with an API key (manager or admin) → a signed, time-limited cookie holding the key's
hash and a CSRF token; every form posts that token back. A manager sees and changes only their
own partners; an admin sees every manager's plan. All output goes through autoescaping.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import pandas as pd
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeTimedSerializer

from serving import store
from serving.auth import Principal
from serving.db.reviews import review_action, set_tier_override
from serving.digest import chart_data, environment, filter_actions, plan_csv, reason_text
from serving.routes.plans import SessionDep
from serving.weekly import week_start
from tierwise.errors import Forbidden, InvalidInput, NotFound, Problem, TierwiseError
from tierwise.settings import Settings, get_settings

log = logging.getLogger(__name__)
router = APIRouter(prefix="/review", include_in_schema=False)
templates = Jinja2Templates(env=environment())
STATIC = Path(__file__).resolve().parent.parent / "static"
COOKIE, LOGIN_COOKIE = "tw_review", "tw_login"
MAX_AGE = 12 * 3600
FILTERS = ("action", "tier", "region", "manager")
SettingsDep = Annotated[Settings, Depends(get_settings)]


@dataclass(frozen=True)
class Visitor:
    """A signed-in reviewer: who they are and the CSRF token of their session."""

    principal: Principal
    csrf: str


class SignInRequired(Exception):
    pass


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.session_secret, salt="tierwise-review")


def _principal_by_hash(digest: str, settings: Settings) -> Principal | None:
    found = None
    for entry in settings.api_keys:
        if hmac.compare_digest(digest.encode(), entry.key_sha256.lower().encode()):
            found = Principal(entry.role, entry.manager_id, entry.name)
    return found if found is not None and found.role in ("manager", "admin") else None


def visitor(request: Request, settings: Settings) -> Visitor:
    """The signed-in reviewer; the key is looked up again so a revoked key ends its sessions."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        raise SignInRequired
    try:
        data = _serializer(settings).loads(raw, max_age=MAX_AGE)
    except BadSignature as exc:
        raise SignInRequired from exc
    principal = _principal_by_hash(str(data.get("k", "")), settings)
    if principal is None:
        raise SignInRequired
    return Visitor(principal, str(data.get("c", "")))


def _check_csrf(visitor_: Visitor, token: str) -> None:
    if not (token and hmac.compare_digest(token.encode(), visitor_.csrf.encode())):
        raise Forbidden("The form is out of date or forged (CSRF token mismatch); reload the page")


def _page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status)


def _error(request: Request, exc: TierwiseError, who: Visitor | None = None) -> HTMLResponse:
    return _page(request, "error.html", exc.status, error=exc, visitor=who)


def _to_login() -> RedirectResponse:
    return RedirectResponse("/review/login", status_code=303)


# --- sign in / out ----------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = _page(request, "login.html", csrf=token, message=None)
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=3600,
    )
    return response


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    settings: SettingsDep,
    key: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not (csrf and expected and hmac.compare_digest(csrf.encode(), expected.encode())):
        return _page(
            request,
            "login.html",
            403,
            csrf=expected or secrets.token_urlsafe(24),
            message="The sign-in form expired; please try again.",
        )
    from serving.auth import authenticate_key, hash_key

    principal = authenticate_key(key.strip(), settings)
    if principal is None or principal.role not in ("manager", "admin"):
        return _page(
            request,
            "login.html",
            401,
            csrf=expected,
            message="That key is not a manager or admin key.",
        )
    session = {"k": hash_key(key.strip()), "c": secrets.token_urlsafe(24)}
    response = RedirectResponse("/review", status_code=303)
    response.set_cookie(
        COOKIE,
        _serializer(settings).dumps(session),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        max_age=MAX_AGE,
    )
    response.delete_cookie(LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, settings: SettingsDep, csrf: Annotated[str, Form()] = "") -> Response:
    try:
        _check_csrf(visitor(request, settings), csrf)
    except SignInRequired:
        pass
    except TierwiseError as exc:
        return _error(request, exc)
    response = _to_login()
    response.delete_cookie(COOKIE)
    return response


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
        who = visitor(request, settings)
    except SignInRequired:
        return _to_login()
    week = store.latest_week(session)
    if week is None:
        return _page(request, "empty.html", visitor=who)
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
    plan = store.get_plan(session, week)
    if plan is None:
        raise NotFound(f"No plan for week {week}", [Problem("no plan", value=week)])
    manager = _scope(who, filters.get("manager"))
    every = store.plan_actions(session, week=week, manager_id=manager)
    shown = filter_actions(every, filters)
    return {"plan": plan, "manager": manager, "every": every, "shown": shown}


def _filters(request: Request) -> dict[str, str]:
    return {k: request.query_params.get(k, "").strip() for k in FILTERS}


@router.get("/plans/{week}", response_class=HTMLResponse)
def plan_page(week: str, request: Request, settings: SettingsDep, session: SessionDep) -> Response:
    try:
        who = visitor(request, settings)
    except SignInRequired:
        return _to_login()
    filters = _filters(request)
    try:
        data = _plan_data(session, week, who, filters)
    except TierwiseError as exc:
        return _error(request, exc, who)
    every, shown, manager = data["every"], data["shown"], data["manager"]
    decisions = store.week_decisions(session, week=week, manager_id=manager)
    rows = shown.assign(reason_text=shown["reasons"].map(reason_text)).to_dict("records")
    query = urlencode({k: v for k, v in filters.items() if v})
    return _page(
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
        changes=store.tier_changes(session, week=week, manager_id=manager).to_dict("records"),
        awards=store.incentive_awards(session, week=week, manager_id=manager).to_dict("records"),
        charts=chart_data(every, decisions),
        today=date.today().isoformat(),
    )


def _options(every: pd.DataFrame, session: Any, week: str, who: Visitor) -> dict[str, list[str]]:
    def values(column: str) -> list[str]:
        return sorted({str(v) for v in every[column].dropna()})

    managers: list[str] = []
    if who.principal.role == "admin":
        managers = sorted(set(store.plan_actions(session, week=week)["manager_id"]))
    return {
        "action": values("action_id"),
        "tier": values("tier"),
        "region": values("region"),
        "manager": managers,
    }


@router.get("/plans/{week}/export.csv")
def export_csv(week: str, request: Request, settings: SettingsDep, session: SessionDep) -> Response:
    try:
        who = visitor(request, settings)
        data = _plan_data(session, week, who, _filters(request))
    except SignInRequired:
        return _to_login()
    except TierwiseError as exc:
        return _error(request, exc)
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


def _date(value: str, field: str) -> date | None:
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
    action_id: int,
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
        who = visitor(request, settings)
    except SignInRequired:
        return _to_login()
    try:
        _check_csrf(who, csrf)
        action = review_action(
            session,
            action_id=action_id,
            reviewer=who.principal,
            decision=decision,
            reason=reason or None,
            until=_date(until, "until"),
            now=datetime.now(UTC),
        )
    except TierwiseError as exc:
        session.rollback()
        return _error(request, exc, who)
    return RedirectResponse(_back(next, f"/review/plans/{action.week}"), status_code=303)


# --- the partner page -----------------------------------------------------------------------


@router.get("/partners/{partner_id}", response_class=HTMLResponse)
def partner_page(
    partner_id: str, request: Request, settings: SettingsDep, session: SessionDep
) -> Response:
    try:
        who = visitor(request, settings)
    except SignInRequired:
        return _to_login()
    try:
        partner = _own_partner(session, partner_id, who)
    except TierwiseError as exc:
        return _error(request, exc, who)
    history = store.tier_history(session, partner_id)
    return _page(
        request,
        "partner.html",
        visitor=who,
        partner=partner,
        history=history,
        actions=store.partner_actions(session, partner_id),
        reason_text=reason_text,
        gap=_gap(request, settings, session, partner_id, history),
        today=date.today().isoformat(),
    )


def _own_partner(session: Any, partner_id: str, who: Visitor) -> Any:
    partner = store.get_partner(session, partner_id)
    if partner is None:
        raise NotFound(f"No partner '{partner_id}'", [Problem("unknown", value=partner_id)])
    if who.principal.role != "admin" and partner.manager_id != who.principal.manager_id:
        raise Forbidden(
            f"Partner '{partner_id}' is not one of yours",
            [Problem("not your partner", column="partner_id", value=partner_id)],
        )
    return partner


def _gap(
    request: Request, settings: Settings, session: Any, partner_id: str, history: list[Any]
) -> dict[str, Any]:
    """The next tier and what is missing, from the latest snapshot and the active rulebook."""
    found = store.latest_snapshot(session, partner_id)
    if found is None or not history:
        return {"next_tier": None, "items": [], "note": "No evaluation stored yet."}
    features, as_of = found
    latest = history[0]
    context = {
        **features,
        "partner_id": partner_id,
        "churn_risk": latest.churn_risk,
        "deal_acceptance": (latest.details or {}).get("deal_acceptance"),
    }
    try:
        from rules import evaluate_partner

        decision = evaluate_partner(
            _rulebook(request, settings), context, previous=None, as_of=as_of
        )
        return {
            "next_tier": decision.next_tier,
            "items": [g.text for g in decision.gap],
            "note": None,
        }
    except Exception as exc:  # the page stays useful without the explanation
        log.warning("gap to next tier unavailable for %s: %s", partner_id, exc)
        return {"next_tier": None, "items": [], "note": "The gap to the next tier is unavailable."}


def _rulebook(request: Request, settings: Settings) -> Any:
    service = getattr(request.app.state, "service", None)
    current = getattr(service, "current", None)
    if current is not None:
        return current.rulebook
    from rules import load_rulebook

    return load_rulebook(settings.rules_dir)


@router.post("/partners/{partner_id}/override", response_class=HTMLResponse)
def override(
    partner_id: str,
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    tier: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    until: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    try:
        who = visitor(request, settings)
    except SignInRequired:
        return _to_login()
    try:
        _check_csrf(who, csrf)
        when = _date(until, "until")
        if when is None:
            raise InvalidInput(
                "An override needs an until date", [Problem("required", column="until", value=None)]
            )
        set_tier_override(
            session,
            partner_id=partner_id,
            tier=tier.strip(),
            reason=reason,
            until=when,
            reviewer=who.principal,
            now=datetime.now(UTC),
        )
    except TierwiseError as exc:
        session.rollback()
        return _error(request, exc, who)
    return RedirectResponse(f"/review/partners/{partner_id}", status_code=303)
