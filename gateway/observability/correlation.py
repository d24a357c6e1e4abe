"""The correlation id of the work in hand (an HTTP request, a locker's message, a delivery).

One `ContextVar`: asyncio copies the context into every task it starts, so a log line written
anywhere below an HTTP handler, or below a locker message's lane task, carries the id that
caused it without threading it through every call. Set it with `bind`, read it with `current`.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator, Mapping
from contextvars import ContextVar

_current: ContextVar[str | None] = ContextVar("openlocker_correlation_id", default=None)

# What a caller may hand us as X-Request-Id: short and printable, so it cannot forge log lines
# (no newline, no quote) nor bloat every line it appears in.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
# W3C Trace Context: version-traceid-parentid-flags; an all-zero trace id is invalid.
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
# The key an outbox row's JSON body keeps it under (no column of its own: see README).
OUTBOX_KEY = "_correlationId"


def current() -> str | None:
    """The id of the work in hand, or None outside any."""
    return _current.get()


def new_id() -> str:
    return uuid.uuid4().hex


@contextlib.contextmanager
def bind(correlation_id: str | None) -> Iterator[None]:
    """`correlation_id` is current for the block (None: the block keeps the one it has)."""
    if correlation_id is None:
        yield
        return
    token = _current.set(correlation_id)
    try:
        yield
    finally:
        _current.reset(token)


def from_headers(headers: Mapping[str, str]) -> str:
    """The id an HTTP caller sent (`X-Request-Id`, else the trace id of `traceparent`), or a
    new one when it sent none we accept."""
    given = headers.get("X-Request-Id")
    if given is not None and _REQUEST_ID.match(given):
        return given
    parent = headers.get("traceparent")
    if parent is not None:
        found = _TRACEPARENT.match(parent.strip().lower())
        if found is not None and found.group(1) != "0" * 32:
            return found.group(1)
    return new_id()


def acceptable_traceparent(value: object) -> str | None:
    """`value` if it is a W3C `traceparent` (read back from storage), else None."""
    if not isinstance(value, str):
        return None
    found = _TRACEPARENT.match(value)
    return value if found is not None and found.group(1) != "0" * 32 else None


def acceptable(value: object) -> str | None:
    """`value` if it can serve as a correlation id (read back from storage), else None."""
    return value if isinstance(value, str) and _REQUEST_ID.match(value) else None
