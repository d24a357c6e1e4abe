"""The console's "my account" pages, for every operator: their own API tokens (made with the
secret shown once, revoked after a confirmation) and their own password (the current one
required). A session opened with a one-time password is sent to the password page first."""

from __future__ import annotations

import math
from datetime import timedelta

from aiohttp import web

from gateway.auth.operator_secrets import digest
from gateway.auth.operator_sessions import Via
from gateway.console.web import (
    ME,
    PASSWORD_PAGE,
    PREFIX,
    back_to,
    confirm_page,
    page,
    render,
)
from gateway.domain.operators import Role
from gateway.errors import PermissionDenied, ValidationFailed
from gateway.http.operator_auth import admin, read_form
from gateway.wire import HTTP_STATUS

ACCOUNT = PREFIX + "/account"
MAX_TOKEN_DAYS = 3650  # as the CLI's `tokens create --expires-in-days`


@page(Role.VIEWER)
async def account(request: web.Request) -> web.StreamResponse:
    me = request[ME]
    tokens = await admin(request).operators.tokens(me.operator.id)
    roles = [role.value for role in Role if me.role.allows(role)]
    return render(
        request,
        "account.html",
        principal=me,
        tokens=tokens,
        roles=roles,
        max_days=MAX_TOKEN_DAYS,
        title="My account",
    )


@page(Role.VIEWER)
async def create_token(request: web.Request) -> web.StreamResponse:
    me = request[ME]
    form = await read_form(request)
    name = str(form.get("name", "")).strip()
    if not 1 <= len(name) <= 100:
        raise ValidationFailed("name the token (what it is for) in 1 to 100 characters")
    try:
        role = Role(str(form.get("role") or me.role.value))
    except ValueError:
        raise ValidationFailed("choose a role for the token") from None
    if not me.role.allows(role):
        raise ValidationFailed(f"a token's role cannot exceed yours ({me.role.value})")
    deps = admin(request)
    expires_at = None
    raw_days = str(form.get("days", "")).strip()
    if raw_days:
        try:
            days = float(raw_days)
        except ValueError:
            days = math.nan
        if not 0 < days <= MAX_TOKEN_DAYS:  # also refuses nan and inf
            raise ValidationFailed(f"expiry: a number of days up to {MAX_TOKEN_DAYS}, or empty")
        expires_at = deps.clock() + timedelta(days=days)
    # Never outliving the credential in use (as POST /v1/admin/tokens): a short-lived API
    # token sent to this form must not mint a never-expiring one.
    if me.via is Via.TOKEN and me.expires_at is not None:
        if expires_at is not None and expires_at > me.expires_at:
            raise PermissionDenied("a token's expiry cannot be later than this token's")
        expires_at = expires_at or me.expires_at
    issued = await deps.operators.create_token(
        me.operator.id, name=name, role=role, expires_at=expires_at, actor=me.actor
    )
    # Shown in this answer only (no-store): never in a redirect's cookie or URL.
    return render(
        request,
        "secret.html",
        principal=me,
        done=f"Token {issued.record.id} ({role.value}) made.",
        what=f"API token {issued.record.id}: {name}",
        secret=issued.secret,
        until=issued.record.expires_at,
        advice="Copy it now: it is not shown again. Scripts send it as "
        "`Authorization: Bearer <token>`.",
        back=ACCOUNT,
        back_label="Back to my account",
        title="New API token",
    )


@page(Role.VIEWER)
async def revoke_token(request: web.Request) -> web.StreamResponse:
    me = request[ME]
    token_id = request.match_info["token_id"]
    form = await read_form(request)
    if form.get("confirm") != "yes":
        what = f"Revoke your API token {token_id}"
        warning = "Scripts using it are refused from now on."
        return confirm_page(request, what, warning, "—", {}, ACCOUNT, "Revoke")
    await admin(request).operators.revoke_token(token_id, owner=me.operator.id, actor=me.actor)
    raise back_to(request, ACCOUNT, f"Token {token_id} is revoked.")


@page(Role.VIEWER, while_password_due=True)
async def password_page(request: web.Request) -> web.StreamResponse:
    return _password_form(request, None, 200)


@page(Role.VIEWER, while_password_due=True)
async def change_password(request: web.Request) -> web.StreamResponse:
    me = request[ME]
    form = await read_form(request)
    current = str(form.get("current_password", ""))[:1024]
    new = str(form.get("new_password", ""))[:1024]
    if new != str(form.get("repeat_password", ""))[:1024]:
        return _password_form(request, "The two new passwords differ.", 422)
    session = None if me.session_id is None else digest(me.session_id)
    try:
        await admin(request).operators.change_own_password(
            me.operator.id, current=current, new=new, session_hash=session
        )
    except (PermissionDenied, ValidationFailed) as err:
        # Said on the form itself, to type again (a wrong current password is counted).
        return _password_form(request, f"Not changed: {err.description}.", HTTP_STATUS[err.code])
    raise back_to(request, PREFIX, "Your password is changed; your other sessions ended.")


def _password_form(request: web.Request, error: str | None, status: int) -> web.Response:
    me = request[ME]
    return render(
        request,
        "password.html",
        principal=me,
        http_status=status,
        error=error,
        due=me.must_change_password,
        title="Set your password",
    )


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(ACCOUNT, account)
    r.add_post(ACCOUNT + "/tokens", create_token)
    r.add_post(ACCOUNT + "/tokens/{token_id}/revoke", revoke_token)
    r.add_get(PASSWORD_PAGE, password_page)
    r.add_post(PASSWORD_PAGE, change_password)
