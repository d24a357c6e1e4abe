"""Operator authentication at the HTTP edge, shared by the admin API and console pages.

`await require_operator(request, Role.OPERATOR)` answers the request's Principal or raises
(401 without credentials, 403 for a role too low or a missing/wrong CSRF token). Two ways in:

- the session cookie (browsers): every state-changing method (anything but GET, HEAD,
  OPTIONS) must also carry the session's CSRF token, in the `X-CSRF-Token` header or, for
  HTML forms, the `csrf_token` form field;
- `Authorization: Bearer olpo_…` (scripts): a personal API token. No CSRF token: a browser
  never adds this header on its own, so the request carries no ambient authority.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_request import FileField
from multidict import MultiDictProxy

from gateway.auth.operator_secrets import TOKEN_PREFIX, csrf_matches
from gateway.auth.operator_sessions import OperatorAuth, Principal
from gateway.clock import Clock
from gateway.domain.operators import Role
from gateway.errors import AuthenticationFailed, MalformedMessage, PermissionDenied
from gateway.http.client_address import FORWARDED_FOR, ClientAddresses
from gateway.service.admin_actions import AdminActions
from gateway.service.admin_views import AdminViews
from gateway.service.audit import AuditService
from gateway.service.deliveries import DeliveryService
from gateway.service.keypad import KeypadLockouts
from gateway.service.operators import OperatorService

CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class CookiePolicy:
    """How the session cookie is set. With `secure` the name takes the `__Host-` prefix:
    browsers then accept it only over HTTPS, for this host alone, with Path=/."""

    secure: bool
    samesite: str = "Strict"

    @property
    def name(self) -> str:
        return "__Host-olp_session" if self.secure else "olp_session"

    @classmethod
    def decide(cls, configured: bool | None, host: str, samesite: str) -> CookiePolicy:
        """`configured`, or when unset: Secure unless the gateway listens on loopback only,
        where plain HTTP never leaves the machine (local development)."""
        secure = configured if configured is not None else not _loopback(host)
        return cls(secure=secure, samesite=samesite)


@dataclass(frozen=True, slots=True)
class AdminDeps:
    """What the admin routes and console pages need, built once by the gateway."""

    auth: OperatorAuth
    cookie: CookiePolicy
    clock: Clock
    operators: OperatorService
    views: AdminViews
    actions: AdminActions
    deliveries: DeliveryService
    audit: AuditService
    keypads: KeypadLockouts
    clients: ClientAddresses  # whose X-Forwarded-For to believe (`[operators] trusted_proxies`)


ADMIN = web.AppKey("admin", AdminDeps)
_PRINCIPAL = web.RequestKey("operator", Principal)


def admin(request: web.Request) -> AdminDeps:
    return request.app[ADMIN]


async def authenticate(request: web.Request) -> Principal | None:
    """The request's operator (API token first, then the session cookie), None if neither.

    A bearer credential that is not an operator token (a carrier JWT) is refused outright
    instead of falling back to the cookie: the caller meant to use it.
    """
    if _PRINCIPAL in request:
        return request[_PRINCIPAL]
    deps = admin(request)
    principal: Principal | None = None
    authorization = request.headers.get("Authorization")
    if authorization is not None:
        scheme, _, credential = authorization.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential.startswith(TOKEN_PREFIX):
            raise AuthenticationFailed(
                "the admin API takes an operator session or an operator API token "
                f"(Bearer {TOKEN_PREFIX}…), not this credential (a carrier token?)"
            )
        principal = await deps.auth.token(credential)
        if principal is None:
            raise AuthenticationFailed("unknown, expired or revoked operator API token")
    else:
        session_id = request.cookies.get(deps.cookie.name)
        if session_id:
            principal = await deps.auth.session(session_id)
    if principal is not None:
        request[_PRINCIPAL] = principal
    return principal


async def require_operator(
    request: web.Request, role: Role = Role.VIEWER, *, while_password_due: bool = False
) -> Principal:
    """The signed-in operator if their credential's role reaches `role`, with the CSRF token
    checked on state changes made with a session cookie. A session opened with a one-time
    password may reach only what passes `while_password_due` (who am I, sign out, set the
    operator's own password)."""
    principal = await authenticate(request)
    if principal is None:
        raise AuthenticationFailed("sign in first: no operator session or API token")
    if principal.session_id is not None and request.method not in _SAFE_METHODS:
        presented = request.headers.get(CSRF_HEADER)
        if presented is None and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            field = (await read_form(request)).get(CSRF_FIELD)
            presented = field if isinstance(field, str) else None
        if not csrf_matches(principal.session_id, presented):
            raise PermissionDenied(
                "missing or wrong CSRF token: send the session's token in the "
                f"{CSRF_HEADER} header (GET /v1/admin/session gives it)"
            )
    if principal.must_change_password and not while_password_due:
        raise PermissionDenied(
            "signed in with a one-time password: set your own first "
            "(POST /v1/admin/session/password)",
            details={"passwordChangeRequired": True},
        )
    if not principal.role.allows(role):
        raise PermissionDenied(
            f"this needs the {role} role; this credential has {principal.role}",
            details={"required": role.value, "role": principal.role.value},
        )
    return principal


async def read_form(request: web.Request) -> MultiDictProxy[str | bytes | bytearray | FileField]:
    """The request's form fields; MalformedMessage (400) when the body does not parse as its
    content type says (no boundary, not the charset named, an unknown charset): the client's
    error, never a 500."""
    try:
        return await request.post()
    except (ValueError, LookupError, HttpProcessingError):
        raise MalformedMessage(f"the {request.content_type} body cannot be read") from None


def client_address(request: web.Request) -> str:
    """The client's address, which login limits count by and audit entries name: the TCP
    peer's, or, when that is a trusted proxy, the one it forwarded (see `ClientAddresses`)."""
    return admin(request).clients.of(request.remote, request.headers.getall(FORWARDED_FOR, ()))


def set_session_cookie(
    response: web.StreamResponse, request: web.Request, principal: Principal
) -> None:
    policy = admin(request).cookie
    assert principal.session_id is not None
    # No Max-Age: a browser session cookie; the server ends the session at its expiry anyway.
    response.set_cookie(
        policy.name,
        principal.session_id,
        path="/",
        secure=policy.secure,
        httponly=True,
        samesite=policy.samesite,
    )


def clear_session_cookie(response: web.StreamResponse, request: web.Request) -> None:
    policy = admin(request).cookie
    response.del_cookie(
        policy.name, path="/", secure=policy.secure, httponly=True, samesite=policy.samesite
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
