"""Gateway errors as RFC 9457 problem+json responses (the status table lives in gateway.wire)."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from gateway.errors import ErrorCode, OpenLockerError
from gateway.wire import PROBLEM_MEDIA_TYPE, dump, problem_from_error

# RFC 3986 path characters that stay as they are; everything else is percent-encoded as UTF-8.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def problem_response(err: OpenLockerError, instance: str | None = None) -> web.Response:
    """`err` as problem+json; `instance` is the request's decoded path (`request.path`), which
    is percent-encoded here so that the problem matches its `uri-reference` schema whatever
    the path held (a control character, `%`, a space, non-ASCII)."""
    encoded = None if instance is None else quote(instance, safe=_PATH_SAFE)
    problem = problem_from_error(err, instance=encoded)
    headers = {}
    if err.code is ErrorCode.SECURITY_ERROR:
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return web.json_response(
        dump(problem), status=problem.status, content_type=PROBLEM_MEDIA_TYPE, headers=headers
    )
