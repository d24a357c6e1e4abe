"""The typed OLP edge of the SDK: its models carry the published schemas, the codec decodes
once into them and builds replies that the schemas accept."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.sdk.errors import ErrorCode, FieldIssue, MalformedMessage, ValidationFailed
from gateway.sdk.olp import OlpCodec
from gateway.sdk.olp_messages import (
    MESSAGE_MODELS,
    BootCall,
    BootResultPayload,
    DoorClosedEvent,
    ErrorReply,
    MessageKind,
    OlpMessage,
    OpenCompartmentPayload,
    UnknownMessage,
    message_model,
)
from gateway.spec import DEFAULT_SPEC_DIR, Spec
from gateway.wire.catalog import message_schema
from tests.spec.drift import differences, model_shape, schema_shape

EXAMPLES = DEFAULT_SPEC_DIR / "examples"
INVALID = DEFAULT_SPEC_DIR / "examples-invalid"
T0 = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)


@pytest.fixture(scope="module")
def spec() -> Spec:
    return Spec.load()


@pytest.fixture(scope="module")
def codec() -> OlpCodec:
    return OlpCodec.load()


def _examples(root: Path) -> list[Path]:
    return sorted(root.glob("olp-message-*/*.json"))


@pytest.mark.parametrize("key", sorted(MESSAGE_MODELS), ids=lambda k: f"{k[0]}-{k[1]}")
def test_every_sdk_message_model_carries_its_schema(
    spec: Spec, key: tuple[MessageKind, str]
) -> None:
    model = MESSAGE_MODELS[key]
    schema = message_schema(*key)
    assert schema is not None
    assert differences(schema_shape(spec, schema), model_shape(model)) == []


def test_error_replies_carry_their_schema(spec: Spec) -> None:
    assert differences(schema_shape(spec, "olp-message-error"), model_shape(ErrorReply)) == []


@pytest.mark.parametrize("path", _examples(EXAMPLES), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_valid_examples_decode_into_their_model(codec: OlpCodec, path: Path) -> None:
    raw = path.read_bytes()
    message = codec.decode_message(raw)
    data = json.loads(raw)
    assert type(message) is message_model(MessageKind(data["kind"]), data["action"])
    # Nothing lost: what the model writes (defaults spelt out, times normalised) reads back
    # as the same message.
    assert codec.decode_message(codec.encode(message)) == message


@pytest.mark.parametrize("path", _examples(INVALID), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_invalid_examples_never_decode_as_their_schema(codec: OlpCodec, path: Path) -> None:
    schema, raw = path.parent.name, path.read_bytes()
    data = json.loads(raw)
    kind, action = data.get("kind"), data.get("action")
    if kind in set(MessageKind) and message_schema(MessageKind(kind), str(action)) == schema:
        with pytest.raises(ValidationFailed) as refused:
            codec.decode_message(raw)
        assert refused.value.issues
        assert all(isinstance(issue, FieldIssue) for issue in refused.value.issues)
        return
    # Another (kind, action), e.g. a `call` named Status: refused, or decoded as that message
    # (an unknown call gets NotSupported), never as a message of `schema`.
    try:
        message = codec.decode_message(raw)
    except ValidationFailed:
        return
    assert message_schema(message.kind, message.action) != schema


def test_not_json_and_too_large_are_malformed(codec: OlpCodec) -> None:
    with pytest.raises(MalformedMessage):
        codec.decode_message(b"{not json")
    with pytest.raises(MalformedMessage):
        codec.decode_message(b" " * (codec.max_bytes + 1))


def test_an_action_olp_v1_lacks_is_checked_against_the_envelope_only(codec: OlpCodec) -> None:
    body = {
        "olp": "1.0",
        "id": "call-9",
        "kind": "call",
        "action": "UpdateFirmware",
        "ts": "2025-03-14T09:26:53Z",
        "src": "WAW-MOK-01",
        "seq": 4,
        "payload": {"url": "https://example.com/fw.bin"},
    }
    message = codec.decode_message(json.dumps(body).encode())
    assert isinstance(message, UnknownMessage)
    assert (message.kind, message.action, message.id) == (
        MessageKind.CALL,
        "UpdateFirmware",
        "call-9",
    )
    with pytest.raises(ValidationFailed):
        codec.decode_message(json.dumps({**body, "kind": "shout"}).encode())


def test_typed_attributes_not_dicts(codec: OlpCodec) -> None:
    boot = codec.decode_message((EXAMPLES / "olp-message-boot/boot.json").read_bytes())
    assert isinstance(boot, BootCall)
    assert boot.payload.compartments[0].code == "A01"
    assert boot.ts == T0
    closed = next((EXAMPLES / "olp-message-door-closed").glob("*.json"))
    event = codec.decode_message(closed.read_bytes())
    assert isinstance(event, DoorClosedEvent)
    assert event.payload.compartment_code


def test_built_replies_commands_and_errors_match_their_schemas(spec: Spec, codec: OlpCodec) -> None:
    boot = codec.decode_message((EXAMPLES / "olp-message-boot/boot.json").read_bytes())
    payload = BootResultPayload(status="Accepted", heartbeat_interval_seconds=60, current_time=T0)
    built: list[tuple[str, OlpMessage]] = [
        ("olp-message-boot-result", codec.result(boot, payload, src="gw:eu1-a", seq=1)),
        (
            "olp-message-open-compartment",
            codec.command(
                "OpenCompartment",
                OpenCompartmentPayload(compartment_code="B07", purpose="deposit"),
                src="gw:eu1-a",
                seq=2,
                exp=T0 + timedelta(seconds=10),
            ),
        ),
        (
            "olp-message-error",
            codec.error(
                corr=boot.id,
                action="Boot",
                code=ErrorCode.UNAVAILABLE,
                description="busy",
                src="gw:eu1-a",
                seq=3,
                issues=(FieldIssue("/payload", "why"),),
            ),
        ),
    ]
    for schema, message in built:
        body = json.loads(codec.encode(message))
        spec.validate(schema, body)
        assert type(codec.decode_message(codec.encode(message))) is type(message)
    assert json.loads(codec.encode(built[0][1]))["corr"] == boot.id


def test_a_result_or_command_olp_v1_lacks_is_refused(codec: OlpCodec) -> None:
    boot = codec.decode_message((EXAMPLES / "olp-message-boot/boot.json").read_bytes())
    unknown = boot.model_copy(update={"action": "UpdateFirmware"})
    payload = BootResultPayload(status="Accepted", heartbeat_interval_seconds=60, current_time=T0)
    with pytest.raises(ValueError, match="no result"):
        codec.result(unknown, payload, src="gw:eu1-a", seq=1)
    with pytest.raises(ValueError, match="no call"):
        codec.command("UpdateFirmware", payload, src="gw:eu1-a", seq=1, exp=T0)
