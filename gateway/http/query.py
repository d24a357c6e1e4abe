"""Query-string parameters, checked with errors that point at the parameter."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from aiohttp import web

from gateway.domain.locker import Location
from gateway.errors import FieldIssue, ValidationFailed

E = TypeVar("E", bound=StrEnum)

# Every list of the carriers' API pages with these (`limit`); the discovery document publishes
# them, so they live here once rather than as literals in each route.
PAGE_SIZE_DEFAULT = 50
PAGE_SIZE_MAX = 200


def _bad(name: str, detail: str) -> ValidationFailed:
    return ValidationFailed(
        f"query parameter {name!r}: {detail}", issues=(FieldIssue(query_pointer(name), detail),)
    )


def query_pointer(name: str) -> str:
    """The JSON pointer (RFC 6901) of query parameter `name`: `~` and `/` in a name are
    escaped, or the problem would break its own schema (found by fuzzing an unknown name)."""
    return "/query/" + name.replace("~", "~0").replace("/", "~1")


def int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _bad(name, "must be an integer") from None
    if not low <= value <= high:
        raise _bad(name, f"must be between {low} and {high}")
    return value


def float_param(request: web.Request, name: str, low: float, high: float) -> float | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise _bad(name, "must be a number") from None
    if not low <= value <= high:
        raise _bad(name, f"must be between {low} and {high}")
    return value


def enum_param(request: web.Request, name: str, kind: type[E]) -> E | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        return kind(raw)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise _bad(name, f"must be one of {allowed}") from None


def location_param(request: web.Request, name: str) -> Location | None:
    """`lat,lon` in decimal degrees."""
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        lat_s, lon_s = raw.split(",")
        return Location(float(lat_s), float(lon_s))
    except ValueError:
        raise _bad(name, "must be 'lat,lon' in decimal degrees within range") from None


def text_param(request: web.Request, name: str, max_length: int = 128) -> str | None:
    raw = request.query.get(name)
    if raw is not None and not 1 <= len(raw) <= max_length:
        raise _bad(name, f"must be 1..{max_length} characters")
    return raw


def reject_unknown(request: web.Request, allowed: set[str]) -> None:
    unknown = sorted(set(request.query) - allowed)
    if unknown:
        raise _bad(unknown[0], f"unknown parameter; allowed: {', '.join(sorted(allowed))}")
