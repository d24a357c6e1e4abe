"""OLP v1 envelopes, topics and command payloads as the locker side reads and writes them."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

OLP_VERSION = "1.0"
# SPEC §9 "Size": anything larger is answered FormatViolation (calls) or dropped (events).
MAX_MESSAGE_BYTES = 64 * 1024
# envelope.json#/$defs/GatewaySource: the instance is a topic level of the LockerId shape.
_GATEWAY_SRC = re.compile(r"gw:([A-Za-z0-9][A-Za-z0-9_.-]{0,63})")
_MESSAGE_ID = re.compile(r"[!-~]{1,36}")
_ACTION = re.compile(r"[A-Z][A-Za-z0-9]{0,63}")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
_KEYPAD_CODE = re.compile(r"[0-9]{4,12}")


class Kind(StrEnum):
    """Envelope kinds."""

    CALL = "call"
    RESULT = "result"
    ERROR = "error"
    EVENT = "event"


class ErrorCode(StrEnum):
    """The error codes this locker sends (a subset of error-code.json)."""

    FORMAT_VIOLATION = "FormatViolation"
    SECURITY_ERROR = "SecurityError"
    NOT_SUPPORTED = "NotSupported"
    NOT_FOUND = "NotFound"
    INTERNAL_ERROR = "InternalError"


class PayloadError(ValueError):
    """A command payload breaks SPEC §9 (used when no olp-*.json schema says so first)."""


def new_id() -> str:
    """A fresh message id: a UUID, 36 printable characters."""
    return str(uuid.uuid4())


def format_ts(moment: datetime) -> str:
    """RFC 3339 in UTC with `Z` and milliseconds, as OLP senders emit."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_ts(text: str) -> datetime:
    """An RFC 3339 timestamp with offset; ValueError without one."""
    moment = datetime.fromisoformat(text.replace("z", "Z"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no offset")
    return moment


def is_message_id(value: object) -> bool:
    """Whether `value` could serve as `corr` of a reply."""
    return isinstance(value, str) and _MESSAGE_ID.fullmatch(value) is not None


def is_action(value: object) -> bool:
    """Whether `value` is a well-formed PascalCase action name."""
    return isinstance(value, str) and _ACTION.fullmatch(value) is not None


def gateway_instance(src: object) -> str | None:
    """The instance named by a gateway `src` (`gw:{instance}`), if it is a usable topic level."""
    if not isinstance(src, str):
        return None
    match = _GATEWAY_SRC.fullmatch(src)
    return match.group(1) if match else None


@dataclass(frozen=True, slots=True)
class Topics:
    """The MQTT topics of one locker (SPEC §9)."""

    locker_id: str

    @property
    def root(self) -> str:
        return f"olp/v1/{self.locker_id}"

    @property
    def status(self) -> str:
        return f"{self.root}/status"

    @property
    def state(self) -> str:
        return f"{self.root}/state"

    @property
    def res(self) -> str:
        return f"{self.root}/res"

    @property
    def cmd_filter(self) -> str:
        return f"{self.root}/cmd/+"

    def evt(self, action: str) -> str:
        return f"{self.root}/evt/{action}"

    def req(self, action: str) -> str:
        return f"{self.root}/req/{action}"

    def gateway_res(self, instance: str) -> str:
        return f"olp/v1/_gw/{instance}/res/{self.locker_id}"

    def command_action(self, topic: str) -> str | None:
        """The `{Action}` level of one of this locker's cmd topics, else None."""
        prefix = f"{self.root}/cmd/"
        return topic.removeprefix(prefix) if topic.startswith(prefix) else None


def envelope(
    *,
    kind: Kind,
    action: str,
    src: str,
    ts: datetime,
    payload: dict[str, Any] | None = None,
    corr: str | None = None,
    exp: datetime | None = None,
    error: dict[str, Any] | None = None,
    message_id: str | None = None,
) -> dict[str, Any]:
    """One envelope without `seq`: the sender stamps `seq` when the message goes on the wire."""
    message: dict[str, Any] = {
        "olp": OLP_VERSION,
        "id": message_id or new_id(),
        "kind": str(kind),
        "action": action,
        "ts": format_ts(ts),
        "src": src,
    }
    if corr is not None:
        message["corr"] = corr
    if exp is not None:
        message["exp"] = format_ts(exp)
    if kind is Kind.ERROR:
        message["error"] = error or {}
    else:
        message["payload"] = payload if payload is not None else {}
    return message


def error_body(
    code: ErrorCode, description: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The envelope's `error` member."""
    body: dict[str, Any] = {"code": str(code), "description": description[:1000]}
    if details:
        body["details"] = details
    return body


class Purpose(StrEnum):
    """Why a compartment is opened (OpenCompartment.purpose)."""

    DEPOSIT = "deposit"
    PICKUP = "pickup"
    COLLECT = "collect"
    DROPOFF = "dropoff"
    SERVICE = "service"


class DisplayMessage(StrEnum):
    """What the kiosk screen can show (Display.message)."""

    CODE_REJECTED = "CodeRejected"
    LOCKED_OUT = "LockedOut"
    WELCOME = "Welcome"
    INFO = "Info"


@dataclass(frozen=True, slots=True)
class OpenCompartment:
    """Command: unlock one compartment for a purpose."""

    compartment_code: str
    purpose: Purpose
    # Delivery requirements: the age/identity check to show with a pickup (None: none).
    pickup_check: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class SetAvailability:
    """Command: take a compartment in or out of service."""

    compartment_code: str
    available: bool
    reason: str | None


@dataclass(frozen=True, slots=True)
class Display:
    """Command: show a message on the locker's screen."""

    message: DisplayMessage
    text: str | None


@dataclass(frozen=True, slots=True)
class SetKeySet:
    """Command: install the network's grant-verification keys (checked when installed)."""

    version: int
    issuer: str
    keys: tuple[object, ...]
    payload: Mapping[str, Any]  # as received: what the signature is checked against


@dataclass(frozen=True, slots=True)
class ReplayEvents:
    """Command: publish the journaled events after `after_seq` again (SPEC §9)."""

    after_seq: int


# Commands that act on the hardware; ReplayEvents only republishes what the journal holds.
HardwareCommand = OpenCompartment | SetAvailability | Display | SetKeySet
Command = HardwareCommand | ReplayEvents
COMMAND_ACTIONS = ("OpenCompartment", "SetAvailability", "Display", "SetKeySet", "ReplayEvents")


def _members(payload: dict[str, Any], required: set[str], optional: set[str]) -> None:
    missing = sorted(required - payload.keys())
    if missing:
        raise PayloadError(f"missing member(s): {', '.join(missing)}")
    unknown = sorted(payload.keys() - required - optional)
    if unknown:
        raise PayloadError(f"unknown member(s): {', '.join(unknown)}")


def _code(payload: dict[str, Any]) -> str:
    code = payload["compartmentCode"]
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise PayloadError("compartmentCode must be a compartment code such as A01")
    return code


def _optional_text(payload: dict[str, Any], name: str, limit: int) -> str | None:
    value = payload.get(name)
    if value is None and name not in payload:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise PayloadError(f"{name} must be a string of at most {limit} characters")
    return value


def pickup_check(raw: object) -> dict[str, Any]:
    """A PickupCheck (delivery-requirements.json): {minimumAge?: 16..21, identity?: bool},
    asking for at least one; PayloadError otherwise."""
    if not isinstance(raw, dict) or not raw or set(raw) - {"minimumAge", "identity"}:
        raise PayloadError("pickupCheck has minimumAge and/or identity only")
    age, identity = raw.get("minimumAge"), raw.get("identity", False)
    if age is not None and (
        isinstance(age, bool) or not isinstance(age, int) or not 16 <= age <= 21
    ):
        raise PayloadError("pickupCheck.minimumAge is a whole number of years, 16..21")
    if not isinstance(identity, bool) or (age is None and not identity):
        raise PayloadError("pickupCheck asks for minimumAge or identity: true")
    return dict(raw)


def check_text(check: dict[str, Any]) -> str:
    """What the screen says for a pickup check, e.g. "ID check: proof of age 18+ and identity"."""
    wanted = []
    if check.get("minimumAge") is not None:
        wanted.append(f"proof of age {check['minimumAge']}+")
    if check.get("identity"):
        wanted.append("identity")
    return "ID check: show " + " and ".join(wanted)


def parse_command(action: str, payload: dict[str, Any]) -> Command:
    """Typed command from a payload already checked against its schema (if the spec has one)."""
    if action == "OpenCompartment":
        _members(payload, {"compartmentCode", "purpose"}, {"pickupCheck"})
        purpose = payload["purpose"]
        if purpose not in set(Purpose):
            raise PayloadError(f"purpose must be one of {', '.join(Purpose)}")
        check = payload.get("pickupCheck")
        if check is not None:
            check = pickup_check(check)
        return OpenCompartment(_code(payload), Purpose(purpose), check)
    if action == "SetAvailability":
        _members(payload, {"compartmentCode", "available"}, {"reason"})
        if not isinstance(payload["available"], bool):
            raise PayloadError("available must be true or false")
        reason = _optional_text(payload, "reason", 1000)
        return SetAvailability(_code(payload), payload["available"], reason)
    if action == "Display":
        _members(payload, {"message"}, {"text"})
        if payload["message"] not in set(DisplayMessage):
            raise PayloadError(f"message must be one of {', '.join(DisplayMessage)}")
        text = _optional_text(payload, "text", 200)
        if payload["message"] == DisplayMessage.INFO and not text:
            raise PayloadError("Display with message Info needs a text")
        return Display(DisplayMessage(payload["message"]), text)
    if action == "SetKeySet":
        _members(payload, {"version", "issuer", "keys"}, {"signature", "rootKeys"})
        version, issuer, keys = payload["version"], payload["issuer"], payload["keys"]
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            raise PayloadError("version must be an integer >= 0")
        if not isinstance(issuer, str) or not issuer:
            raise PayloadError("issuer must be a non-empty string")
        if not isinstance(keys, list):
            raise PayloadError("keys must be a list of public JWKs")
        return SetKeySet(version, issuer, tuple(keys), payload)
    if action == "ReplayEvents":
        _members(payload, {"afterSeq"}, set())
        after = payload["afterSeq"]
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise PayloadError("afterSeq must be an integer >= 0")
        return ReplayEvents(after)
    raise PayloadError(f"unknown command {action}")


def check_keypad_code(code: str) -> str:
    """A keypad entry: 4 to 12 digits."""
    if not _KEYPAD_CODE.fullmatch(code):
        raise ValueError("a keypad code is 4 to 12 digits")
    return code


# common.json ParcelId: what a label scanner may report with a drop-off code.
_PARCEL_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


def check_label(label: str) -> str:
    """A scanned parcel label: a parcel id of 1 to 64 letters, digits and _.:- ."""
    if not _PARCEL_LABEL.fullmatch(label):
        raise ValueError("a parcel label is 1 to 64 letters, digits or _.:- (not first)")
    return label
