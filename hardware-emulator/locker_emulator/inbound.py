"""What a locker receives: decoding, validation, dedupe, expiry, then the command itself."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, Protocol

import aiomqtt
from paho.mqtt.properties import Properties

from locker_emulator import physics
from locker_emulator.locker_state import LockerModel, UnknownCompartment, monotonic
from locker_emulator.messages import (
    COMMAND_ACTIONS,
    MAX_MESSAGE_BYTES,
    Command,
    Display,
    ErrorCode,
    HardwareCommand,
    Kind,
    OpenCompartment,
    PayloadError,
    ReplayEvents,
    SetAvailability,
    SetKeySet,
    check_text,
    envelope,
    error_body,
    format_ts,
    gateway_instance,
    is_action,
    is_message_id,
    parse_command,
    parse_ts,
)
from locker_emulator.root_trust import SignatureRefused, verify_key_set
from locker_emulator.spec import ReplyCheck, Spec
from locker_emulator.transport import MqttVersion, correlation_of, reply_properties

logger = logging.getLogger("locker_emulator.locker")
# Beyond this a message is not even parsed: a locker has little RAM and must not be DoS'ed.
_PARSE_LIMIT = 1024 * 1024
# The dedupe memory is bounded too: past this many ids in the window, the oldest are forgotten.
_SEEN_LIMIT = 100_000


class Publish(Protocol):
    """How the inbound side sends a reply: the locker's own validated, seq-stamping publish."""

    def __call__(
        self,
        client: aiomqtt.Client,
        topic: str,
        body: dict[str, Any],
        *,
        retain: bool = False,
        properties: Properties | None = None,
    ) -> Coroutine[Any, Any, bool]: ...


class Inbound:
    """Handles each message the locker receives, without ever blocking the receive loop."""

    def __init__(
        self,
        *,
        model: LockerModel,
        spec: Spec,
        mqtt_version: MqttVersion,
        dedupe_window: float,
        accepted: asyncio.Event,
        pending: dict[str, asyncio.Future[dict[str, Any]]],
        publish: Publish,
        replies: ReplyCheck | None = None,
    ) -> None:
        self.model = model
        self.locker_id = model.locker_id
        self.mqtt_version = mqtt_version
        self._spec = spec
        self._replies = replies or ReplyCheck(spec)
        self._topics = model.topics
        self._dedupe_window = dedupe_window
        self._accepted = accepted
        self._pending = pending
        self._publish = publish
        self._seen: dict[tuple[str, str], float] = {}
        self._last_seq: dict[str, int] = {}

    def handle(
        self, client: aiomqtt.Client, tg: asyncio.TaskGroup, message: aiomqtt.Message
    ) -> None:
        """Route one message: a command, a reply to one of our calls, or noise."""
        topic = message.topic.value
        raw = message.payload if isinstance(message.payload, bytes) else b""
        action = self._topics.command_action(topic)
        try:
            if action is not None:
                self._on_command(client, tg, topic, action, raw, correlation_of(message))
            elif topic == self._topics.res:
                self._on_reply(topic, raw)
            else:
                self.model.record("received", topic, raw[:200], "not a topic of this locker")
        except Exception:
            # Never let one message take the locker down.
            logger.exception("%s: failed to handle a message on %s", self.locker_id, topic)

    def _decode(self, topic: str, raw: bytes) -> tuple[bool, object]:
        """(True, the JSON value), or (False, None) after logging why it is not JSON."""
        if len(raw) > _PARSE_LIMIT:
            self._drop(topic, None, f"{len(raw)} bytes: far too large to parse")
            return False, None
        try:
            decoded: object = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as err:
            self._drop(topic, raw[:200], f"not JSON: {err}")
            return False, None
        return True, decoded

    def _drop(self, topic: str, message: object, why: str) -> None:
        logger.warning("%s: dropped message on %s: %s", self.locker_id, topic, why)
        self.model.record("received", topic, message, f"dropped: {why}")

    def _first_time(self, message: dict[str, Any]) -> bool:
        now = monotonic()
        while self._seen:
            oldest = next(iter(self._seen))
            if now - self._seen[oldest] < self._dedupe_window and len(self._seen) < _SEEN_LIMIT:
                break
            del self._seen[oldest]
        key = (message["src"], message["id"])
        if key in self._seen:
            return False
        self._seen[key] = now
        last = self._last_seq.get(message["src"])
        if last is not None and message["seq"] != last + 1:
            logger.info(
                "%s: seq gap from %s: %d after %d",
                self.locker_id,
                message["src"],
                message["seq"],
                last,
            )
        self._last_seq[message["src"]] = message["seq"]
        return True

    def _on_reply(self, topic: str, raw: bytes) -> None:
        decoded, message = self._decode(topic, raw)
        if not decoded:
            return
        problems = self._replies.envelope_problems(message)
        if problems or not isinstance(message, dict):
            self._drop(topic, message, f"invalid envelope: {'; '.join(problems)}")
            return
        if message["kind"] not in (Kind.RESULT, Kind.ERROR):
            self._drop(topic, message, f"a {message['kind']} on the reply topic")
            return
        if not self._first_time(message):
            self._drop(topic, message, "duplicate")
            return
        problems = self._replies.message_problems(message)
        if problems:
            self._drop(topic, message, f"invalid {message['action']} reply: {'; '.join(problems)}")
            return
        future = self._pending.get(message["corr"])
        if future is None or future.done():
            self._drop(topic, message, "answers no pending call")
            return
        self.model.record("received", topic, message)
        future.set_result(message)

    def _on_command(
        self,
        client: aiomqtt.Client,
        tg: asyncio.TaskGroup,
        topic: str,
        topic_action: str,
        raw: bytes,
        correlation: bytes | None,
    ) -> None:
        received = datetime.now(UTC)
        decoded, message = self._decode(topic, raw)
        if not decoded:
            return

        def refuse(code: ErrorCode, why: str, details: dict[str, Any] | None = None) -> None:
            self._refuse(client, tg, topic, topic_action, message, code, why, details, correlation)

        if len(raw) > MAX_MESSAGE_BYTES:
            refuse(
                ErrorCode.FORMAT_VIOLATION,
                f"message is {len(raw)} bytes; at most {MAX_MESSAGE_BYTES}",
            )
            return
        problems = self._spec.envelope_problems(message)
        if problems or not isinstance(message, dict):
            refuse(ErrorCode.FORMAT_VIOLATION, "invalid envelope", {"problems": problems})
            return
        if not self._first_time(message):
            self._drop(topic, message, f"duplicate of ({message['src']}, {message['id']})")
            return
        if message["kind"] != Kind.CALL:
            self._drop(topic, message, f"a {message['kind']} on a command topic")
            return
        if "exp" not in message:
            refuse(ErrorCode.FORMAT_VIOLATION, "a command must carry exp")
            return
        if self.model.lose_commands.get(topic_action, 0) > 0:
            self.model.lose_commands[topic_action] -= 1
            self._drop(topic, message, "lost on the way in (lose_next_commands)")
            return
        exp = parse_ts(message["exp"])
        if received > exp:
            # SPEC §9: a late "open" is a physical security hole; no reply either.
            self._drop(topic, message, f"received after exp ({message['exp']})")
            return
        action = message["action"]
        if action != topic_action:
            refuse(
                ErrorCode.FORMAT_VIOLATION, f"envelope action {action} on topic cmd/{topic_action}"
            )
            return
        if gateway_instance(message["src"]) is None:
            self._drop(
                topic, message, f"src {message['src']!r} is not gw:{{instance}}: nowhere to reply"
            )
            return
        if not self._accepted.is_set():
            # Boot gating: until Accepted the locker sends nothing but Boot, so not even an error.
            self._drop(topic, message, "Boot not accepted yet")
            return
        if action not in COMMAND_ACTIONS:
            refuse(ErrorCode.NOT_SUPPORTED, f"this locker does not support {action}")
            return
        payload = message.get("payload")
        if action == "SetKeySet" and isinstance(payload, dict) and "signature" not in payload:
            # Before the schema (which requires it): a missing signature is a security matter.
            refuse(ErrorCode.SECURITY_ERROR, "SetKeySet refused: the key set is not signed")
            return
        problems = self._spec.message_problems(message)
        if problems:
            refuse(ErrorCode.FORMAT_VIOLATION, f"invalid {action} call", {"problems": problems})
            return
        try:
            command = parse_command(action, message["payload"])
        except PayloadError as err:
            refuse(ErrorCode.FORMAT_VIOLATION, f"invalid {action} payload: {err}")
            return
        if isinstance(command, SetKeySet):
            try:
                verify_key_set(self.model.root_key, command.payload, self.locker_id)
            except SignatureRefused as err:
                # SPEC §9: the locker keeps the set it holds; the sender learns why.
                self.model.counters.key_sets_refused += 1
                logger.warning("%s: SetKeySet refused: %s", self.locker_id, err)
                refuse(ErrorCode.SECURITY_ERROR, f"SetKeySet refused: {err}")
                return
        self.model.record("received", topic, message)
        tg.create_task(
            self._execute(client, message, command, exp, correlation),
            name=f"{self.locker_id}-{action}-{message['id']}",
        )

    def _refuse(
        self,
        client: aiomqtt.Client,
        tg: asyncio.TaskGroup,
        topic: str,
        topic_action: str,
        message: object,
        code: ErrorCode,
        why: str,
        details: dict[str, Any] | None,
        correlation: bytes | None,
    ) -> None:
        """Answer a bad call with an `error`, or only log it when it cannot be answered."""
        fields = message if isinstance(message, dict) else {}
        instance = gateway_instance(fields.get("src"))
        action = fields.get("action") if is_action(fields.get("action")) else topic_action
        if (
            fields.get("kind") != Kind.CALL
            or not is_message_id(fields.get("id"))
            or instance is None
        ):
            self._drop(topic, message, f"{why} (cannot be answered)")
            return
        if not is_action(action):
            self._drop(topic, message, f"{why} (no usable action to answer)")
            return
        self.model.record("received", topic, message, f"refused: {code}: {why}")
        reply = envelope(
            kind=Kind.ERROR,
            action=str(action),
            src=self.locker_id,
            ts=self.model.now(),
            corr=str(fields["id"]),
            error=error_body(code, why, details),
        )
        props = reply_properties(self.mqtt_version, correlation)
        tg.create_task(
            self._publish(client, self._topics.gateway_res(instance), reply, properties=props),
            name=f"{self.locker_id}-refuse-{fields['id']}",
        )

    # ----- commands -----

    async def _execute(
        self,
        client: aiomqtt.Client,
        message: dict[str, Any],
        command: Command,
        exp: datetime,
        correlation: bytes | None,
    ) -> None:
        instance = gateway_instance(message["src"])
        assert instance is not None  # checked by _on_command
        topic = self._topics.gateway_res(instance)
        delay = self.model.faults.slow_replies
        if delay > 0:
            await asyncio.sleep(delay)
        if datetime.now(UTC) > exp:
            # Never act on a command whose window closed before the locker got to act on it:
            # checked here, at the moment of acting, not only on receipt (a busy controller
            # may act long after it received the command; found by tests/chaos).
            why = "slow_replies" if delay > 0 else "busy between receipt and action"
            self._drop(topic, message, f"exp passed while the locker was busy ({why})")
            return
        events: tuple[physics.Event, ...] = ()
        try:
            if isinstance(command, ReplayEvents):
                # The journaled events go out again before the result that counts them.
                payload = await self.model.journal.replay(
                    command.after_seq, lambda to, body: self._publish(client, to, body)
                )
            else:
                payload, events = self._perform(command)
            reply = envelope(
                kind=Kind.RESULT,
                action=message["action"],
                src=self.locker_id,
                ts=self.model.now(),
                corr=message["id"],
                payload=payload,
            )
        except UnknownCompartment as err:
            reply = envelope(
                kind=Kind.ERROR,
                action=message["action"],
                src=self.locker_id,
                ts=self.model.now(),
                corr=message["id"],
                error=error_body(ErrorCode.NOT_FOUND, str(err), {"compartmentCode": err.args[0]}),
            )
        # Queue what the hardware did at the moment it happened, before any await: a person
        # at the door may act as soon as it opens, and their DoorClosed must come after this
        # DoorOpened. Result and events travel on different topics (SPEC §9 "Door sessions").
        if events or isinstance(command, SetAvailability | SetKeySet):
            self.model.emit(events)
        if self.model.lose_replies > 0 and self.model.lose_replies_to in (None, message["action"]):
            self.model.lose_replies -= 1
            self.model.record("not-sent", topic, reply, "lost: fault lose_next_reply")
            self.model.touch()
            return
        await self._publish(
            client, topic, reply, properties=reply_properties(self.mqtt_version, correlation)
        )

    def _perform(
        self, command: HardwareCommand
    ) -> tuple[dict[str, Any], tuple[physics.Event, ...]]:
        """Act on the hardware now; the caller queues the events before it replies."""
        if isinstance(command, Display):
            self.model.display = {
                "message": str(command.message),
                "text": command.text,
                "at": format_ts(self.model.now()),
            }
            self.model.touch()
            return {}, ()
        if isinstance(command, SetKeySet):
            return self._install_key_set(command), ()
        comp = self.model.compartment(command.compartment_code)
        if isinstance(command, OpenCompartment):
            transition = physics.unlock(comp, now=monotonic())
            if transition.outcome in (
                physics.UnlockOutcome.UNLOCKED,
                physics.UnlockOutcome.DOOR_JAMMED,
            ):
                # The lock released (a jammed door released too, it just did not swing open).
                self.model.unlocks[comp.code] = self.model.unlocks.get(comp.code, 0) + 1
            self.model.compartments[comp.code] = transition.compartment
            self.model.purposes[comp.code] = str(command.purpose)
            if command.pickup_check is not None:
                # The screen asks the recipient for the check (staff or a kiosk verifies it).
                self.model.display = {
                    "message": "Info",
                    "text": f"{check_text(command.pickup_check)}. Compartment {comp.code}",
                    "pickupCheck": command.pickup_check,
                    "at": format_ts(self.model.now()),
                }
            elif self.model.display is not None and "pickupCheck" in self.model.display:
                # An earlier opening's check must not linger for the next person at the door.
                self.model.display = None
            self.model.touch()
            assert transition.outcome is not None
            return {
                "compartmentCode": comp.code,
                "outcome": str(transition.outcome),
            }, transition.events
        transition = physics.set_enabled(comp, command.available)
        self.model.compartments[comp.code] = transition.compartment
        self.model.touch()
        return {"compartmentCode": comp.code, "available": command.available}, ()

    def _install_key_set(self, command: SetKeySet) -> dict[str, Any]:
        """Install a key set (kept across reconnects and power loss, like the outbox)."""
        grants = self.model.grants
        try:
            # Checked again: an endorsed root rotation may have moved the pin meanwhile.
            root = verify_key_set(self.model.root_key, command.payload, self.locker_id)
        except SignatureRefused as err:
            return {"status": "Rejected", "version": grants.version, "reason": str(err)[:200]}
        accepted, reason = grants.install(command.version, command.issuer, command.keys)
        if accepted and self.model.root_key is not None and root.kid != self.model.root_key.kid:
            logger.info("%s: root key %s endorsed: pinned now", self.locker_id, root.kid)
            self.model.root_key = root
        self.model.touch()
        result: dict[str, Any] = {
            "status": "Accepted" if accepted else "Rejected",
            "version": grants.version,
        }
        if reason is not None:
            logger.warning("%s: key set %d rejected: %s", self.locker_id, command.version, reason)
            result["reason"] = reason[:200]
        else:
            logger.info("%s: key set version %s installed", self.locker_id, grants.version)
        return result
