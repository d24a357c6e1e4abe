"""Request bodies and headers at the edge: size, media type, JSON, schema, idempotency key.

A body is checked once, against the schema of schemas/v1 its wire model carries, and handed on
typed (`read_body`); the services get commands and typed values, never the raw JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import pydantic
from aiohttp import web

from gateway.errors import (
    ErrorCode,
    FieldIssue,
    IdempotencyKeyMissing,
    MalformedMessage,
    OpenLockerError,
    ValidationFailed,
)
from gateway.http.context import deps
from gateway.sdk.schemas import pointer
from gateway.service.idempotency import IdempotencyKey, Idempotent, JsonBody
from gateway.wire import WireModel, schema_of

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")
# No API body (nor a connector's shipment) nests this deep; a deeper one is refused before the
# schema validators, whose recursion a few hundred levels under the parser's limit exhausts.
MAX_NESTING = 64

T = TypeVar("T")
M = TypeVar("M", bound=WireModel)


@dataclass(frozen=True, slots=True)
class Body(Generic[M]):
    """A request body, checked against its schema and typed. `json` is the body as sent
    (parsed): an Idempotency-Key's fingerprint is taken of it, not of the model."""

    model: M
    json: Any


async def read_body(request: web.Request, model: type[M]) -> Body[M]:
    """The body checked once against the schema `model` carries, then typed as `model`."""
    schema = schema_of(model)
    data = await read_json(request, schema)
    try:
        return Body(model.model_validate(data), data)
    except pydantic.ValidationError as err:
        # The schema passed it, so the model drifted from it (tests/spec guard this); still
        # the carrier's request is refused with the field, not a 500.
        issues = tuple(FieldIssue(pointer(e["loc"]), e["msg"]) for e in err.errors())
        raise ValidationFailed(f"invalid {schema}: {issues[0].detail}", issues=issues) from err


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
        data = parse_json(raw)
    deps(request).spec.validate(schema, data)
    return data


def _no_constant(name: str) -> Any:
    # Python's json reads NaN and Infinity, which are not JSON and no store takes.
    raise MalformedMessage(f"body is not valid JSON: {name} is not a JSON number")


def parse_json(raw: bytes) -> Any:
    """`raw` as strict JSON, or MalformedMessage (400), never another exception.

    Beyond syntax errors this refuses what the parser itself would choke on (nesting deeper
    than Python's recursion limit, an integer past its digit limit), NaN and Infinity, and a
    NUL character anywhere: no identifier takes one and PostgreSQL cannot store it in text.
    """
    try:
        data = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise MalformedMessage("body is not valid JSON: nested too deeply") from None
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError, the int digit limit
        raise MalformedMessage(f"body is not valid JSON: {_first_line(err)}") from None
    if _nesting(data) > MAX_NESTING:
        raise MalformedMessage(f"body is nested too deeply (over {MAX_NESTING} levels)")
    if _has_nul(data):
        raise MalformedMessage("body holds a NUL character (\\u0000), which no field takes")
    return data


def _first_line(err: ValueError) -> str:
    return str(err).splitlines()[0][:200] if str(err) else type(err).__name__


def _nesting(data: Any) -> int:
    """How deep `data` nests arrays and objects (iterative: no recursion limit of its own)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _has_nul(data: Any) -> bool:
    """Whether any string or member name in `data` holds U+0000 (iterative: no depth limit)."""
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:
                return True
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


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


def idempotent(
    request: web.Request, body: Body[Any], render: Callable[[T], JsonBody]
) -> Idempotent[T]:
    """The request's Idempotency-Key with the renderer (from gateway.http.render) of the
    answer that the service stores for replays together with its effect."""
    return Idempotent(idempotency_key(request, body.json), render)


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


def created(body: Any, location: str) -> web.Response:
    """A 201 with the new resource and, as openapi.yaml promises, its `Location`."""
    response = json_response(body, status=201)
    response.headers["Location"] = location
    return response
