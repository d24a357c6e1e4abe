"""Gateway errors as RFC 9457 problem+json responses (the status table lives in gateway.wire)."""

from __future__ import annotations

from aiohttp import web

from gateway.errors import ErrorCode, OpenLockerError
from gateway.wire import PROBLEM_MEDIA_TYPE, dump, problem_from_error


def problem_response(err: OpenLockerError, instance: str | None = None) -> web.Response:
    problem = problem_from_error(err, instance=instance)
    headers = {}
    if err.code is ErrorCode.SECURITY_ERROR:
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return web.json_response(
        dump(problem), status=problem.status, content_type=PROBLEM_MEDIA_TYPE, headers=headers
    )
