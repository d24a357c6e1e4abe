"""What the connector kit checks with: the I/O guard, garbage inputs, and request inspection."""

from __future__ import annotations

import contextlib
import json
import re
import sys
import threading
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, SecretStr

from gateway.sdk.connectors import (
    ConnectorEvent,
    EmailMessage,
    HttpRequest,
    InboundRequest,
    MappingError,
    MqttPublish,
    ParcelStatusView,
)

__all__ = [
    "GARBAGE",
    "SECRET_KEY",
    "IoDuringRender",
    "fail_if",
    "forbid_io",
    "refusal",
    "secret_like",
    "secret_values",
    "shape",
    "status_view",
    "texts",
    "without_each_member",
]

# Config keys whose values are credentials: they must be SecretStr, masked in repr and logs.
SECRET_KEY = re.compile(r"(password|passwd|secret|token|api[_-]?key|credential|private)", re.I)
# Audit events (PEP 578) that mean a render or parse reached outside the process.
_IO_EVENTS = frozenset(
    {
        "socket.__new__",
        "socket.connect",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyaddr",
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "urllib.Request",
    }
)
# Bodies no carrier format accepts; each must be refused with a MappingError.
GARBAGE: tuple[bytes, ...] = (
    b"",
    b"not json at all",
    b"\xff\xfe\x00garbage",
    b"[]",
    b"{}",
    b"null",
    b"42",
    b'{"unexpected": {"deeply": [1, 2, {"nested": null}]}}',
    b'{"truncated": ',
)


class IoDuringRender(RuntimeError):
    """A connector tried to reach the network or start a process while mapping."""


# ---- the I/O guard ---------------------------------------------------------------------------

_guard = threading.local()
_hook_lock = threading.Lock()
_hook_installed = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    seen: list[str] | None = getattr(_guard, "seen", None)
    if seen is not None and event in _IO_EVENTS:
        seen.append(event)
        raise IoDuringRender(f"{event} while mapping: a connector must not do I/O")


@contextlib.contextmanager
def forbid_io() -> Iterator[list[str]]:
    """In this thread, within the block, sockets and subprocesses raise IoDuringRender.

    Yields the list of blocked attempts, so a connector that swallowed the exception is
    caught too. Audit hooks cannot be removed; the one installed here is idle outside blocks.
    """
    global _hook_installed
    with _hook_lock:
        if not _hook_installed:
            sys.addaudithook(_audit)
            _hook_installed = True
    outer = getattr(_guard, "seen", None)
    seen: list[str] = []
    _guard.seen = seen
    try:
        yield seen
    finally:
        _guard.seen = outer


# ---- reading what a connector produced -------------------------------------------------------


def texts(outbound: object) -> list[str]:
    """Every place a receiver could find the event id in a rendered request."""
    if isinstance(outbound, HttpRequest):
        parts = [outbound.url, *outbound.headers.values(), outbound.body]
    elif isinstance(outbound, MqttPublish):
        parts = [outbound.topic, *outbound.user_properties.values(), outbound.payload]
    elif isinstance(outbound, EmailMessage):
        parts = [outbound.subject, outbound.text, outbound.html or "", *outbound.headers.values()]
    else:
        parts = [repr(outbound)]
    return [p.decode("utf-8", "replace") if isinstance(p, bytes) else str(p) for p in parts]


def status_view(event: ConnectorEvent) -> ParcelStatusView:
    history = (event.event.model_dump(mode="json"),)
    return ParcelStatusView(parcel=event.parcel.model_dump(mode="json"), events=history)


def secret_values(model: BaseModel) -> list[str]:
    found: list[str] = []
    for value in model.__dict__.values():
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            found.extend(secret_values(value))
    return [v for v in found if len(v) >= 4]


def secret_like(model: BaseModel, path: str = "") -> Iterator[tuple[str, str]]:
    """Fields named like credentials whose value is a plain str (shown by repr)."""
    for key, value in model.__dict__.items():
        where = f"{path}.{key}" if path else key
        if isinstance(value, BaseModel):
            yield from secret_like(value, where)
        elif isinstance(value, str) and len(value) >= 4 and SECRET_KEY.search(key):
            yield where, value


def fail_if(problems: list[str], what: str) -> None:
    if problems:
        listing = "\n  ".join(problems[:20])
        raise AssertionError(f"{what} ({len(problems)}):\n  {listing}")


def shape(outbound: HttpRequest | MqttPublish | EmailMessage) -> list[str]:
    """What the engine's transports would trip over."""
    problems: list[str] = []
    if isinstance(outbound, HttpRequest):
        if not outbound.url.startswith(("http://", "https://")):
            problems.append(f"url {outbound.url!r} is not absolute http(s)")
        if not isinstance(outbound.body, bytes):
            problems.append("HttpRequest.body must be bytes")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in outbound.headers.items()):
            problems.append("HttpRequest.headers must map str to str")
    elif isinstance(outbound, MqttPublish):
        if not isinstance(outbound.payload, bytes):
            problems.append("MqttPublish.payload must be bytes")
        if not outbound.topic or "#" in outbound.topic or "+" in outbound.topic:
            problems.append(f"topic {outbound.topic!r} is empty or has a wildcard")
    elif not (outbound.to and outbound.sender and outbound.subject):
        problems.append("EmailMessage needs a recipient, a sender and a subject")
    return problems


def refusal(where: str, result: object, *, named: bool) -> list[str]:
    if isinstance(result, MappingError):
        if not result.issues:
            return [f"{where}: MappingError without an issue"]
        pointers = [i.pointer for i in result.issues]
        if any(p and not p.startswith("/") for p in pointers):
            return [f"{where}: {pointers} are not JSON pointers"]
        if named and not any(pointers):
            return [f"{where}: the MappingError does not name the field (pointer '')"]
        return []
    if isinstance(result, BaseException):
        return [f"{where}: raised {type(result).__name__}: {result}, not MappingError"]
    return [f"{where}: accepted as {result!r}; it must raise MappingError"]


def without_each_member(sample: InboundRequest) -> Iterator[tuple[str, bytes]]:
    try:
        body = json.loads(sample.body)
    except ValueError:
        return
    if isinstance(body, dict):
        for key in body:
            yield key, json.dumps({k: v for k, v in body.items() if k != key}).encode()
