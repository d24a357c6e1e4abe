"""The OLP v1 message codec for adapters: build envelopes, and check received ones against
the published schemas (validators compiled once, when the codec is made).

The typed edge: `decode_message` checks a received message once, against the one schema of its
kind and action (which includes the envelope's rules), and hands back its pydantic model
(`gateway.sdk.olp_messages`); `result`, `command` and `error` build typed messages to `encode`.
The dict-based `decode` and `build` stay for adapters written against them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import uuid4

from pydantic import ValidationError

from gateway.clock import utc_now
from gateway.errors import ErrorCode, FieldIssue, MalformedMessage, ValidationFailed
from gateway.sdk.schemas import Schemas, load_schemas, pointer
from gateway.wire.base import WireModel
from gateway.wire.catalog import message_schema
from gateway.wire.envelope import EnvelopeError, MessageKind
from gateway.wire.olp_messages import (
    ErrorReply,
    OlpMessage,
    UnknownMessage,
    make_envelope,
    message_model,
)

MAX_MESSAGE_BYTES = 64 * 1024
# No OLP message nests deeper than a handful of levels; a deeper one is refused before the
# validators, whose recursion (and their error messages') a few hundred levels could exhaust.
MAX_NESTING = 32
# envelope.json#/$defs/MessageId: what an error reply can echo as its `corr`.
_MESSAGE_ID = re.compile(r"[!-~]{1,36}")

__all__ = ["MAX_MESSAGE_BYTES", "MessageKind", "OlpCodec"]


class OlpCodec:
    """Encodes and checks OLP envelopes for adapters of OLP-speaking lockers."""

    def __init__(self, *, spec: Schemas, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self._spec = spec
        self.max_bytes = max_bytes

    @classmethod
    def load(cls, max_bytes: int = MAX_MESSAGE_BYTES) -> OlpCodec:
        return cls(spec=load_schemas(), max_bytes=max_bytes)

    def decode_message(self, raw: bytes) -> OlpMessage:
        """One received message, checked once and typed: its (kind, action) model, or
        `UnknownMessage` for an action OLP v1 lacks (checked against the envelope only).

        Raises MalformedMessage (not JSON, too large) or ValidationFailed (schema).
        """
        data = self._parse(raw)
        schema, model = _schema_and_model(data)
        try:
            self._spec.validate(schema, data)
        except ValidationFailed:
            if schema != "envelope":
                # Rare path: name the envelope's fault when it has one (a clearer message).
                self._spec.validate("envelope", data)
            raise
        try:
            return model.model_validate(data)
        except ValidationError as err:
            # The schema passed it, so the model drifted from it (tests/adapters guard this).
            raise ValidationFailed(
                f"invalid {schema}: {err.errors()[0]['msg']}", issues=_issues(err)
            ) from err

    def decode(self, raw: bytes) -> dict[str, Any]:
        """One received message, checked: size, JSON, envelope and the action's payload.

        Raises MalformedMessage (not JSON, too large) or ValidationFailed (schema).
        """
        message = self._parse(raw)
        self._spec.validate("envelope", message)
        try:
            kind = MessageKind(message["kind"])
        except ValueError as err:  # pragma: no cover - the envelope schema checked it
            raise MalformedMessage(str(err)) from err
        schema = message_schema(kind, str(message["action"]))
        if schema is not None:
            self._spec.validate(schema, message)
        return dict(message)

    def _parse(self, raw: bytes) -> Any:
        if len(raw) > self.max_bytes:
            raise MalformedMessage(f"message of {len(raw)} bytes exceeds {self.max_bytes}")
        try:
            data = json.loads(raw)
        except RecursionError:
            # `[` x 30,000 fits in a message and outruns the parser's stack: a format fault.
            raise MalformedMessage("message is not JSON: nested too deeply") from None
        except ValueError as err:  # JSONDecodeError, UnicodeDecodeError, the int digit limit
            raise MalformedMessage(f"message is not JSON: {err}") from err
        if _nesting(data) > MAX_NESTING:
            raise MalformedMessage(f"message nested too deeply (over {MAX_NESTING} levels)")
        return data

    @staticmethod
    def call_id(raw: bytes) -> str | None:
        """The id of a message that failed to decode, if one can be read (to address an
        error reply); None when even that is impossible."""
        try:
            message = json.loads(raw)
        except (RecursionError, ValueError):
            return None
        if isinstance(message, dict) and message.get("kind") == "call":
            ident = message.get("id")
            # The envelope's MessageId, or the reply's `corr` would break its own schema.
            if isinstance(ident, str) and _MESSAGE_ID.fullmatch(ident):
                return ident
        return None

    @staticmethod
    def encode(message: WireModel | Mapping[str, Any]) -> bytes:
        if isinstance(message, WireModel):
            return message.model_dump_json().encode()
        return json.dumps(message, separators=(",", ":")).encode()

    @staticmethod
    def result(
        call: OlpMessage, payload: WireModel, *, src: str, seq: int, ts: datetime | None = None
    ) -> OlpMessage:
        """The typed result of `call` (its action's result model checks `payload`)."""
        model = message_model(MessageKind.RESULT, call.action)
        if model is None:
            raise ValueError(f"OLP v1 defines no result of {call.action}")
        return model.model_validate(
            {
                "id": str(uuid4()),
                "corr": call.id,
                "ts": ts or utc_now(),
                "src": src,
                "seq": seq,
                "payload": payload,
            }
        )

    @staticmethod
    def command(
        action: str,
        payload: WireModel,
        *,
        src: str,
        seq: int,
        exp: datetime,
        ts: datetime | None = None,
    ) -> OlpMessage:
        """A typed call of the gateway to a locker; `exp` is required: a late open is a hole."""
        model = message_model(MessageKind.CALL, action)
        if model is None:
            raise ValueError(f"OLP v1 defines no call {action}")
        return model.model_validate(
            {
                "id": str(uuid4()),
                "ts": ts or utc_now(),
                "exp": exp,
                "src": src,
                "seq": seq,
                "payload": payload,
            }
        )

    @staticmethod
    def error(
        *,
        corr: str,
        action: str,
        code: ErrorCode,
        description: str,
        src: str,
        seq: int,
        issues: tuple[FieldIssue, ...] = (),
        ts: datetime | None = None,
    ) -> ErrorReply:
        """A typed error reply to the call `corr` (SPEC §5 codes; `issues` name the fields)."""
        details = {"errors": [dump_issue(i) for i in issues]} if issues else {}
        return ErrorReply(
            id=str(uuid4()),
            corr=corr,
            action=action,
            ts=ts or utc_now(),
            src=src,
            seq=seq,
            error=EnvelopeError(code=code, description=description[:512], details=details),
        )

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


def dump_issue(issue: FieldIssue) -> dict[str, str]:
    return {"pointer": issue.pointer, "detail": issue.detail}


def _schema_and_model(data: Any) -> tuple[str, type[OlpMessage]]:
    """The one schema a received message is checked against, and its model."""
    if isinstance(data, dict):
        kind, action = data.get("kind"), data.get("action")
        # Type first: a list or object `kind` is unhashable, and the set lookup would raise
        # TypeError past the refusal (found by tests/fuzz/mqtt).
        if isinstance(kind, str) and kind in _KINDS and isinstance(action, str):
            schema = message_schema(MessageKind(kind), action)
            model = message_model(MessageKind(kind), action)
            if schema is not None and model is not None:
                return schema, model
    # An action OLP v1 lacks, or no kind/action at all: the envelope says what is wrong.
    return "envelope", UnknownMessage


_KINDS = frozenset(MessageKind)


def _issues(err: ValidationError) -> tuple[FieldIssue, ...]:
    return tuple(FieldIssue(pointer=pointer(e["loc"]), detail=e["msg"]) for e in err.errors())


def _nesting(data: Any) -> int:
    """How deep `data` nests arrays and objects (iterative: no recursion limit of its own)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return deepest
