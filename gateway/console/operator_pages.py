"""The console's operator management (admins): the list with an add form, one operator's page
with role, password reset, disable/enable and their API tokens.

Every change takes two posts: the first shows what is about to happen and asks to confirm
(nothing changes), the second, with `confirm=yes`, acts through OperatorService (audited there
with the admin, and the reason typed) and redirects back with a one-use note. A one-time
password is the exception to the redirect: it is shown in the answer to the confirming post,
once, and never put in a cookie or a URL.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from gateway.console.actions import _reason
from gateway.console.web import ME, PREFIX, back_to, confirm_page, page, render
from gateway.domain.operators import Role
from gateway.errors import ValidationFailed
from gateway.http.operator_auth import admin, read_form
from gateway.service.operators import OneTimePassword

OPERATORS = PREFIX + "/operators"
ROLES = [role.value for role in Role]


@page(Role.ADMIN)
async def operators(request: web.Request) -> web.StreamResponse:
    found = await admin(request).operators.all()
    return render(
        request,
        "operators.html",
        principal=request[ME],
        operators=found,
        roles=ROLES,
        title="Operators",
    )


@page(Role.ADMIN)
async def operator(request: web.Request) -> web.StreamResponse:
    deps = admin(request)
    operator_id = request.match_info["operator_id"]
    found = await deps.operators.get(operator_id)
    tokens = await deps.operators.tokens(operator_id)
    return render(
        request,
        "operator.html",
        principal=request[ME],
        who=found,
        tokens=tokens,
        roles=ROLES,
        title=f"Operator {operator_id}",
    )


@page(Role.ADMIN)
async def add(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    operator_id = _text(form, "id", 64)
    name = _text(form, "name", 200)
    role = _role(form)
    reason = _reason(form.get("reason"))
    if not operator_id:
        raise ValidationFailed("enter the new operator's login name")
    fields = {"id": operator_id, "name": name, "role": role.value, "reason": reason}
    if form.get("confirm") != "yes":
        return confirm_page(
            request,
            f"Add {operator_id} ({name or operator_id}) as {role.value}",
            "A one-time password will be shown once, on the next page: hand it over in "
            "person or by phone. It signs in for 3 days, and must then be replaced.",
            reason,
            fields,
            OPERATORS,
            "Add the operator",
        )
    issued = await admin(request).operators.add_with_one_time_password(
        operator_id, name=name, role=role, reason=reason, actor=request[ME].actor
    )
    return _shown_once(request, issued, f"{issued.operator.id} added as {role.value}.")


@page(Role.ADMIN)
async def act(request: web.Request) -> web.StreamResponse:
    """A change to one operator: `role`, `reset` (a one-time password), `disable`, `enable`."""
    deps = admin(request)
    operator_id = request.match_info["operator_id"]
    action = request.match_info["action"]
    form = await read_form(request)
    reason = _reason(form.get("reason"))
    found = await deps.operators.get(operator_id)  # 404 before anything is asked
    actor = request[ME].actor
    back = f"{OPERATORS}/{operator_id}"
    fields = {"reason": reason}
    confirmed = form.get("confirm") == "yes"
    if action == "role":
        role = _role(form)
        if not confirmed:
            what = f"Make {operator_id} {role.value} (now {found.role.value})"
            warning = "The new role applies at once, to their sessions and API tokens."
            fields["role"] = role.value
            return confirm_page(request, what, warning, reason, fields, back, f"Make {role.value}")
        await deps.operators.change_role(operator_id, role, reason=reason, actor=actor)
        raise back_to(request, back, f"{operator_id} is now {role.value}.")
    if action == "reset":
        revoke = form.get("revoke_tokens") == "yes"
        if not confirmed:
            what = f"Reset the password of {operator_id}"
            warning = "Every session of theirs ends now; a one-time password is shown once." + (
                " Every API token of theirs is revoked too." if revoke else ""
            )
            if revoke:
                fields["revoke_tokens"] = "yes"
            return confirm_page(request, what, warning, reason, fields, back, "Reset the password")
        issued = await deps.operators.reset_to_one_time_password(
            operator_id, reason=reason, actor=actor, revoke_tokens=revoke
        )
        ended = (
            f"{issued.sessions_ended} session(s) ended, {issued.tokens_revoked} token(s) revoked"
        )
        return _shown_once(request, issued, f"Password of {operator_id} reset; {ended}.")
    if action == "disable":
        if not confirmed:
            what = f"Disable {operator_id}"
            warning = "Their sessions end and their API tokens are revoked, at once."
            return confirm_page(request, what, warning, reason, fields, back, "Disable")
        await deps.operators.disable(operator_id, reason=reason, actor=actor, keep_an_admin=True)
        raise back_to(request, back, f"{operator_id} is disabled: signed out, tokens revoked.")
    if action == "enable":
        if not confirmed:
            what = f"Enable {operator_id} again"
            warning = "They can sign in with their password again; revoked tokens stay revoked."
            return confirm_page(request, what, warning, reason, fields, back, "Enable")
        await deps.operators.enable(operator_id, reason=reason, actor=actor)
        raise back_to(request, back, f"{operator_id} is enabled again.")
    raise ValidationFailed("choose an action: role, reset, disable or enable")


@page(Role.ADMIN)
async def revoke_token(request: web.Request) -> web.StreamResponse:
    deps = admin(request)
    operator_id = request.match_info["operator_id"]
    token_id = request.match_info["token_id"]
    form = await read_form(request)
    reason = _reason(form.get("reason"))
    back = f"{OPERATORS}/{operator_id}"
    if form.get("confirm") != "yes":
        what = f"Revoke API token {token_id} of {operator_id}"
        warning = "Scripts using it are refused from now on."
        return confirm_page(request, what, warning, reason, {"reason": reason}, back, "Revoke")
    await deps.operators.revoke_token(
        token_id, owner=operator_id, actor=request[ME].actor, reason=reason
    )
    raise back_to(request, back, f"Token {token_id} of {operator_id} is revoked.")


def _shown_once(request: web.Request, issued: OneTimePassword, done: str) -> web.Response:
    # Rendered in the answer to the post (no-store, like every console page): never a
    # redirect, whose note would carry the password in a cookie.
    return render(
        request,
        "secret.html",
        principal=request[ME],
        done=done,
        what=f"One-time password for {issued.operator.id}",
        secret=issued.password,
        until=issued.expires_at,
        advice="Give it to them in person or by phone. They sign in with it once and "
        "must then choose their own password.",
        back=f"{OPERATORS}/{issued.operator.id}",
        back_label=f"Go to {issued.operator.id}",
        title="One-time password",
    )


def _text(form: Mapping[str, object], name: str, limit: int) -> str:
    value = str(form.get(name, "")).strip()
    if len(value) > limit:
        raise ValidationFailed(f"{name}: at most {limit} characters")
    return value


def _role(form: Mapping[str, object]) -> Role:
    try:
        return Role(str(form.get("role", "")))
    except ValueError:
        raise ValidationFailed(f"choose a role: one of {', '.join(ROLES)}") from None


def add_routes(app: web.Application) -> None:
    r = app.router
    one = OPERATORS + "/{operator_id}"
    r.add_get(OPERATORS, operators)
    r.add_post(OPERATORS, add)
    r.add_get(one, operator)
    r.add_post(one + "/tokens/{token_id}/revoke", revoke_token)
    r.add_post(one + "/{action:role|reset|disable|enable}", act)
