"""The LB-8 line protocol (ASCII over TCP), as pure functions: no I/O here.

Requests:  `<id> OPEN <door>` and `<id> READ <door>`, door numbers from 1.
Replies:   `<id> OK OPENED`, `<id> OK JAMMED`, `<id> OK <open|closed> <full|empty>`,
           `<id> ERR <reason>`.
Pushed:    `* DOOR <door> OPEN`, `* DOOR <door> CLOSED <full|empty>`.
Firmware 1.x answers in lower case (`ok opened`); the adapter accepts that only when lenient.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.sdk import AdapterProtocolError


@dataclass(frozen=True, slots=True)
class Reply:
    request_id: int
    ok: bool
    words: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DoorPush:
    door: int
    open: bool
    full: bool | None  # only a closing door reports the item sensor


@dataclass(frozen=True, slots=True)
class Parsed:
    message: Reply | DoorPush
    quirk: str | None  # what a lenient parse had to forgive, for the log


def request(request_id: int, verb: str, door: int) -> bytes:
    return f"{request_id} {verb} {door}\n".encode("ascii")


def parse(line: bytes, *, lenient: bool) -> Parsed:
    """One line from the board; AdapterProtocolError when it is not LB-8 at all."""
    try:
        text = line.decode("ascii").strip()
    except UnicodeDecodeError as err:
        raise AdapterProtocolError(f"LB-8 sent non-ASCII bytes: {line[:40]!r}") from err
    quirk = None
    if text != text.upper():
        if not lenient:
            raise AdapterProtocolError(f"LB-8 sent lower case (firmware 1.x?): {text!r}")
        quirk = "lower-case reply (firmware 1.x)"
        text = text.upper()
    words = tuple(text.split())
    if len(words) >= 3 and words[:2] == ("*", "DOOR"):
        return Parsed(_push(words), quirk)
    if len(words) >= 2 and words[0].isdigit() and words[1] in ("OK", "ERR"):
        return Parsed(Reply(int(words[0]), words[1] == "OK", words[2:]), quirk)
    raise AdapterProtocolError(f"not an LB-8 message: {text!r}")


def _push(words: tuple[str, ...]) -> DoorPush:
    if not words[2].isdigit():
        raise AdapterProtocolError(f"bad door number in {' '.join(words)!r}")
    if words[3:] == ("OPEN",):
        return DoorPush(int(words[2]), open=True, full=None)
    if len(words) == 5 and words[3] == "CLOSED" and words[4] in ("FULL", "EMPTY"):
        return DoorPush(int(words[2]), open=False, full=words[4] == "FULL")
    raise AdapterProtocolError(f"bad door report {' '.join(words)!r}")
