"""Operator sign-in for the admin API and the console: session (login, who am I, logout), an
operator's own personal API tokens, and the list of operators (admins)."""

from __future__ import annotations

import math

from aiohttp import web

from gateway.auth.operator_sessions import LoginLocked, Via
from gateway.domain.operators import Role
from gateway.errors import PermissionDenied
from gateway.http.bodies import json_response
from gateway.http.operator_auth import (
    admin,
    clear_session_cookie,
    client_address,
    require_operator,
    set_session_cookie,
)
from gateway.http.problems import problem_response
from gateway.http.routes import admin_common as out
from gateway.http.routes.admin_common import LoginIn, TokenIn, read_admin_body


async def login(request: web.Request) -> web.Response:
    body = await read_admin_body(request, LoginIn)
    deps = admin(request)
    try:
        principal = await deps.auth.login(body.operator_id, body.password, client_address(request))
    except LoginLocked as err:
        # The problem says until when; Retry-After says it to HTTP clients in seconds.
        response = problem_response(err, request.path)
        wait = (err.until - deps.clock()).total_seconds()
        response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return response
    response = json_response(out.principal(principal))
    set_session_cookie(response, request, principal)
    return response


async def whoami(request: web.Request) -> web.Response:
    principal = await require_operator(request, Role.VIEWER, while_password_due=True)
    return json_response(out.principal(principal))


async def logout(request: web.Request) -> web.Response:
    principal = await require_operator(request, Role.VIEWER, while_password_due=True)
    if principal.session_id is None:
        raise PermissionDenied("an API token has no session to end; revoke the token instead")
    await admin(request).auth.logout(principal)
    response = web.Response(status=204)
    clear_session_cookie(response, request)
    return response


async def list_tokens(request: web.Request) -> web.Response:
    principal = await require_operator(request, Role.VIEWER)
    tokens = await admin(request).operators.tokens(principal.operator.id)
    return json_response({"items": [out.token(t) for t in tokens]})


async def create_token(request: web.Request) -> web.Response:
    principal = await require_operator(request, Role.VIEWER)
    body = await read_admin_body(request, TokenIn)
    # Never above the credential in use: a viewer token cannot mint an operator token.
    role = body.role or principal.role
    if not principal.role.allows(role):
        raise PermissionDenied(
            f"a token's role cannot exceed this credential's ({principal.role})",
            details={"role": role.value},
        )
    # Nor outliving it: a short-lived token must not mint a never-expiring one.
    expires_at = body.expires_at
    if principal.via is Via.TOKEN and principal.expires_at is not None:
        if expires_at is not None and expires_at > principal.expires_at:
            raise PermissionDenied(
                "a token's expiry cannot be later than this token's",
                details={"expiresAt": principal.expires_at.isoformat()},
            )
        expires_at = expires_at or principal.expires_at
    issued = await admin(request).operators.create_token(
        principal.operator.id,
        name=body.name,
        role=role,
        expires_at=expires_at,
        actor=principal.actor,
    )
    response = json_response(out.token(issued.record, issued.secret), status=201)
    # The secret is in the answer: no cache anywhere may keep it (as a one-time password).
    response.headers["Cache-Control"] = "no-store"
    return response


async def revoke_token(request: web.Request) -> web.Response:
    principal = await require_operator(request, Role.VIEWER)
    revoked = await admin(request).operators.revoke_token(
        request.match_info["token_id"], owner=principal.operator.id, actor=principal.actor
    )
    return json_response(out.token(revoked))


async def list_operators(request: web.Request) -> web.Response:
    await require_operator(request, Role.ADMIN)
    operators = await admin(request).operators.all()
    return json_response({"items": [out.operator(o) for o in operators]})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/v1/admin/session", login)
    r.add_get("/v1/admin/session", whoami)
    r.add_delete("/v1/admin/session", logout)
    r.add_get("/v1/admin/tokens", list_tokens)
    r.add_post("/v1/admin/tokens", create_token)
    r.add_delete("/v1/admin/tokens/{token_id}", revoke_token)
    r.add_get("/v1/admin/operators", list_operators)
