"""MQTT binding: enums, payload table of SPEC.md §9, message models and make_envelope."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

import pytest
from pydantic import ValidationError

from gateway.errors import ErrorCode
from gateway.spec import Spec
from gateway.wire import (
    MESSAGE_MODELS,
    SCHEMA_MODELS,
    BootStatus,
    DisplayMessage,
    DisplayPayload,
    EnvelopeError,
    FaultKind,
    HeartbeatPayload,
    MessageKind,
    OpenCompartmentCall,
    OpenCompartmentPayload,
    OpenCompartmentResultPayload,
    OpenOutcome,
    OpenPurpose,
    StatusPayload,
    WireModel,
    make_envelope,
    message_model,
    message_schema,
)
from gateway.wire.olp_messages import _Call

from .drift import differences, model_shape, schema_shape
from .helpers import SPEC_DIR, code_token, markdown_table

ENUMS: list[type[StrEnum]] = [BootStatus, OpenOutcome, OpenPurpose, FaultKind, DisplayMessage]
T0 = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)
GW = "gw:eu1-a"
LOCKER = "WAW-MOK-01"


@pytest.mark.parametrize("enum", ENUMS, ids=lambda e: e.__name__)
def test_olp_enum_matches_wire(spec: Spec, enum: type[StrEnum]) -> None:
    published = spec.schema("olp-enums")["$defs"][enum.__name__]["enum"]
    assert published == [member.value for member in enum]  # same values, same order


def test_olp_enums_has_nothing_else(spec: Spec) -> None:
    assert set(spec.schema("olp-enums")["$defs"]) == {e.__name__ for e in ENUMS}


# --- SPEC.md §9 "Payloads" table against the schemas


def _members(cell: str) -> dict[str, bool]:
    """Top-level members of a table cell like `{a, b?, c: [{...}]}`: name -> required."""
    body = cell.strip("`").replace("\\|", "|")
    assert body.startswith("{"), cell
    assert body.endswith("}"), cell
    parts, depth, current = [], 0, ""
    for char in body[1:-1]:
        if char in "[{(":
            depth += 1
        elif char in "]})":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    members = {}
    for part in filter(None, (p.strip() for p in parts)):
        match = re.match(r"([a-z][A-Za-z0-9]*)(\??)", part)
        assert match, part
        members[match.group(1)] = not match.group(2)
    return members


def _schema_members(spec: Spec, name: str) -> dict[str, bool]:
    schema = spec.schema(name)
    required = set(schema.get("required", ()))
    return {member: member in required for member in schema["properties"]}


def _stem(action: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", action).lower()


PAYLOAD_ROWS = markdown_table((SPEC_DIR / "SPEC.md").read_text(encoding="utf-8"), "action")


@pytest.mark.parametrize("row", PAYLOAD_ROWS, ids=lambda r: str(code_token(r["action"])))
def test_payload_table_matches_the_schemas(spec: Spec, row: dict[str, str]) -> None:
    action = str(code_token(row["action"]))
    stem = _stem(action)
    assert _members(row["payload"]) == _schema_members(spec, f"olp-{stem}")
    kind = MessageKind(row["kind"])
    assert message_schema(kind, action) == f"olp-message-{stem}"
    if kind is MessageKind.CALL:
        assert _members(row["result payload"]) == _schema_members(spec, f"olp-{stem}-result")
        assert message_schema(MessageKind.RESULT, action) == f"olp-message-{stem}-result"
    else:
        assert code_token(row["result payload"]) is None
        assert message_schema(MessageKind.RESULT, action) is None


def test_payload_table_lists_every_action() -> None:
    listed = {(MessageKind(r["kind"]), str(code_token(r["action"]))) for r in PAYLOAD_ROWS}
    calls_and_events = {key for key in MESSAGE_MODELS if key[0] is not MessageKind.RESULT}
    assert listed == calls_and_events


# --- message models and their schemas


def test_every_message_model_is_in_the_catalog() -> None:
    catalogued = set(SCHEMA_MODELS.values())
    assert set(MESSAGE_MODELS.values()) <= catalogued
    assert all(message_schema(kind, action) in SCHEMA_MODELS for kind, action in MESSAGE_MODELS)


def test_errors_of_any_action_share_one_schema() -> None:
    assert message_schema(MessageKind.ERROR, "Boot") == "olp-message-error"
    assert message_schema(MessageKind.ERROR, "SetKeySet") == "olp-message-error"
    assert message_schema(MessageKind.CALL, "SetKeySet") == "olp-message-set-key-set"
    assert message_schema(MessageKind.CALL, "UpdateFirmware") is None
    assert message_model(MessageKind.EVENT, "Boot") is None


class _LooseCommand(_Call):
    action: Literal["OpenCompartment"] = "OpenCompartment"
    payload: OpenCompartmentPayload  # exp stays optional: the schema requires it


class _WrongPayload(_Call):
    action: Literal["OpenCompartment"] = "OpenCompartment"
    payload: OpenCompartmentResultPayload


class _WithError(OpenCompartmentCall):
    error: EnvelopeError | None = None


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (_LooseCommand, "schema requires exp"),
        (_WrongPayload, "/payload: members"),
        (_WithError, "/: members"),
    ],
)
def test_message_drift_is_detected(spec: Spec, model: type[WireModel], expected: str) -> None:
    found = differences(schema_shape(spec, "olp-message-open-compartment"), model_shape(model))
    assert any(expected in line for line in found), found


def test_display_info_needs_text() -> None:
    with pytest.raises(ValidationError, match="needs text"):
        DisplayPayload(message=DisplayMessage.INFO)
    assert DisplayPayload(message=DisplayMessage.INFO, text="closed on Sunday").text


# --- make_envelope


def _build(kind: MessageKind, action: str, payload: Any, **extra: Any) -> dict[str, Any]:
    return make_envelope(kind, action, payload, ts=T0, **extra)


def test_make_envelope_builds_a_valid_command(spec: Spec) -> None:
    payload = OpenCompartmentPayload(compartment_code="B07", purpose=OpenPurpose.DEPOSIT)
    body = _build(MessageKind.CALL, "OpenCompartment", payload, src=GW, seq=7, exp=T0)
    spec.validate("olp-message-open-compartment", body)
    assert body["payload"] == {"compartmentCode": "B07", "purpose": "deposit"}
    assert body["ts"] == "2025-03-14T09:26:53Z"
    assert "corr" not in body
    assert uuid.UUID(body["id"]).version == 4


def test_make_envelope_builds_a_valid_result_and_event(spec: Spec) -> None:
    result = _build(
        MessageKind.RESULT,
        "OpenCompartment",
        {"compartmentCode": "B07", "outcome": OpenOutcome.UNLOCKED},
        src=LOCKER,
        seq=3,
        corr="call-1",
    )
    spec.validate("olp-message-open-compartment-result", result)
    event = _build(MessageKind.EVENT, "Status", StatusPayload(online=True), src=LOCKER, seq=0)
    spec.validate("olp-message-status", event)
    heartbeat = _build(MessageKind.CALL, "Heartbeat", HeartbeatPayload(), src=LOCKER, seq=1)
    spec.validate("olp-message-heartbeat", heartbeat)
    assert heartbeat["payload"] == {}


def test_make_envelope_builds_a_valid_error(spec: Spec) -> None:
    error = EnvelopeError(code=ErrorCode.SECURITY_ERROR, description="not booted")
    body = _build(MessageKind.ERROR, "Heartbeat", None, src=GW, seq=9, corr="c1", error=error)
    spec.validate("olp-message-error", body)
    assert "payload" not in body
    assert body["error"] == {"code": "SecurityError", "description": "not booted", "details": {}}


def test_make_envelope_uses_the_clock_and_the_given_id() -> None:
    body = make_envelope(
        MessageKind.EVENT, "Status", StatusPayload(online=False), src=LOCKER, seq=0, message_id="w1"
    )
    assert body["id"] == "w1"
    sent = datetime.fromisoformat(body["ts"])
    assert abs(sent - datetime.now(UTC)) < timedelta(minutes=1)


@pytest.mark.parametrize(
    ("kind", "action", "payload", "extra", "problem"),
    [
        (MessageKind.CALL, "OpenCompartment", {"compartmentCode": "B07", "purpose": "deposit"},
         {}, "exp"),
        (MessageKind.CALL, "Boot", {"compartmentCode": "B07", "purpose": "deposit"},
         {}, "vendor"),
        (MessageKind.RESULT, "Heartbeat", {"currentTime": "2025-03-14T09:26:53Z"},
         {}, "corr"),
        (MessageKind.EVENT, "DoorOpened", None, {}, "needs a payload"),
        (MessageKind.ERROR, "Boot", None, {"corr": "c1"}, "needs error and corr"),
    ],
)  # fmt: skip
def test_make_envelope_refuses_what_the_schemas_refuse(
    kind: MessageKind, action: str, payload: Any, extra: dict[str, Any], problem: str
) -> None:
    with pytest.raises((ValidationError, ValueError), match=problem):
        _build(kind, action, payload, src=LOCKER, seq=1, **extra)


def test_make_envelope_leaves_unknown_actions_to_the_envelope(spec: Spec) -> None:
    body = _build(MessageKind.CALL, "UpdateFirmware", {"version": 8}, src=GW, seq=2, exp=T0)
    spec.validate("envelope", body)
    assert message_schema(MessageKind.CALL, "UpdateFirmware") is None
