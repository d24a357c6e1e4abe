"""SetKeySet and DoorOpened's grant: schemas, examples, wire models and AsyncAPI agree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from gateway.spec import Spec
from gateway.wire import DoorOpenedPayload, SetKeySetCall, SetKeySetPayload, message_schema
from gateway.wire.envelope import MessageKind

from .helpers import example_files, load_json

SPEC_DIR = Path(__file__).resolve().parents[2] / "schemas" / "v1"
NEW = (
    "olp-set-key-set",
    "olp-set-key-set-result",
    "olp-message-set-key-set",
    "olp-message-set-key-set-result",
)
KEY = {
    "kty": "OKP",
    "crv": "Ed25519",
    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
    "kid": "k1",
}


@pytest.mark.parametrize("name", NEW)
def test_new_schemas_are_loaded_and_have_examples_both_ways(spec: Spec, name: str) -> None:
    assert name in spec.names
    assert any(p.parent.name == name for p in example_files("examples"))
    assert any(p.parent.name == name for p in example_files("examples-invalid"))


def test_set_key_set_is_a_command_with_its_own_message_schemas() -> None:
    assert message_schema(MessageKind.CALL, "SetKeySet") == "olp-message-set-key-set"
    assert message_schema(MessageKind.RESULT, "SetKeySet") == "olp-message-set-key-set-result"


def test_a_private_key_member_is_refused_by_schema_and_model(spec: Spec) -> None:
    payload: dict[str, Any] = {
        "version": 1,
        "issuer": "net",
        "keys": [{**KEY, "d": "secret"}],
        "signature": "eyJhbGciOiJFZERTQSJ9..c2ln",
    }
    issues = spec.issues("olp-set-key-set", payload)
    assert any(i.pointer.startswith("/keys/0") for i in issues), issues
    with pytest.raises(ValidationError):
        SetKeySetPayload.model_validate(payload)
    assert spec.issues("olp-set-key-set", {**payload, "keys": [KEY]}) == ()


def test_the_message_examples_parse_into_the_wire_models() -> None:
    call = load_json(SPEC_DIR / "examples" / "olp-message-set-key-set" / "rotation.json")
    parsed = SetKeySetCall.model_validate(call)
    assert parsed.payload.version == 7
    assert [k.kid for k in parsed.payload.keys] == ["net-2025-06", "net-2025-03"]
    opened = load_json(SPEC_DIR / "examples" / "olp-door-opened" / "with-grant.json")
    grant = DoorOpenedPayload.model_validate(opened).grant
    assert grant is not None
    assert grant.act == "deposit"
    assert DoorOpenedPayload.model_validate({"compartmentCode": "A1"}).grant is None


def test_boot_and_state_carry_the_key_set_version(spec: Spec) -> None:
    boot = load_json(SPEC_DIR / "examples" / "olp-boot" / "minimal.json")
    assert spec.issues("olp-boot", {**boot, "keySetVersion": 3}) == ()
    assert spec.issues("olp-boot", {**boot, "keySetVersion": None}) != ()
    assert "keySetVersion" in spec.schema("olp-state")["required"]


def test_asyncapi_sends_set_key_set_on_the_command_channel() -> None:
    doc = yaml.safe_load((SPEC_DIR / "asyncapi.yaml").read_text(encoding="utf-8"))
    operation = doc["operations"]["sendSetKeySet"]
    assert operation["action"] == "send"
    assert operation["channel"]["$ref"] == "#/channels/commands"
    assert "SetKeySet" in doc["channels"]["commands"]["messages"]
    assert "SetKeySetResult" in doc["channels"]["commandReplies"]["messages"]
    assert "SetKeySet" in doc["components"]["parameters"]["commandAction"]["enum"]
