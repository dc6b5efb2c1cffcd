"""What every review page shares: the Jinja templates, rendering, error pages, redirects."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from serving.digest import environment
from serving.sessions import Visitor
from tierwise.errors import TierwiseError

templates = Jinja2Templates(env=environment())

# the pages load only their own CSS and JS, run no inline script and may not be framed
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


def error_page(request: Request, exc: TierwiseError, who: Visitor | None = None) -> HTMLResponse:
    return page(request, "error.html", exc.status, error=exc, visitor=who)


def to_login() -> RedirectResponse:
    return RedirectResponse("/review/login", status_code=303)
