"""The partner page of the review pages: history, past actions, the gap, tier overrides."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from rules import load_rulebook
from rules.model import Rulebook
from serving.db import queries
from serving.db.ledger import entries as ledger_entries
from serving.db.reviews import set_tier_override
from serving.deps import SessionDep
from serving.digest import reason_text
from serving.overrides import checked_tier, partner_track, track_tiers
from serving.pages import error_page, page, to_login
from serving.partner_gap import stored_gap
from serving.routes.review import SettingsDep, form_date
from serving.sessions import SignInRequired, Visitor, check_csrf, visitor
from tierwise.errors import Forbidden, InvalidInput, NotFound, Problem, TierwiseError
from tierwise.settings import Settings

router = APIRouter(prefix="/review", include_in_schema=False)


@router.get("/partners/{partner_id}", response_class=HTMLResponse)
def partner_page(
    partner_id: str, request: Request, settings: SettingsDep, session: SessionDep
) -> Response:
    try:
        who = visitor(request, settings, session)
    except SignInRequired:
        return to_login()
    try:
        partner = own_partner(session, partner_id, who)
    except TierwiseError as exc:
        return error_page(request, exc, who)
    history = queries.tier_history(session, partner_id)
    rulebook = _rulebook(request, settings)
    gap = stored_gap(session, rulebook, history[0] if history else None)
    return page(
        request,
        "partner.html",
        visitor=who,
        partner=partner,
        history=history,
        tiers=override_choices(session, rulebook, partner_id, history),
        actions=queries.partner_actions(session, partner_id),
        reason_text=reason_text,
        gap=gap,
        incentives=ledger_entries(session, partner_id=partner_id).to_dict("records"),
        today=date.today().isoformat(),
    )


def own_partner(session: Any, partner_id: str, who: Visitor) -> Any:
    partner = queries.get_partner(session, partner_id)
    if partner is None:
        raise NotFound(f"No partner '{partner_id}'", [Problem("unknown", value=partner_id)])
    if who.principal.role != "admin" and partner.manager_id != who.principal.manager_id:
        raise Forbidden(
            f"Partner '{partner_id}' is not one of yours",
            [Problem("not your partner", column="partner_id", value=partner_id)],
        )
    return partner


def override_choices(
    session: Any, rulebook: Rulebook, partner_id: str, history: list[Any] | None = None
) -> list[str]:
    """The tiers of the partner's track (what an override may name), highest first."""
    history = queries.tier_history(session, partner_id) if history is None else history
    track = (history[0].details or {}).get("track") if history else None
    if not track:
        found = queries.latest_snapshot(session, partner_id)
        if found is None:
            return []
        features, as_of = found
        track = partner_track(rulebook, features, as_of=as_of)
    return track_tiers(rulebook, str(track))


def _rulebook(request: Request, settings: Settings) -> Rulebook:
    service = getattr(request.app.state, "service", None)
    current = getattr(service, "current", None)
    if current is not None:
        found: Rulebook = current.rulebook
        return found
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
        who = visitor(request, settings, session)
    except SignInRequired:
        return to_login()
    try:
        check_csrf(who, csrf)
        when = form_date(until, "until")
        if when is None:
            raise InvalidInput(
                "An override needs an until date", [Problem("required", column="until", value=None)]
            )
        own_partner(session, partner_id, who)
        allowed = override_choices(session, _rulebook(request, settings), partner_id)
        if not allowed:
            raise InvalidInput(
                f"Partner '{partner_id}' has not been evaluated yet: no track to pin a tier of",
                [Problem("no evaluation", column="tier", value=tier)],
            )
        set_tier_override(
            session,
            partner_id=partner_id,
            tier=checked_tier(tier, allowed=allowed, partner_id=partner_id),
            reason=reason,
            until=when,
            reviewer=who.principal,
            now=datetime.now(UTC),
        )
    except TierwiseError as exc:
        session.rollback()
        return error_page(request, exc, who)
    return RedirectResponse(f"/review/partners/{partner_id}", status_code=303)
