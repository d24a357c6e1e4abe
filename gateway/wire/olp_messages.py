"""Whole MQTT messages (schemas/v1/olp-message-*.json) and `make_envelope` to build one."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal
from uuid import uuid4

from pydantic import Field

from gateway.clock import utc_now
from gateway.wire.base import UtcDateTime, WireModel, dump
from gateway.wire.envelope import Envelope, EnvelopeError, MessageKind
from gateway.wire.olp_payloads import (
    BootPayload,
    BootResultPayload,
    CodeEnteredPayload,
    DisplayPayload,
    DisplayResultPayload,
    DoorClosedPayload,
    DoorOpenedPayload,
    FaultPayload,
    HeartbeatPayload,
    HeartbeatResultPayload,
    OpenCompartmentPayload,
    OpenCompartmentResultPayload,
    ReplayEventsPayload,
    ReplayEventsResultPayload,
    SetAvailabilityPayload,
    SetAvailabilityResultPayload,
    SetKeySetPayload,
    SetKeySetResultPayload,
    StatePayload,
    StatusPayload,
)
from gateway.wire.olp_scan import ScanParcelPayload, ScanParcelResultPayload


class OlpMessage(WireModel):
    """The envelope members every message shares; subclasses pin kind, action and payload."""

    olp: Literal["1.0"] = "1.0"
    id: str
    kind: MessageKind
    action: str
    corr: str | None = None
    ts: UtcDateTime
    exp: UtcDateTime | None = None
    src: str
    seq: int
    event_seq: int | None = Field(default=None, alias="eventSeq")


class _Call(OlpMessage):
    kind: Literal[MessageKind.CALL] = MessageKind.CALL


class _Command(_Call):
    exp: UtcDateTime  # a gateway's command always expires: a late "open" is a security hole


class _Result(OlpMessage):
    kind: Literal[MessageKind.RESULT] = MessageKind.RESULT
    corr: str


class _Event(OlpMessage):
    kind: Literal[MessageKind.EVENT] = MessageKind.EVENT


class BootCall(_Call):
    action: Literal["Boot"] = "Boot"
    payload: BootPayload


class BootResult(_Result):
    action: Literal["Boot"] = "Boot"
    payload: BootResultPayload


class HeartbeatCall(_Call):
    action: Literal["Heartbeat"] = "Heartbeat"
    payload: HeartbeatPayload


class HeartbeatResult(_Result):
    action: Literal["Heartbeat"] = "Heartbeat"
    payload: HeartbeatResultPayload


class ScanParcelCall(_Call):
    action: Literal["ScanParcel"] = "ScanParcel"
    payload: ScanParcelPayload


class ScanParcelResult(_Result):
    action: Literal["ScanParcel"] = "ScanParcel"
    payload: ScanParcelResultPayload


class OpenCompartmentCall(_Command):
    action: Literal["OpenCompartment"] = "OpenCompartment"
    payload: OpenCompartmentPayload


class OpenCompartmentResult(_Result):
    action: Literal["OpenCompartment"] = "OpenCompartment"
    payload: OpenCompartmentResultPayload


class SetAvailabilityCall(_Command):
    action: Literal["SetAvailability"] = "SetAvailability"
    payload: SetAvailabilityPayload


class SetAvailabilityResult(_Result):
    action: Literal["SetAvailability"] = "SetAvailability"
    payload: SetAvailabilityResultPayload


class SetKeySetCall(_Command):
    action: Literal["SetKeySet"] = "SetKeySet"
    payload: SetKeySetPayload


class SetKeySetResult(_Result):
    action: Literal["SetKeySet"] = "SetKeySet"
    payload: SetKeySetResultPayload


class ReplayEventsCall(_Command):
    action: Literal["ReplayEvents"] = "ReplayEvents"
    payload: ReplayEventsPayload


class ReplayEventsResult(_Result):
    action: Literal["ReplayEvents"] = "ReplayEvents"
    payload: ReplayEventsResultPayload


class DisplayCall(_Command):
    action: Literal["Display"] = "Display"
    payload: DisplayPayload


class DisplayResult(_Result):
    action: Literal["Display"] = "Display"
    payload: DisplayResultPayload


class StatusEvent(_Event):
    action: Literal["Status"] = "Status"
    payload: StatusPayload


class StateEvent(_Event):
    action: Literal["State"] = "State"
    payload: StatePayload


class DoorOpenedEvent(_Event):
    action: Literal["DoorOpened"] = "DoorOpened"
    payload: DoorOpenedPayload


class DoorClosedEvent(_Event):
    action: Literal["DoorClosed"] = "DoorClosed"
    payload: DoorClosedPayload


class CodeEnteredEvent(_Event):
    action: Literal["CodeEntered"] = "CodeEntered"
    payload: CodeEnteredPayload


class FaultEvent(_Event):
    action: Literal["Fault"] = "Fault"
    payload: FaultPayload


class ErrorReply(OlpMessage):
    """An error reply to a call of any action; a payload, if sent, carries nothing."""

    kind: Literal[MessageKind.ERROR] = MessageKind.ERROR
    action: str
    corr: str
    payload: dict[str, Any] | None = None
    error: EnvelopeError


class UnknownMessage(OlpMessage):
    """A call, result or event of an action OLP v1 does not define (a later 1.x may): checked
    against the envelope only, so a receiver can answer NotSupported or log and skip it."""

    payload: dict[str, Any] = Field(default_factory=dict)


_TYPED: tuple[type[OlpMessage], ...] = (
    BootCall,
    BootResult,
    HeartbeatCall,
    HeartbeatResult,
    ScanParcelCall,
    ScanParcelResult,
    OpenCompartmentCall,
    OpenCompartmentResult,
    SetAvailabilityCall,
    SetAvailabilityResult,
    SetKeySetCall,
    SetKeySetResult,
    ReplayEventsCall,
    ReplayEventsResult,
    DisplayCall,
    DisplayResult,
    StatusEvent,
    StateEvent,
    DoorOpenedEvent,
    DoorClosedEvent,
    CodeEnteredEvent,
    FaultEvent,
)
MESSAGE_MODELS: MappingProxyType[tuple[MessageKind, str], type[OlpMessage]] = MappingProxyType(
    {(m.model_fields["kind"].default, m.model_fields["action"].default): m for m in _TYPED}
)
"""The model of every (kind, action) the binding defines; errors of any action: ErrorReply."""


def message_model(kind: MessageKind, action: str) -> type[OlpMessage] | None:
    """The model of a message of this kind and action; None for an action OLP v1 lacks."""
    if kind is MessageKind.ERROR:
        return ErrorReply
    return MESSAGE_MODELS.get((kind, action))


def make_envelope(
    kind: MessageKind,
    action: str,
    payload: WireModel | Mapping[str, Any] | None,
    *,
    src: str,
    seq: int,
    corr: str | None = None,
    exp: datetime | None = None,
    ts: datetime | None = None,
    error: EnvelopeError | None = None,
    message_id: str | None = None,
) -> dict[str, Any]:
    """One OLP message, JSON-ready: a fresh UUID id and the current time unless given.

    `payload` is None only for an error (which then carries `error`). A (kind, action) the
    binding defines is checked against its message model, so a Boot call cannot carry an
    OpenCompartment payload and a command cannot leave out `exp`; other actions get the
    envelope's rules only. Raises pydantic.ValidationError or ValueError on a bad message.
    """
    if payload is None and kind is not MessageKind.ERROR:
        raise ValueError(f"a {kind} message needs a payload")
    body = dump(payload) if isinstance(payload, WireModel) else payload
    fields: dict[str, Any] = {
        "id": message_id or str(uuid4()),
        "kind": kind,
        "action": action,
        "corr": corr,
        "ts": ts or utc_now(),
        "exp": exp,
        "src": src,
        "seq": seq,
        "error": error,
    }
    if body is not None:
        fields["payload"] = dict(body)
    data = dump(Envelope(**fields))  # the envelope rules: corr on replies, error on errors only
    if body is None:
        data.pop("payload", None)
    model = message_model(kind, action)
    return data if model is None else dump(model.model_validate(data))
