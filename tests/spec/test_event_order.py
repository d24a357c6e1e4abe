"""SPEC §9 "Event order and reconciliation": `eventSeq`, `lastEventSeq` and ReplayEvents."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import ValidationFailed
from gateway.spec import Spec
from gateway.wire import (
    DoorClosedEvent,
    HeartbeatPayload,
    MessageKind,
    ReplayEventsCall,
    ReplayEventsResultPayload,
    message_model,
    message_schema,
)

from .helpers import SPEC_DIR, load_json

JOURNALED = ("door-opened", "door-closed", "code-entered", "fault")


def _example(schema: str) -> dict[str, Any]:
    first = sorted((SPEC_DIR / "examples" / schema).glob("*.json"))[0]
    body: dict[str, Any] = load_json(first)
    return body


@pytest.mark.parametrize("stem", JOURNALED)
def test_every_journaled_event_carries_a_positive_event_seq(spec: Spec, stem: str) -> None:
    schema = f"olp-message-{stem}"
    message = _example(schema)
    spec.validate(schema, {**message, "eventSeq": 1})
    spec.validate(schema, message)  # optional: lockers without a journal stay valid
    for bad in (0, -1, "1", 1.5, None):
        with pytest.raises(ValidationFailed, match="eventSeq"):
            spec.validate(schema, {**message, "eventSeq": bad})


def test_the_event_model_keeps_event_seq_and_omits_it_when_absent() -> None:
    message = _example("olp-message-door-closed")
    numbered = DoorClosedEvent.model_validate({**message, "eventSeq": 12})
    assert numbered.model_dump(by_alias=True, mode="json")["eventSeq"] == 12
    plain = DoorClosedEvent.model_validate({k: v for k, v in message.items() if k != "eventSeq"})
    assert plain.event_seq is None


def test_heartbeat_reports_the_last_event_sent(spec: Spec) -> None:
    spec.validate("olp-heartbeat", {"lastEventSeq": 0})
    spec.validate("olp-heartbeat", {})
    assert HeartbeatPayload.model_validate({"lastEventSeq": 44}).last_event_seq == 44
    with pytest.raises(ValidationFailed, match="lastEventSeq"):
        spec.validate("olp-boot", {**_example("olp-boot"), "lastEventSeq": -1})


def test_replay_events_is_a_command_with_a_result() -> None:
    assert message_schema(MessageKind.CALL, "ReplayEvents") == "olp-message-replay-events"
    assert message_schema(MessageKind.RESULT, "ReplayEvents") == (
        "olp-message-replay-events-result"
    )
    assert message_model(MessageKind.CALL, "ReplayEvents") is ReplayEventsCall
    # A command always expires (a replay asked too late is simply asked again).
    assert ReplayEventsCall.model_fields["exp"].is_required()
    result = ReplayEventsResultPayload.model_validate(
        {"replayed": 0, "oldestSeq": 45, "lastSeq": 44}
    )
    assert (result.oldest_seq, result.last_seq) == (45, 44)


def test_the_spec_text_describes_the_mechanism() -> None:
    text = (SPEC_DIR / "SPEC.md").read_text(encoding="utf-8")
    section = text.split("### Event order and reconciliation", 1)[1].split("\n### ", 1)[0]
    for term in ("`eventSeq`", "`ReplayEvents {afterSeq: mark}`", "`lastEventSeq`", "`oldestSeq`"):
        assert term in section
