"""OlpAdapter: the gateway side of the OLP MQTT binding for lockers that speak OLP natively.

The receive loop never waits: replies resolve their caller's future at once, everything else
goes to a queue per locker, worked off by that locker's own task, so one slow locker (or a
slow database answer to its Boot) never holds up another.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
from collections.abc import AsyncIterator
from datetime import datetime
from types import TracebackType
from typing import Any, ClassVar, Self

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from adapters.olp.config import OlpConfig
from adapters.olp.journal import journal_report, replay_report
from adapters.olp.mapping import boot_info, compartments_from_state, event_from, timestamp
from gateway.sdk import (
    AdapterConfig,
    AdapterConfigError,
    AdapterConnectionError,
    AdapterFeatures,
    AdapterHost,
    AdapterProtocolError,
    AdapterTimeout,
    BootStatus,
    LockerEvent,
    LockerNotConnected,
    LockerStatus,
    OpenOutcome,
    OpenPurpose,
    PresenceChanged,
    ReplayReport,
)
from gateway.sdk.errors import (
    ErrorCode,
    FieldIssue,
    MalformedMessage,
    OpenLockerError,
)
from gateway.sdk.errors import ValidationFailed as SchemaViolation
from gateway.sdk.keys import KeySet
from gateway.sdk.mqtt import (
    ConnectionOptions,
    Deduper,
    MqttConnection,
    PendingCalls,
    SequenceTracker,
    client_context,
    stop_task,
    topics,
)
from gateway.sdk.olp import MessageKind, OlpCodec

log = logging.getLogger(__name__)
Channel = topics.Channel


class OlpAdapter:
    name: ClassVar[str] = "olp"
    features: ClassVar[AdapterFeatures] = (
        AdapterFeatures.DOOR_SENSOR
        | AdapterFeatures.ITEM_SENSOR
        | AdapterFeatures.KEYPAD
        | AdapterFeatures.PRESENCE
        | AdapterFeatures.SET_AVAILABILITY
        | AdapterFeatures.DISPLAY
        | AdapterFeatures.EVENT_REPLAY
        | AdapterFeatures.OFFLINE_GRANTS
    )
    # Declared as the Protocol declares it (ClassVars are invariant), so OlpAdapter type-checks
    # as a LockerAdapter.
    config_model: ClassVar[type[AdapterConfig]] = OlpConfig

    def __init__(self, *, config: OlpConfig, host: AdapterHost, codec: OlpCodec | None = None):
        self._config = config
        self._host = host
        self._codec = codec or OlpCodec.load(config.max_message_bytes)
        self._src = f"gw:{config.instance}"
        self._seq = itertools.count()
        self._pending = PendingCalls()
        self._dedupe = Deduper()
        self._gaps = SequenceTracker()
        self._events: asyncio.Queue[LockerEvent] = asyncio.Queue()
        self._inbox: dict[str, asyncio.Queue[tuple[topics.TopicInfo, bytes]]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._booted: set[str] = set()
        self._status: dict[str, LockerStatus] = {}
        self._connection: MqttConnection | None = None

    # ---- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        options = ConnectionOptions(
            address=self._config.broker_address(),
            client_id=f"openlocker-{self._config.instance}",
            protocol_version=self._config.protocol_version,
            subscriptions=topics.gateway_subscriptions(
                self._config.instance, shared_events=self._config.shared_subscriptions
            ),
            tls_context=await self._tls_context(),
        )
        self._connection = MqttConnection(options=options, on_message=self._receive)
        await self._connection.__aenter__()
        try:
            await self._connection.wait_connected(self._config.connect_timeout_s)
        except OpenLockerError:
            # Keep trying in the background: lockers come and go, so does the broker. The
            # address only: the URL may carry the password.
            address = options.address
            where = f"{'mqtts' if address.tls else 'mqtt'}://{address.host}:{address.port}"
            log.warning("MQTT broker not reachable yet at %s; retrying", where)
        return self

    async def _tls_context(self) -> ssl.SSLContext | None:
        """The TLS context from the configured files, built (and checked) before connecting."""
        files = self._config.tls_files()
        if not files.configured:
            return None  # mqtts:// without files: the system's trust store
        try:
            # Reading certificate files is disk I/O: keep it off the event loop.
            return await asyncio.to_thread(client_context, files)
        except SchemaViolation as err:
            raise AdapterConfigError(err.description) from err

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for task in self._workers.values():
            await stop_task(task)
        self._pending.fail_all(AdapterConnectionError("the olp adapter is stopping"))
        if self._connection is not None:
            await self._connection.__aexit__(exc_type, exc, tb)

    # ---- the adapter contract ------------------------------------------------------------

    async def open_compartment(
        self,
        locker_id: str,
        compartment_code: str,
        *,
        purpose: OpenPurpose,
        deadline: datetime,
    ) -> OpenOutcome:
        if not await self._is_booted(locker_id):
            raise LockerNotConnected(f"locker {locker_id} is offline or has not booted")
        payload = {"compartmentCode": compartment_code, "purpose": purpose.value}
        reply = await self._call(locker_id, "OpenCompartment", payload, deadline)
        return OpenOutcome(reply["payload"]["outcome"])

    async def display(self, locker_id: str, message: str, deadline: datetime) -> None:
        """Show a message on the locker's screen or keypad (feature DISPLAY)."""
        await self._call(locker_id, "Display", {"message": message}, deadline)

    async def replay_events(
        self, locker_id: str, after_seq: int, deadline: datetime
    ) -> ReplayReport:
        """Have the locker publish its journaled events after `after_seq` again (SPEC §9)."""
        if not await self._is_booted(locker_id):
            raise LockerNotConnected(f"locker {locker_id} is offline or has not booted")
        reply = await self._call(locker_id, "ReplayEvents", {"afterSeq": after_seq}, deadline)
        return replay_report(after_seq, reply["payload"])

    async def push_key_set(self, locker_id: str, key_set: KeySet, deadline: datetime) -> None:
        """Install the network's key set (feature OFFLINE_GRANTS); returns once it is confirmed."""
        if not await self._is_booted(locker_id):
            raise LockerNotConnected(f"locker {locker_id} is offline or has not booted")
        keys = [dict(jwk) for jwk in key_set.keys]
        if any(not _public_ed25519(jwk) for jwk in keys):
            # Never let a private key (or a foreign one) onto the wire, whoever built the set.
            raise AdapterProtocolError(f"key set {key_set.version} holds a non-public key")
        payload = {"version": key_set.version, "issuer": key_set.issuer, "keys": keys}
        reply = await self._call(locker_id, "SetKeySet", payload, deadline)
        result = reply["payload"]
        if result["status"] != "Accepted":
            raise AdapterProtocolError(
                f"locker {locker_id} rejected key set {key_set.version} "
                f"(it holds {result.get('version')}): {result.get('reason')}"
            )

    async def read_status(self, locker_id: str) -> LockerStatus:
        known = self._status.get(locker_id)
        booted = locker_id in self._booted
        if known is None:
            return LockerStatus(locker_id=locker_id, online=False, booted=booted)
        return LockerStatus(
            locker_id=locker_id,
            online=known.online,
            booted=booted,
            compartments=known.compartments,
            firmware=known.firmware,
            last_seen=known.last_seen,
        )

    async def events(self) -> AsyncIterator[LockerEvent]:
        while True:
            yield await self._events.get()

    # ---- commands ------------------------------------------------------------------------

    async def _call(
        self, locker_id: str, action: str, payload: dict[str, Any], deadline: datetime
    ) -> dict[str, Any]:
        assert self._connection is not None
        message = self._codec.build(
            MessageKind.CALL, action, payload, src=self._src, seq=next(self._seq), exp=deadline
        )
        remaining = (deadline - self._host.now()).total_seconds()
        if remaining <= 0:
            raise AdapterTimeout(f"{action} for {locker_id}: deadline already passed")
        future = self._pending.expect(message["id"])
        try:
            await self._connection.publish(
                topics.command(locker_id, action),
                self._codec.encode(message),
                properties=self._call_properties(locker_id, message["id"], remaining),
                timeout_s=remaining,
            )
        except OpenLockerError as err:
            # Broker unreachable. Should the call have gone out after all, its `exp` (the
            # deadline) stops the locker from acting on it late.
            self._pending.forget(message["id"])
            raise AdapterConnectionError(f"{action} for {locker_id}: {err.description}") from err
        try:
            reply = await self._pending.wait(message["id"], future, remaining)
        except OpenLockerError as err:
            raise AdapterTimeout(f"{action} for {locker_id}: {err.description}") from err
        if reply["kind"] == MessageKind.ERROR:
            error = reply.get("error", {})
            raise AdapterProtocolError(
                f"{action} refused by locker {locker_id}: "
                f"{error.get('code')}: {error.get('description')}"
            )
        return reply

    def _call_properties(self, locker_id: str, call_id: str, ttl_s: float) -> Properties | None:
        if self._config.protocol_version != 5:
            return None
        properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        properties.CorrelationData = call_id.encode()
        properties.ResponseTopic = topics.gateway_reply(self._config.instance, locker_id)
        properties.MessageExpiryInterval = max(1, int(ttl_s))
        return properties

    # ---- receiving -----------------------------------------------------------------------

    def _receive(self, message: aiomqtt.Message) -> None:
        """Runs in the MQTT receive loop: classify and hand on, never wait."""
        info = topics.parse(str(message.topic))
        raw = message.payload if isinstance(message.payload, bytes) else b""
        if info is None:
            log.warning("ignoring message on foreign topic %s", message.topic)
            return
        if info.channel is Channel.GATEWAY_REPLY:
            self._resolve_reply(info, raw)
            return
        if info.channel in (Channel.COMMAND, Channel.LOCKER_REPLY):
            return  # our own traffic, if a broker echoes it
        queue = self._inbox.get(info.locker_id)
        if queue is None:
            queue = self._inbox[info.locker_id] = asyncio.Queue()
            self._workers[info.locker_id] = asyncio.get_running_loop().create_task(
                self._work(info.locker_id, queue), name=f"olp:{info.locker_id}"
            )
        queue.put_nowait((info, raw))

    def _resolve_reply(self, info: topics.TopicInfo, raw: bytes) -> None:
        try:
            reply = self._codec.decode(raw)
        except OpenLockerError as err:
            log.warning("bad reply from %s: %s", info.locker_id, err)
            return
        if reply.get("src") != info.locker_id:
            log.warning("reply on %s's topic claims src %r", info.locker_id, reply.get("src"))
            return
        if not self._pending.resolve(reply):
            log.info("late or unknown reply %s from %s", reply.get("corr"), info.locker_id)

    async def _work(
        self, locker_id: str, queue: asyncio.Queue[tuple[topics.TopicInfo, bytes]]
    ) -> None:
        while True:
            info, raw = await queue.get()
            try:
                await self._handle(info, raw)
            except Exception:
                # One bad message must never stop a locker's worker, let alone the gateway.
                log.exception("error handling %s message from %s", info.channel, locker_id)

    async def _handle(self, info: topics.TopicInfo, raw: bytes) -> None:
        try:
            message = self._codec.decode(raw)
        except (MalformedMessage, SchemaViolation) as err:
            await self._refuse(info, raw, ErrorCode.FORMAT_VIOLATION, err.description, err.issues)
            return
        if message["src"] != info.locker_id:
            await self._refuse(
                info, raw, ErrorCode.SECURITY_ERROR, "src does not match the topic's locker", ()
            )
            return
        # Journaled events are deduped by `eventSeq` in the database: a replay reuses their ids.
        journaled = info.channel is Channel.EVENT and "eventSeq" in message
        if not journaled and not self._dedupe.first_time(message["src"], message["id"]):
            return
        missing = self._gaps.observe(message["src"], int(message["seq"]))
        if missing:
            log.info(
                "locker %s: %d message(s) missing before seq %s",
                info.locker_id,
                missing,
                message["seq"],
            )
        if info.channel in (Channel.STATUS, Channel.STATE):
            await self._presence(info, message)
        elif info.channel is Channel.REQUEST:
            await self._request(info, message)
        elif info.channel is Channel.EVENT:
            await self._event(info, message)

    async def _presence(self, info: topics.TopicInfo, message: dict[str, Any]) -> None:
        locker_id = info.locker_id
        payload = message.get("payload", {})
        known = self._status.get(locker_id) or LockerStatus(locker_id, False, False)
        if message["action"] == "Status":
            online = bool(payload.get("online"))
            if not online:
                self._booted.discard(locker_id)
            self._status[locker_id] = LockerStatus(
                locker_id,
                online,
                locker_id in self._booted,
                known.compartments,
                known.firmware,
                timestamp(message),
            )
            event = event_from(locker_id, message)
            if isinstance(event, PresenceChanged):
                await self._events.put(event)
        elif message["action"] == "State":
            self._status[locker_id] = LockerStatus(
                locker_id,
                known.online,
                known.booted,
                compartments_from_state(payload),
                payload.get("firmware"),
                timestamp(message),
            )

    async def _request(self, info: topics.TopicInfo, message: dict[str, Any]) -> None:
        if self._expired(message):
            log.warning("dropping expired %s call from %s", message["action"], info.locker_id)
            return
        action = message["action"]
        if action == "Boot":
            decision = await self._host.authorize_boot(
                info.locker_id, boot_info(message["payload"])
            )
            if decision.status is BootStatus.ACCEPTED:
                self._booted.add(info.locker_id)
            result: dict[str, Any] = {
                "status": decision.status.value,
                "heartbeatIntervalSeconds": decision.heartbeat_interval_s,
                "currentTime": _iso(self._host.now()),
            }
            if decision.reason:
                result["reason"] = decision.reason
            await self._reply(info.locker_id, message, result)
            if decision.status is BootStatus.ACCEPTED:
                await self._report_journal(info.locker_id, message, at_boot=True)
        elif not await self._is_booted(info.locker_id):
            await self._refuse_call(
                info.locker_id, message, ErrorCode.SECURITY_ERROR, "Boot first", ()
            )
        elif action == "Heartbeat":
            await self._reply(info.locker_id, message, {"currentTime": _iso(self._host.now())})
            await self._report_journal(info.locker_id, message, at_boot=False)
        else:
            await self._refuse_call(
                info.locker_id, message, ErrorCode.NOT_SUPPORTED, f"unknown call {action}", ()
            )

    async def _event(self, info: topics.TopicInfo, message: dict[str, Any]) -> None:
        if not await self._is_booted(info.locker_id):
            log.warning("ignoring %s from %s: it has not booted", message["action"], info.locker_id)
            return
        event = event_from(info.locker_id, message)
        if event is None:
            log.info("ignoring unknown event %s from %s", message["action"], info.locker_id)
            return
        await self._events.put(event)

    async def _report_journal(self, locker_id: str, call: dict[str, Any], *, at_boot: bool) -> None:
        # Queued behind the locker's earlier events, so the gateway compares `lastEventSeq`
        # with its mark only once everything received before this call has been processed.
        report = journal_report(locker_id, call, at_boot=at_boot)
        if report is not None:
            await self._events.put(report)

    async def _is_booted(self, locker_id: str) -> bool:
        if locker_id in self._booted:
            return True
        # Another instance may have answered this locker's Boot: the database knows.
        if await self._host.is_booted(locker_id):
            self._booted.add(locker_id)
            return True
        return False

    def _expired(self, message: dict[str, Any]) -> bool:
        exp = message.get("exp")
        if not exp:
            return False
        return datetime.fromisoformat(str(exp).replace("Z", "+00:00")) < self._host.now()

    # ---- replies -------------------------------------------------------------------------

    async def _reply(self, locker_id: str, call: dict[str, Any], payload: dict[str, Any]) -> None:
        assert self._connection is not None
        reply = self._codec.build(
            MessageKind.RESULT,
            call["action"],
            payload,
            src=self._src,
            seq=next(self._seq),
            corr=call["id"],
        )
        await self._connection.publish(topics.locker_reply(locker_id), self._codec.encode(reply))

    async def _refuse(
        self,
        info: topics.TopicInfo,
        raw: bytes,
        code: ErrorCode,
        description: str,
        issues: tuple[FieldIssue, ...],
    ) -> None:
        log.warning("refusing %s message from %s: %s", info.channel, info.locker_id, description)
        call_id = self._codec.call_id(raw)
        if info.channel is Channel.REQUEST and call_id is not None:
            call = {"id": call_id, "action": info.action or "Unknown"}
            await self._refuse_call(info.locker_id, call, code, description, issues)

    async def _refuse_call(
        self,
        locker_id: str,
        call: dict[str, Any],
        code: ErrorCode,
        description: str,
        issues: tuple[FieldIssue, ...],
    ) -> None:
        assert self._connection is not None
        error = self._codec.error_reply(
            corr=call["id"],
            action=call["action"],
            code=code,
            description=description,
            src=self._src,
            seq=next(self._seq),
            issues=issues,
        )
        await self._connection.publish(topics.locker_reply(locker_id), self._codec.encode(error))


_PUBLIC_JWK_MEMBERS = frozenset({"kty", "crv", "x", "kid", "alg", "use"})


def _public_ed25519(jwk: dict[str, Any]) -> bool:
    return (
        jwk.keys() <= _PUBLIC_JWK_MEMBERS
        and jwk.get("kty") == "OKP"
        and jwk.get("crv") == "Ed25519"
    )


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
