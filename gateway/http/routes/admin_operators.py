"""Admins manage operators over the admin API: add one (with a one-time password, shown
once), reset a forgotten password to a one-time one, disable and enable, change a role, see
and revoke anyone's API tokens. An operator sets their own password here too.

Every admin action says why (`reason`, into the audit chain with who did it and, when an API
token acted, which one). Nothing here takes an Idempotency-Key: a stored answer would keep a
one-time password in the database; a repeated add is 409, a repeated reset issues another.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from aiohttp import web
from pydantic import Field, StringConstraints

from gateway.auth.operator_secrets import digest
from gateway.domain.operators import OPERATOR_ID, Role
from gateway.errors import NotFound
from gateway.http.bodies import json_response
from gateway.http.operator_auth import admin, require_operator
from gateway.http.routes import admin_common as out
from gateway.http.routes.admin_common import ReasonIn, _In, read_admin_body, ts
from gateway.service.operators import OneTimePassword

# A password exactly as typed (see LoginIn): never stripped.
Password = Annotated[str, StringConstraints(strip_whitespace=False)]


class OperatorNewIn(ReasonIn):
    id: str = Field(min_length=1, max_length=64, pattern=OPERATOR_ID.pattern)
    name: str = Field(default="", max_length=200)
    role: Role


class PasswordResetIn(ReasonIn):
    # After a suspected compromise: the operator's scripts stop too.
    revoke_tokens: bool = Field(default=False, alias="revokeTokens")


class RoleIn(ReasonIn):
    role: Role


class OwnPasswordIn(_In):
    current_password: Password = Field(alias="currentPassword", min_length=1, max_length=1024)
    new_password: Password = Field(alias="newPassword", min_length=1, max_length=1024)


def _one_time(issued: OneTimePassword, status: int) -> web.Response:
    body: dict[str, Any] = {
        "operator": out.operator(issued.operator),
        "oneTimePassword": issued.password,
        "expiresAt": ts(issued.expires_at),
        "sessionsEnded": issued.sessions_ended,
        "tokensRevoked": issued.tokens_revoked,
    }
    response = json_response(body, status=status)
    # A password in the answer: no cache anywhere may keep it.
    response.headers["Cache-Control"] = "no-store"
    return response


async def add_operator(request: web.Request) -> web.Response:
    principal = await require_operator(request, Role.ADMIN)
    body = await read_admin_body(request, OperatorNewIn)
    issued = await admin(request).operators.add_with_one_time_password(
        body.id, name=body.name, role=body.role, reason=body.reason, actor=principal.actor
    )
    response = _one_time(issued, 201)
    response.headers["Location"] = f"/v1/admin/operators/{issued.operator.id}"
    return response


async def get_operator(request: web.Request) -> web.Response:
    await require_operator(request, Role.ADMIN)
    operator_id = request.match_info["operator_id"]
    deps = admin(request)
    found = await deps.operators.get(operator_id)
    tokens = await deps.operators.tokens(operator_id)
    return json_response(
        {"operator": out.operator(found), "tokens": [out.token(t) for t in tokens]}
    )


async def reset_password(request: web.Request) -> web.Response:
    principal = await require_operator(request, Role.ADMIN)
    body = await read_admin_body(request, PasswordResetIn)
    issued = await admin(request).operators.reset_to_one_time_password(
        request.match_info["operator_id"],
        reason=body.reason,
        actor=principal.actor,
        revoke_tokens=body.revoke_tokens,
    )
    return _one_time(issued, 200)


async def disable_operator(request: web.Request) -> web.Response:
    principal = await require_operator(request, Role.ADMIN)
    body = await read_admin_body(request, ReasonIn)
    found = await admin(request).operators.disable(
        request.match_info["operator_id"],
        reason=body.reason,
        actor=principal.actor,
        keep_an_admin=True,
    )
    return json_response(out.operator(found))


async def enable_operator(request: web.Request) -> web.Response:
    principal = await require_operator(request, Role.ADMIN)
    body = await read_admin_body(request, ReasonIn)
    found = await admin(request).operators.enable(
        request.match_info["operator_id"], reason=body.reason, actor=principal.actor
    )
    return json_response(out.operator(found))


async def change_role(request: web.Request) -> web.Response:
    principal = await require_operator(request, Role.ADMIN)
    body = await read_admin_body(request, RoleIn)
    found = await admin(request).operators.change_role(
        request.match_info["operator_id"], body.role, reason=body.reason, actor=principal.actor
    )
    return json_response(out.operator(found))


async def revoke_token(request: web.Request) -> web.Response:
    principal = await require_operator(request, Role.ADMIN)
    body = await read_admin_body(request, ReasonIn)
    operator_id = request.match_info["operator_id"]
    deps = admin(request)
    await deps.operators.get(operator_id)  # 404 names the operator if it is they who are missing
    try:
        revoked = await deps.operators.revoke_token(
            request.match_info["token_id"],
            owner=operator_id,
            actor=principal.actor,
            reason=body.reason,
        )
    except NotFound:
        raise NotFound(
            f"operator {operator_id} has no API token {request.match_info['token_id']!r}"
        ) from None
    return json_response(out.token(revoked))


async def change_own_password(request: web.Request) -> web.Response:
    """The signed-in operator's own password (the one way out of a one-time password)."""
    principal = await require_operator(request, Role.VIEWER, while_password_due=True)
    body = await read_admin_body(request, OwnPasswordIn)
    session = None if principal.session_id is None else digest(principal.session_id)
    operator = await admin(request).operators.change_own_password(
        principal.operator.id,
        current=body.current_password,
        new=body.new_password,
        session_hash=session,
    )
    # The same credential, its operator read afresh (no one-time password any more).
    refreshed = dataclasses.replace(principal, operator=operator)
    return json_response(out.principal(refreshed))


def add_routes(app: web.Application) -> None:
    r = app.router
    one = "/v1/admin/operators/{operator_id}"
    r.add_post("/v1/admin/operators", add_operator)
    r.add_get(one, get_operator)
    r.add_post(one + "/password-reset", reset_password)
    r.add_post(one + "/disable", disable_operator)
    r.add_post(one + "/enable", enable_operator)
    r.add_post(one + "/role", change_role)
    r.add_post(one + "/tokens/{token_id}/revoke", revoke_token)
    r.add_post("/v1/admin/session/password", change_own_password)
