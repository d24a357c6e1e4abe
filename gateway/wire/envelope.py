"""The OLP message envelope shared by the MQTT and HTTP bindings (envelope.json)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, model_validator

from gateway.errors import ErrorCode
from gateway.wire.base import UtcDateTime, WireModel


class MessageKind(StrEnum):
    CALL = "call"
    RESULT = "result"
    ERROR = "error"
    EVENT = "event"


class EnvelopeError(WireModel):
    code: ErrorCode
    description: str
    details: dict[str, Any] = Field(default_factory=dict)


class Envelope(WireModel):
    olp: Literal["1.0"] = "1.0"
    id: str
    kind: MessageKind
    action: str
    corr: str | None = None
    ts: UtcDateTime
    exp: UtcDateTime | None = None
    src: str
    seq: int
    # The journal number of a locker's event (SPEC §9 "Event order and reconciliation").
    event_seq: int | None = Field(default=None, alias="eventSeq")
    payload: dict[str, Any] = Field(default_factory=dict)
    error: EnvelopeError | None = None

    @model_validator(mode="after")
    def _mirror_schema_rules(self) -> Envelope:
        # envelope.json expresses these with if/then; repeated so built messages obey too.
        if self.kind is MessageKind.ERROR and (self.error is None or self.corr is None):
            raise ValueError("an error message needs error and corr")
        if self.kind is not MessageKind.ERROR and self.error is not None:
            raise ValueError("only an error message carries error")
        if self.kind is MessageKind.RESULT and self.corr is None:
            raise ValueError("a result needs corr, the id of its call")
        return self
