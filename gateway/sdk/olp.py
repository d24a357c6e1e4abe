"""The OLP v1 message codec for adapters: build envelopes, and check received ones against
the published schemas (validators compiled once, when the codec is made)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gateway.errors import ErrorCode, FieldIssue, MalformedMessage
from gateway.spec import Spec
from gateway.wire.base import WireModel
from gateway.wire.catalog import message_schema
from gateway.wire.envelope import EnvelopeError, MessageKind
from gateway.wire.olp_messages import make_envelope

MAX_MESSAGE_BYTES = 64 * 1024

__all__ = ["MAX_MESSAGE_BYTES", "MessageKind", "OlpCodec"]


class OlpCodec:
    """Encodes and checks OLP envelopes for adapters of OLP-speaking lockers."""

    def __init__(self, *, spec: Spec, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self._spec = spec
        self.max_bytes = max_bytes

    @classmethod
    def load(cls, max_bytes: int = MAX_MESSAGE_BYTES) -> OlpCodec:
        return cls(spec=Spec.load(), max_bytes=max_bytes)

    def decode(self, raw: bytes) -> dict[str, Any]:
        """One received message, checked: size, JSON, envelope and the action's payload.

        Raises MalformedMessage (not JSON, too large) or ValidationFailed (schema).
        """
        if len(raw) > self.max_bytes:
            raise MalformedMessage(f"message of {len(raw)} bytes exceeds {self.max_bytes}")
        try:
            message = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise MalformedMessage(f"message is not JSON: {err}") from err
        self._spec.validate("envelope", message)
        try:
            kind = MessageKind(message["kind"])
        except ValueError as err:  # pragma: no cover - the envelope schema checked it
            raise MalformedMessage(str(err)) from err
        schema = message_schema(kind, str(message["action"]))
        if schema is not None:
            self._spec.validate(schema, message)
        return dict(message)

    @staticmethod
    def call_id(raw: bytes) -> str | None:
        """The id of a message that failed to decode, if one can be read (to address an
        error reply); None when even that is impossible."""
        try:
            message = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        if isinstance(message, dict) and message.get("kind") == "call":
            ident = message.get("id")
            if isinstance(ident, str) and 0 < len(ident) <= 36:
                return ident
        return None

    @staticmethod
    def encode(message: Mapping[str, Any]) -> bytes:
        return json.dumps(message, separators=(",", ":")).encode()

    @staticmethod
    def build(
        kind: MessageKind,
        action: str,
        payload: WireModel | Mapping[str, Any] | None,
        *,
        src: str,
        seq: int,
        corr: str | None = None,
        exp: datetime | None = None,
        ts: datetime | None = None,
    ) -> dict[str, Any]:
        return make_envelope(kind, action, payload, src=src, seq=seq, corr=corr, exp=exp, ts=ts)

    @staticmethod
    def error_reply(
        *,
        corr: str,
        action: str,
        code: ErrorCode,
        description: str,
        src: str,
        seq: int,
        issues: tuple[FieldIssue, ...] = (),
    ) -> dict[str, Any]:
        details = {"errors": [dump_issue(i) for i in issues]} if issues else {}
        error = EnvelopeError(code=code, description=description[:512], details=details)
        return make_envelope(
            MessageKind.ERROR, action, None, src=src, seq=seq, corr=corr, error=error
        )


def dump_issue(issue: FieldIssue) -> dict[str, str]:
    return {"pointer": issue.pointer, "detail": issue.detail}
