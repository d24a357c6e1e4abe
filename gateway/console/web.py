"""What every console page shares: templates, security headers, sign-in guards, flash notes."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

from gateway.auth.operator_sessions import Principal
from gateway.console.audit_check import AuditCheck
from gateway.console.live import LiveFeed
from gateway.console.parcel_reads import ParcelReads
from gateway.console.reads import ConsoleReads
from gateway.domain.operators import Role
from gateway.errors import AuthenticationFailed, OpenLockerError, PermissionDenied
from gateway.http.operator_auth import AdminDeps, admin, authenticate, require_operator
from gateway.wire import HTTP_STATUS

HERE = Path(__file__).parent
PREFIX = "/console"
FLASH_COOKIE = "olp_console_note"
PASSWORD_PAGE = PREFIX + "/account/password"  # where a one-time password leads
# No inline script or style anywhere: every script and stylesheet is a file under /console/static.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class ConsoleDeps:
    """What the console adds to the admin services: its read model and the live feed."""

    reads: ConsoleReads
    feed: LiveFeed
    parcels: ParcelReads  # a parcel page's holds, bundle and deliveries
    audit_check: AuditCheck  # the audit page's chain check, cached per head


CONSOLE = web.AppKey("console", ConsoleDeps)


def console(request: web.Request) -> ConsoleDeps:
    return request.app[CONSOLE]


def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["ago"] = ago
    env.filters["words"] = words
    env.globals["zip"] = zip
    return env


TEMPLATES = web.AppKey("console-templates", Environment)


def render(
    request: web.Request,
    template: str,
    *,
    principal: Principal | None,
    http_status: int = 200,
    **context: Any,
) -> web.Response:
    static = request.app.router["console-static"]

    def static_url(name: str) -> str:
        # Versioned by content hash: a browser never runs a stale script after an upgrade.
        return str(static.url_for(filename=name))

    body = (
        request.app[TEMPLATES]
        .get_template(template)
        .render(
            static=static_url,
            me=principal,
            can_act=principal is not None and principal.role.allows(Role.OPERATOR),
            csrf=principal.csrf if principal is not None else None,
            now=admin(request).clock(),
            path=request.path,
            note=context.pop("note", None) or request.get(_NOTE),
            **context,
        )
    )
    response = web.Response(text=body, content_type="text/html", status=http_status)
    if request.get(_NOTE) is not None:
        response.del_cookie(FLASH_COOKIE, path=PREFIX)
    return response


_NOTE = web.RequestKey("console-note", str)
ME = web.RequestKey("console-operator", Principal)


def page(
    role: Role = Role.VIEWER, *, while_password_due: bool = False
) -> Callable[[Handler], Handler]:
    """A signed-in page: without a live session the browser goes to the sign-in page (which
    says the session ended), and an error becomes an HTML page with the error's status. A
    session opened with a one-time password is sent to set its own password first (only
    pages marked `while_password_due` serve it: that page, and signing out)."""

    def wrap(handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            note = request.cookies.get(FLASH_COOKIE)
            if note:
                request[_NOTE] = note[:300]
            try:
                if request.method == "GET" and await authenticate(request) is None:
                    raise to_login(request)
                found = await authenticate(request)
                if found is not None and found.must_change_password and not while_password_due:
                    raise web.HTTPSeeOther(PASSWORD_PAGE)
                if request.method != "GET":
                    check_origin(request)
                request[ME] = await require_operator(
                    request, role, while_password_due=while_password_due
                )
                return await handler(request)
            except AuthenticationFailed:
                if request.method == "GET":
                    raise to_login(request) from None
                return error_page(request, 401, "Sign in again: your session has ended.")
            except OpenLockerError as err:
                return error_page(request, HTTP_STATUS[err.code], err.description)

        return guarded

    return wrap


def to_login(request: web.Request) -> web.HTTPSeeOther:
    back = quote(request.path_qs, safe="/")
    cookie = request.cookies.get(admin(request).cookie.name)
    # A cookie that no longer signs in means the session ended (idle, absolute or logged out).
    reason = "&ended=1" if cookie else ""
    return web.HTTPSeeOther(f"{PREFIX}/login?next={back}{reason}")


def error_page(request: web.Request, status: int, message: str) -> web.Response:
    principal = request.get(ME)
    return render(
        request, "error.html", principal=principal, http_status=status, message=message, code=status
    )


def check_origin(request: web.Request) -> None:
    """Cross-site posts are refused by Origin too (SameSite=Strict and CSRF tokens come first);
    the sign-in form has no session yet, so for it this is the cross-site defence."""
    # `Origin: null` is what a sandboxed iframe's form sends, so it counts as cross-site;
    # without Origin, the browser's Sec-Fetch-Site says where a request came from.
    origin = request.headers.get("Origin")
    foreign = origin == "null" or (bool(origin) and urlsplit(origin).netloc != request.host)
    if foreign or request.headers.get("Sec-Fetch-Site") == "cross-site":
        raise PermissionDenied("cross-site requests are refused")


def flash(response: web.StreamResponse, message: str) -> None:
    """A note for the next page (after a redirect): one use, one minute, this path only."""
    response.set_cookie(
        FLASH_COOKIE, message[:300], path=PREFIX, max_age=60, httponly=True, samesite="Strict"
    )


def back_to(request: web.Request, fallback: str, message: str) -> web.HTTPSeeOther:
    """Post/redirect/get: back to the page the form was on, with a note."""
    target = request.query.get("back", "")
    if not safe_next(target):
        target = fallback
    redirect = web.HTTPSeeOther(target)
    flash(redirect, message)
    return redirect


def confirm_page(
    request: web.Request,
    what: str,
    warning: str,
    reason: str,
    fields: dict[str, str],
    back: str,
    button: str,
) -> web.Response:
    """The first post of a two-post action: what is about to happen, with a button that posts
    the same form again to this path with `confirm=yes` (nothing changes yet)."""
    return render(
        request,
        "confirm.html",
        principal=request[ME],
        what=what,
        warning=warning,
        reason=reason,
        fields=fields,
        post_to=request.path_qs,
        cancel=back,
        button=button,
        title="Confirm",
    )


def safe_next(target: str) -> bool:
    """Only a console path of this site: never an open redirect."""
    parts = urlsplit(target)
    return (
        not parts.scheme
        and not parts.netloc
        and (target == PREFIX or target.startswith(PREFIX + "/"))
        and "\\" not in target
        and not target.startswith("//")
    )


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: headers on every console answer; no-store on all but the static
    files (whose URLs carry their content hash)."""
    if not (request.path == PREFIX or request.path.startswith(PREFIX + "/")):
        return
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.path.startswith(PREFIX + "/static/"):
        response.headers["Cache-Control"] = "no-store"


# ---- template filters ------------------------------------------------------------------


def when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def ago(value: timedelta | None) -> str:
    if value is None:
        return "—"
    seconds = max(0, math.floor(value.total_seconds()))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 90 * 60:
        return f"{seconds // 60} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def words(value: object) -> str:
    """`out_of_service` → `out of service`."""
    return str(value).replace("_", " ")


def deps_of(request: web.Request) -> tuple[AdminDeps, ConsoleDeps]:
    return admin(request), console(request)
