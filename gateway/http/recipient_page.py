"""The recipient's self-service page: `/self-service/{token}`, server-rendered, no script.

The same actions as the JSON API (gateway/http/routes/self_service.py), as plain HTML forms
that post back to the page's own URL: works on any phone, with the strict CSP of the console.
The token in the path is the only credential; the access log prints the route template instead
(gateway/http/telemetry.py) and the page sends no Referer, so it does not leak from there.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

from gateway.errors import ErrorCode, OpenLockerError, PermissionDenied, ValidationFailed
from gateway.http.context import deps
from gateway.service.codes import IssuedCode
from gateway.service.self_service import SelfServiceView
from gateway.wire import HTTP_STATUS

HERE = Path(__file__).parent
PREFIX = "/self-service/"
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the URL holds the link's token
    "Cache-Control": "no-store",
}
PAGE_TEMPLATES = web.AppKey("self-service-templates", Environment)
NEAREST_LOCKERS = 20  # offered for a redirect, nearest to the parcel's locker first
STATE_WORDS = {
    "announced": "on its way to the locker",
    "reserved": "on its way to the locker",
    "ready_for_pickup": "waiting for you in the locker",
    "picked_up": "picked up",
    "expired": "no longer waiting: its pickup time ran out; it goes back to the sender",
    "collected": "collected by the courier",
    "returned": "returned to the sender",
    "redirected": "sent on to another locker",
    "cancelled": "cancelled by the sender",
}


def _when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    return env


def _token(request: web.Request) -> str:
    return request.match_info["token"]


async def _render(
    request: web.Request,
    view: SelfServiceView | None,
    *,
    status: int = 200,
    note: str | None = None,
    error: str | None = None,
    code: IssuedCode | None = None,
) -> web.Response:
    context: dict[str, Any] = {
        "view": view,
        "note": note,
        "error": error,
        "code": code,
        "action": request.path if view is None else PREFIX + _token(request),
        "states": STATE_WORDS,
        "css": str(request.app.router["self-service-static"].url_for(filename="self-service.css")),
        "lockers": [],
    }
    if view is not None and view.can_redirect and view.locker is not None:
        here = view.locker.location
        others = [lk for lk in await deps(request).lockers.all() if lk.id != view.locker.id]
        others.sort(key=lambda lk: here.distance_m(lk.location))
        context["lockers"] = others[:NEAREST_LOCKERS]
    body = request.app[PAGE_TEMPLATES].get_template("self_service.html").render(**context)
    response = web.Response(text=body, content_type="text/html", status=status)
    response.headers.update(HEADERS)
    return response


async def _failed(request: web.Request, err: OpenLockerError) -> web.Response:
    status = HTTP_STATUS[err.code]
    if err.code is ErrorCode.SECURITY_ERROR:
        # Nothing of the parcel is shown without a valid token.
        return await _render(request, None, status=status, error=err.description)
    try:
        view = await deps(request).self_service.view(_token(request))
    except OpenLockerError:
        view = None
    return await _render(request, view, status=status, error=err.description)


def _same_origin(request: web.Request) -> None:
    """Refuse a post from another site. The token in the URL is the credential, so this only
    keeps other sites from driving a page the recipient opened. `Origin: null` is allowed:
    that is what the browser sends for this page's own forms under `no-referrer`."""
    origin = request.headers.get("Origin")
    foreign = bool(origin) and origin != "null" and urlsplit(origin).netloc != request.host
    if foreign or request.headers.get("Sec-Fetch-Site") == "cross-site":
        raise PermissionDenied("cross-site requests are refused")


async def show(request: web.Request) -> web.Response:
    try:
        view = await deps(request).self_service.view(_token(request))
    except OpenLockerError as err:
        return await _failed(request, err)
    return await _render(request, view)


async def extend(request: web.Request) -> web.Response:
    try:
        _same_origin(request)
        form = await request.post()
        raw = form.get("days")
        if raw is not None and not (isinstance(raw, str) and raw.isdigit() and len(raw) <= 3):
            raise ValidationFailed("days must be a whole number of days")
        days = None if raw is None else int(raw)
        view = await deps(request).self_service.extend(_token(request), days)
    except OpenLockerError as err:
        return await _failed(request, err)
    until = _when(view.parcel.pickup_until)
    return await _render(request, view, note=f"Done: the parcel now waits for you until {until}.")


async def new_code(request: web.Request) -> web.Response:
    try:
        _same_origin(request)
        code, view = await deps(request).self_service.new_code(_token(request))
    except OpenLockerError as err:
        return await _failed(request, err)
    return await _render(request, view, code=code)


async def redirect(request: web.Request) -> web.Response:
    try:
        _same_origin(request)
        form = await request.post()
        locker_id = form.get("lockerId")
        if not isinstance(locker_id, str) or not locker_id:
            raise ValidationFailed("choose a locker")
        view = await deps(request).self_service.request_redirect(_token(request), locker_id)
    except OpenLockerError as err:
        return await _failed(request, err)
    note = "Asked: the sender will send the parcel to the locker you chose and tell you."
    return await _render(request, view, note=note)


def mount_recipient_page(app: web.Application) -> None:
    app[PAGE_TEMPLATES] = _templates()
    app.router.add_static(
        "/self-service-static", HERE / "static", append_version=True, name="self-service-static"
    )
    app.router.add_get(PREFIX + "{token}", show)
    app.router.add_post(PREFIX + "{token}/extend", extend)
    app.router.add_post(PREFIX + "{token}/code", new_code)
    app.router.add_post(PREFIX + "{token}/redirect", redirect)
