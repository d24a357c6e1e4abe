"""Request bodies and headers at the edge: size, media type, JSON, schema, idempotency key."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from gateway.errors import (
    ErrorCode,
    IdempotencyKeyMissing,
    MalformedMessage,
    OpenLockerError,
    ValidationFailed,
)
from gateway.http.context import deps
from gateway.service.idempotency import IdempotencyKey

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")


async def read_json(request: web.Request, schema: str) -> Any:
    """The body as JSON, validated against `schemas/v1/<schema>.json` (an empty body is {})."""
    raw = await request.read()  # aiohttp enforces client_max_size here (413)
    if not raw.strip():
        data: Any = {}
    else:
        if request.content_type != "application/json":
            raise OpenLockerError(
                f"send application/json, not {request.content_type or 'nothing'}",
                ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            )
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise MalformedMessage(f"body is not valid JSON: {err}") from err
    deps(request).spec.validate(schema, data)
    return data


def idempotency_key(request: web.Request, body: Any) -> IdempotencyKey:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        raise IdempotencyKeyMissing("every POST needs an Idempotency-Key header")
    if not IDEMPOTENCY_KEY.match(key):
        raise ValidationFailed(
            "Idempotency-Key must be 8..128 characters of letters, digits, '_', '.', ':' or '-'",
            code=ErrorCode.FORMAT_VIOLATION,
        )
    return IdempotencyKey.for_request(key, request.method, request.path, body)


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")
