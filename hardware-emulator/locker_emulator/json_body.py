"""The control API's request bodies: a JSON object, sent as `application/json` and nothing else."""

from __future__ import annotations

from typing import Any

from aiohttp import web

# The types a cross-site page may send without a CORS preflight (the "CORS-safelisted" ones).
_FORM_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})


class BodyError(Exception):
    """A body the control API refuses: HTTP status, a short code and a message for humans."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


async def json_object(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    """The body as a JSON object; `optional` allows an empty body that is not a form (then `{}`).

    The Content-Type must say JSON: a browser sends a cross-site form (`enctype=text/plain`)
    without asking first, but never a cross-site `application/json` body (that needs a CORS
    preflight this API does not answer), so a page on another site cannot drive the emulator.
    """
    # An empty form still names its type; aiohttp's own client names octet-stream when empty.
    if optional and not request.can_read_body and request.content_type not in _FORM_TYPES:
        return {}
    if request.content_type != "application/json":
        sent = request.headers.get("Content-Type", "none")
        raise BodyError(
            415, "UnsupportedMediaType", f"send the body as application/json, not {sent!r}"
        )
    try:
        body = await request.json()
    except ValueError:
        raise BodyError(400, "BadRequest", "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise BodyError(400, "BadRequest", "the body must be a JSON object")
    return body
