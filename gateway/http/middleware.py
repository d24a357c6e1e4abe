"""Middlewares: every failure becomes problem+json; /v1 requires a carrier token."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.errors import (
    ErrorCode,
    FieldIssue,
    NotFound,
    OpenLockerError,
    PayloadTooLarge,
    ValidationFailed,
)
from gateway.http.context import CARRIER, deps
from gateway.http.problems import problem_response
from gateway.http.query import query_pointer
from gateway.store.jtis import deferred

log = logging.getLogger(__name__)

# Public paths: the spec itself and the probes. Everything else under /v1 needs a carrier.
PUBLIC_PREFIXES = ("/v1/spec/", "/healthz", "/readyz", "/.well-known/")
# The operators' API: each handler calls require_operator (gateway/http/operator_auth.py).
OPERATOR_PREFIX = "/v1/admin/"
# A recipient's self-service calls: the link's token, checked by the handlers
# (gateway/http/routes/self_service.py), never a carrier's.
RECIPIENT_PREFIX = "/v1/self-service/"


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        _refuse_nul(request)
        return await handler(request)
    except OpenLockerError as err:
        if err.code in (ErrorCode.INTERNAL_ERROR, ErrorCode.UNAVAILABLE):
            log.warning("request %s %s failed: %s", request.method, request.path, err)
        return problem_response(err, request.path)
    except web.HTTPRequestEntityTooLarge as err:
        return problem_response(PayloadTooLarge(err.text or "body too large"), request.path)
    except web.HTTPNotFound:
        return problem_response(NotFound(f"no route for {request.path}"), request.path)
    except web.HTTPMethodNotAllowed as err:
        allowed = ", ".join(sorted(err.allowed_methods))
        problem = OpenLockerError(
            f"{request.method} is not allowed here; allowed: {allowed}",
            ErrorCode.METHOD_NOT_ALLOWED,
        )
        response = problem_response(problem, request.path)
        response.headers["Allow"] = ",".join(sorted(err.allowed_methods))
        return response
    except web.HTTPException:
        raise
    except Exception:
        # Never crash the server or leak internals: log with the traceback, answer 500.
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem_response(
            OpenLockerError("unexpected internal error", ErrorCode.INTERNAL_ERROR), request.path
        )


def _refuse_nul(request: web.Request) -> None:
    """No id or parameter holds U+0000, and PostgreSQL cannot even compare text with one."""
    if "\x00" in request.path:
        raise NotFound(f"no route for {request.path!r}")
    for key, value in request.query.items():
        if "\x00" in key or "\x00" in value:
            # A query parameter that breaks its constraints: the 422 every operation with
            # query parameters declares (a 400 here was undeclared; found by fuzzing).
            name = key.replace("\x00", "%00")
            raise ValidationFailed(
                f"query parameter {name!r} holds a NUL character",
                issues=(FieldIssue(query_pointer(name), "holds a NUL character"),),
            )


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    path = request.path
    if (
        path.startswith("/v1/")
        and not path.startswith(PUBLIC_PREFIXES)
        and not path.startswith(OPERATOR_PREFIX)
        and not path.startswith(RECIPIENT_PREFIX)
    ):
        authorization = request.headers.get("Authorization")
        authenticator = deps(request).authenticator
        request[CARRIER], pending = await authenticator.verify(authorization)
        # The token's jti rides in the handler's first transaction (gateway/store/jtis.py);
        # whatever the handler did, it is spent before the answer leaves, a replay answers 401.
        with deferred(pending):
            try:
                response = await handler(request)
            except Exception:  # an error answer spends the token too (not a cancellation:
                await authenticator.settle(pending)  # it committed nothing, so no effect)
                raise
            await authenticator.settle(pending)
            return response
    return await handler(request)
