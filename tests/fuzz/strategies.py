"""Hypothesis strategies for what lockers send: OLP messages over MQTT and board serial frames.

Valid shapes come from the published examples (`schemas/v1/examples/olp-message-*`), the same
messages the emulator sends; every strategy below starts from one and breaks it in one way
a broken or hostile locker would: not JSON, too large, too deep, a member missing, added or of
the wrong type, huge or negative numbers, a forged `src`, an action OLP lacks. Serial frames
start from the codecs' own encoders and get garbage, truncation, bad sums and split reads.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from adapters.kerong_cu16 import frames as kerong
from gateway.sdk.olp import MAX_MESSAGE_BYTES, MAX_NESTING

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "v1" / "examples"
# What a locker publishes to the gateway (topic channel, action): calls, events, presence and
# its replies to the gateway's calls (on the gateway instance's reply topic).
LOCKER_CALLS = ("boot", "heartbeat")
LOCKER_EVENTS = ("door-opened", "door-closed", "code-entered", "fault")
LOCKER_REPLIES = (
    "open-compartment-result",
    "replay-events-result",
    "set-key-set-result",
    "set-availability-result",
    "display-result",
    "error",
)
INT64_MAX = 2**63 - 1
# The in-suite runs are bounded (~60-90 s for tests/fuzz); OPENLOCKER_FUZZ_SCALE=20 multiplies
# every test's examples for a longer hunt.
SCALE = max(1, int(os.environ.get("OPENLOCKER_FUZZ_SCALE", "1")))


def examples(n: int) -> int:
    """`n` examples in the suite, scaled for a long hunt."""
    return n * SCALE


JSON_SAFE_MAX = 2**53 - 1  # the schemas' bound on seq and eventSeq


def _load(kind: str) -> list[dict[str, Any]]:
    folder = EXAMPLES / f"olp-message-{kind}"
    return [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]


SEEDS: dict[str, list[dict[str, Any]]] = {
    kind: _load(kind)
    for kind in (*LOCKER_CALLS, *LOCKER_EVENTS, "status", "state", *LOCKER_REPLIES)
}


def seed(kind: str, src: str | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """A valid message of `kind` with a fresh id (a repeated id is a duplicate: its own case),
    sent by `src` (the examples' locker unless given)."""
    sender = {"src": src} if src is not None else {}
    return st.tuples(st.sampled_from(SEEDS[kind]), st.uuids()).map(
        lambda pair: json.loads(json.dumps(pair[0])) | {"id": str(pair[1])} | sender
    )


# ---- JSON values of every type, for "wrong type" and "extra member" ------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    # A NUL, a lone surrogate's escape and control characters: text a database may refuse.
    st.sampled_from(["a\u0000b", "\u0084", "\x7f", " ", "", "x" * 2000]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)
huge_numbers = st.one_of(
    st.sampled_from([-1, 0, JSON_SAFE_MAX, JSON_SAFE_MAX + 1, INT64_MAX, INT64_MAX + 1, 2**70]),
    st.integers(min_value=2**53, max_value=2**200),
    st.floats(allow_nan=False),
)


# ---- mutations of one message (a dict) -------------------------------------------------------


@dataclass(frozen=True)
class Mutation:
    """One way to break a message; `name` is what the long-form figures count."""

    name: str
    apply: Callable[[dict[str, Any]], dict[str, Any]]


def _members(message: dict[str, Any]) -> list[tuple[str, ...]]:
    """Paths of the envelope's and the payload's members (payload one level deep)."""
    paths: list[tuple[str, ...]] = [(k,) for k in message]
    payload = message.get("payload")
    if isinstance(payload, dict):
        paths += [("payload", k) for k in payload]
    return paths


def _set(message: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    target = message
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return message


def _drop(message: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    target = message
    for key in path[:-1]:
        target = target[key]
    target.pop(path[-1], None)
    return message


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """A message from `base` with one member missing, added, retyped or set out of range."""
    message = draw(base)
    paths = _members(message)
    how = draw(st.sampled_from(["drop", "retype", "extra", "huge", "action", "kind"]))
    if how == "drop":
        path = draw(st.sampled_from(paths))
        return f"drop:{'/'.join(path)}", _drop(message, path)
    if how == "retype":
        path = draw(st.sampled_from(paths))
        return f"retype:{'/'.join(path)}", _set(message, path, draw(json_values))
    if how == "extra":
        where = draw(st.sampled_from(["envelope", "payload"]))
        key = draw(st.text(min_size=1, max_size=12))
        if where == "payload" and isinstance(message.get("payload"), dict):
            message["payload"][key] = draw(json_values)
        else:
            message[key] = draw(json_values)
        return f"extra:{where}", message
    if how == "huge":
        member = draw(st.sampled_from(["seq", "eventSeq"]))
        return f"huge:{member}", _set(message, (member,), draw(huge_numbers))
    if how == "action":
        action = draw(st.one_of(st.from_regex(r"[A-Z][A-Za-z0-9]{0,20}", fullmatch=True), scalars))
        return "unknown-action", _set(message, ("action",), action)
    kind = draw(st.one_of(st.sampled_from(["call", "result", "error", "event", "CALL"]), scalars))
    return "kind", _set(message, ("kind",), kind)


def encoded(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False).encode("utf-8", "surrogatepass")


# ---- raw bytes that are not a message -------------------------------------------------------

raw_garbage = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.integers(min_value=MAX_NESTING + 1, max_value=40_000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(min_value=1, max_value=40_000).map(lambda n: b"[" * n),  # unbalanced
    st.sampled_from(
        [
            b"",
            b"null",
            b"[]",
            b"{}",
            b'"x"',
            b"1" * 5000,  # past Python's integer digit limit
            b"\xff\xfe{}",
            b'{"olp":"1.0"',
            b"NaN",
            b'{"a":' * 50 + b"1" + b"}" * 50,
        ]
    ),
)
oversized = st.integers(min_value=MAX_MESSAGE_BYTES + 1, max_value=MAX_MESSAGE_BYTES + 4096).map(
    lambda n: b'{"olp":"1.0","id":"big","kind":"call","pad":"' + b"x" * n + b'"}'
)


@st.composite
def truncated(draw: st.DrawFn, base: st.SearchStrategy[dict[str, Any]]) -> bytes:
    raw = encoded(draw(base))
    return raw[: draw(st.integers(min_value=0, max_value=len(raw) - 1))]


def bad_locker_bytes(
    kinds: tuple[str, ...], src: str | None = None
) -> st.SearchStrategy[tuple[str, bytes]]:
    """(what, raw) for one of `kinds`: every way above of breaking it, tagged for counting."""
    base = st.sampled_from(kinds).flatmap(lambda kind: seed(kind, src))
    return st.one_of(
        mutated(base).map(lambda m: (m[0], encoded(m[1]))),
        raw_garbage.map(lambda raw: ("garbage", raw)),
        truncated(base).map(lambda raw: ("truncated", raw)),
        oversized.map(lambda raw: ("oversized", raw)),
    )


@st.composite
def hostile(draw: st.DrawFn, kinds: tuple[str, ...], src: str | None = None) -> tuple[str, bytes]:
    """A valid message of one of `kinds` with one hostile twist: a forged `src` (another
    locker, an unknown one, a gateway instance), an action OLP v1 lacks, an `exp` already
    past, or `seq`/`eventSeq` at the schema's bound."""
    message = draw(st.sampled_from(kinds).flatmap(lambda kind: seed(kind, src)))
    how = draw(st.sampled_from(["forged-src", "unknown-action", "expired", "max-seq"]))
    if how == "forged-src":
        message["src"] = draw(st.sampled_from(["gw:gw-1", "WAW-OTHER-01", "FUZZ-ELSEWHERE"]))
    elif how == "unknown-action":
        message["action"] = draw(st.from_regex(r"X[A-Za-z0-9]{0,20}", fullmatch=True))
    elif how == "expired":
        message["exp"] = "2001-01-01T00:00:00Z"
    else:
        message["seq"] = JSON_SAFE_MAX
        if "eventSeq" in message:
            message["eventSeq"] = JSON_SAFE_MAX
    return how, encoded(message)


# ---- Kerong CU16 serial frames --------------------------------------------------------------


@st.composite
def kerong_status(draw: st.DrawFn, *, board: int | None = None, reply: int | None = None) -> bytes:
    """A well-formed 9-byte status frame (board and reply byte drawn unless given)."""
    b = draw(st.integers(0, kerong.MAX_BOARDS - 1)) if board is None else board
    lock = draw(st.integers(0, 15))
    rcmd = draw(st.sampled_from([kerong.STATUS, kerong.STATUS_ALL])) if reply is None else reply
    bits = draw(st.binary(min_size=4, max_size=4))
    body = bytes([kerong.STX, b << 4 | lock, rcmd, *bits, kerong.ETX])
    return body + bytes([kerong.checksum(body)])


@st.composite
def kerong_broken(draw: st.DrawFn) -> tuple[str, bytes]:
    """A status frame broken one way: (what, bytes)."""
    frame = bytearray(draw(kerong_status()))
    how = draw(st.sampled_from(["checksum", "truncated", "stx", "etx", "rcmd", "quirk"]))
    if how == "checksum":
        frame[8] = (frame[8] + draw(st.integers(1, 255))) & 0xFF
        if frame[8] == kerong.checksum(bytes(frame[1:8])):  # that would be the quirk
            frame[8] = (frame[8] + 1) & 0xFF
    elif how == "truncated":
        del frame[draw(st.integers(0, 8)) :]
    elif how == "stx":
        frame[0] = draw(st.integers(0, 255).filter(lambda b: b != kerong.STX))
    elif how == "etx":
        frame[7] = draw(st.integers(0, 255).filter(lambda b: b != kerong.ETX))
    elif how == "rcmd":
        frame[2] = draw(st.integers(0, 255).filter(lambda b: b not in (0x35, 0x36)))
    else:
        frame[8] = kerong.checksum(bytes(frame[1:8]))  # SUM without STX: a firmware's quirk
    return how, bytes(frame)


def splits(data: bytes) -> st.SearchStrategy[list[bytes]]:
    """`data` cut into the chunks a serial read may deliver."""
    return st.lists(st.integers(0, len(data)), max_size=6, unique=True).map(
        lambda cuts: _cut(data, sorted(cuts))
    )


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


# ---- Modbus RTU replies ----------------------------------------------------------------------


def crc16(data: bytes) -> bytes:
    """CRC-16/MODBUS, low byte first (as in tests/adapters/frames/modbus_rtu.frames)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return bytes([crc & 0xFF, crc >> 8])


@st.composite
def modbus_bad_reply(draw: st.DrawFn, *, unit: int, request: bytes) -> tuple[str, bytes]:
    """A reply to `request` (an RTU frame) broken one way, or a reply to something else."""
    how = draw(
        st.sampled_from(
            ["garbage", "bad-crc", "truncated", "wrong-unit", "wrong-function", "exception"]
        )
    )
    if how == "garbage":
        return how, draw(st.binary(min_size=1, max_size=40))
    function = request[1]
    if how == "wrong-unit":
        other = draw(st.integers(1, 247).filter(lambda u: u != unit))
        body = bytes([other, function, 1, draw(st.integers(0, 255))])
    elif how == "wrong-function":
        other = draw(st.sampled_from([0x01, 0x03, 0x04, 0x05, 0x06, 0x0F, 0x10, 0x2B]))
        other = 0x02 if other == function else other
        body = bytes([unit, other, 2, 0, draw(st.integers(0, 255))])
    elif how == "exception":
        body = bytes([unit, function | 0x80, draw(st.integers(0, 255))])
    else:
        body = bytes([unit, function, 1, draw(st.integers(0, 255))])
    frame = body + crc16(body)
    if how == "bad-crc":
        frame = frame[:-1] + bytes([(frame[-1] + draw(st.integers(1, 255))) & 0xFF])
    elif how == "truncated":
        frame = frame[: draw(st.integers(1, len(frame) - 1))]
    return how, frame
