"""OlpAdapter: the gateway side of the OLP MQTT binding for lockers that speak OLP natively.

One lane per locker (`gateway.sdk.LockerLanes`): the MQTT receive loop never waits. It
resolves replies to our commands at once, keeps the newest `State` snapshot of each locker
aside (checked only when read), and offers everything else to the locker's lane. The lane's
task decodes and validates each message once into its typed model, answers Boot and
Heartbeat, and hands each event to the gateway (`await host.locker_event(event)`) in the
locker's order. A slow locker (or a slow database answer to its Boot) holds up only itself.

A full lane refuses, never silently: a call is answered `Unavailable` (the locker retries it),
a journaled event is left in the locker's journal, and of the locker's presence (`Status`) only
the newest is kept. Once the lane has worked off what it held, the adapter reports the newest
refused event's `eventSeq` to the gateway, which asks for a replay: refused events come back a
lane's worth per round, back to back, not one round per Heartbeat. The host is told when such
an overload episode starts and ends (`gateway.sdk.telemetry.OverloadWatcher`).
A message larger than OLP allows never enters a lane: a lane bounds bytes as well as messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import ssl
import time
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, ClassVar, Self, TypeVar
from uuid import uuid4

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import ValidationError

from adapters.olp.boot_intake import BootIntake, IntakeStats, peek_boot
from adapters.olp.config import OlpConfig
from adapters.olp.drops import DropReason, Drops
from adapters.olp.journal import journal_report, replay_report
from adapters.olp.mapping import boot_info, event_from
from adapters.olp.snapshots import StateSnapshots
from gateway.sdk import (
    AdapterConfig,
    AdapterConfigError,
    AdapterConnectionError,
    AdapterFeatures,
    AdapterHost,
    AdapterProtocolError,
    AdapterTimeout,
    BootStatus,
    JournalReported,
    KeySetRefused,
    LaneStats,
    LockerLanes,
    LockerNotConnected,
    LockerStatus,
    OpenOutcome,
    OpenPurpose,
    PickupCheck,
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
    Deduper,
    MqttConnection,
    PendingCalls,
    SequenceTracker,
    client_context,
    topics,
)
from gateway.sdk.olp import OlpCodec
from gateway.sdk.olp_messages import (
    BootCall,
    BootResult,
    BootResultPayload,
    DisplayPayload,
    DisplayResult,
    ErrorReply,
    HeartbeatCall,
    HeartbeatResultPayload,
    KeySetStatus,
    OlpMessage,
    OpenCompartmentPayload,
    OpenCompartmentResult,
    PickupCheckWire,
    PublicJwk,
    ReplayEventsPayload,
    ReplayEventsResult,
    RootKeyLink,
    SetAvailabilityPayload,
    SetAvailabilityResult,
    SetKeySetPayload,
    SetKeySetResult,
    StatusEvent,
    UnknownMessage,
    WireModel,
)
from gateway.sdk.scan import ScanParcelCall, ScanQuery
from gateway.sdk.scan import result_payload as scan_result_payload
from gateway.sdk.telemetry import (
    BurstLog,
    command_span,
    correlated,
    message_timer,
    overload_watcher,
    trace_note,
    traceparent,
)

log = logging.getLogger(__name__)
Channel = topics.Channel
M = TypeVar("M", bound=OlpMessage)
# Error replies waiting to go out per locker while its lane is full. Beyond these the call goes
# unanswered, and the locker retries it after its own call timeout all the same.
BUSY_REPLIES = 8
# `Pending` replies to Boots turned away at receipt: this many publish at once (each waits for
# its PUBACK), each with up to PENDING_QUEUE waiting; beyond, a Boot goes unanswered.
PENDING_SENDERS = 16
# In a storm, how long an online Status of a locker not booted yet waits for its Boot at most
# (a Boot's usual `exp`): after that it is applied as it would have been.
STATUS_HOLD_S = 10.0
PENDING_QUEUE = 512
# envelope.json#/$defs/MessageId: what a reply can echo as its `corr`.
_MESSAGE_ID = re.compile(r"[!-~]{1,36}")


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message for a locker's lane, as received (decoded by the lane's task, not before).

    `raw` is empty for a `Status` or `Boot` marker: the newest one waits in the adapter's slot."""

    info: topics.TopicInfo
    raw: bytes
    # Not a message to handle: the newest journaled event the lane refused, queued by the lanes
    # once the lane drained (`_catch_up`); its `eventSeq` is reported to the gateway.
    catch_up: bool = False


@dataclass(frozen=True, slots=True)
class PendingBoot:
    """A Boot turned away at receipt: who is told `Pending`, for which call, how long to wait."""

    locker_id: str
    call_id: str
    wait_s: int


@dataclass(frozen=True, slots=True)
class Oversized:
    """A call larger than OLP allows, kept as the id its error reply needs, not as its bytes."""

    info: topics.TopicInfo
    call_id: str
    size: int


@dataclass(frozen=True, slots=True)
class _Presence:
    online: bool
    at: datetime


@dataclass(frozen=True, slots=True)
class OlpStats:
    """For logs, tests and fleet benchmarks."""

    lanes: LaneStats
    states_received: int
    states_checked: int
    too_large: int  # messages refused for their size (SPEC §9 Size), never queued
    calls_waiting: int  # our commands waiting for their locker's reply
    handled: int = 0  # lane items worked off (whatever their outcome)
    dropped: dict[str, int] = field(default_factory=dict)  # by DropReason, see drops.py


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
        | AdapterFeatures.PICKUP_CHECK
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
        self._pending: PendingCalls[OlpMessage] = PendingCalls()
        self._expired_log = BurstLog(log)
        self._dedupe = Deduper()
        self._gaps = SequenceTracker()
        watcher = overload_watcher(host)
        self._lanes: LockerLanes[Inbound] = LockerLanes(
            "olp",
            handler=self._handle,
            capacity=config.lane_capacity,
            on_overload=None if watcher is None else watcher.lane_overloaded,
            catch_up=self._catch_up,
        )
        # The newest journaled event of each locker that its full lane refused, until the lane
        # has drained and the gateway was told (`_catch_up`): one message per locker at most.
        self._refused_events: dict[str, Inbound] = {}
        self._busy: LockerLanes[Inbound | Oversized] = LockerLanes(
            "olp-busy", handler=self._answer_busy, capacity=BUSY_REPLIES
        )
        # Newest Status per locker not applied yet, and the lockers whose lane holds a marker
        # for it: a burst of presence changes costs one lane slot, and only the newest counts.
        self._status_slot: dict[str, Inbound] = {}
        self._status_marked: set[str] = set()
        # The same for Boot calls: a locker whose Boot went unanswered past its `exp` retries
        # it; the newer call replaces the older one still queued (whose reply nobody awaits),
        # so retries never pile up in a lane behind a slow database (bench/boot_storm.py).
        self._boot_slot: dict[str, Inbound] = {}
        # Boots answered `Pending` at receipt while the lanes are behind (boot_intake.py), sent
        # by a few tasks in turn, not one per locker: a storm costs no task per locker.
        self._boot_intake = BootIntake()
        self._pending_replies: LockerLanes[PendingBoot] = LockerLanes(
            "olp-pending", handler=self._send_pending, capacity=PENDING_QUEUE
        )
        self._pending_senders = itertools.cycle(range(PENDING_SENDERS))
        # Online Statuses held for their locker's Boot in a storm (`_hold_first_status`).
        self._status_held: dict[str, float] = {}
        self._status_timers: dict[str, asyncio.TimerHandle] = {}
        self._snapshots = StateSnapshots(self._codec.decode_message)
        self._booted: set[str] = set()
        self._presence: dict[str, _Presence] = {}
        self._too_large = 0
        self._drops = Drops()
        self._handled = 0
        self._timer = message_timer(host)
        self._connection: MqttConnection | None = None
        self._stack: contextlib.AsyncExitStack | None = None

    # ---- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        options = self._config.connection_options(await self._tls_context())
        async with contextlib.AsyncExitStack() as stack:
            # Left in reverse: the connection first (nothing new comes in), then waiting
            # callers learn it, then the lanes' tasks are cancelled and awaited.
            await stack.enter_async_context(self._lanes)
            await stack.enter_async_context(self._busy)
            await stack.enter_async_context(self._pending_replies)
            stack.callback(self._cancel_status_timers)
            stack.callback(
                self._pending.fail_all, AdapterConnectionError("the olp adapter is stopping")
            )
            self._connection = MqttConnection(options=options, on_message=self._receive)
            await stack.enter_async_context(self._connection)
            self._stack = stack.pop_all()
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
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.__aexit__(exc_type, exc, tb)

    def stats(self) -> OlpStats:
        snapshots = self._snapshots
        return OlpStats(
            self._lanes.stats(),
            snapshots.received,
            snapshots.checked,
            self._too_large,
            len(self._pending),
            self._handled,
            self.drop_counts(),
        )

    def boot_intake(self) -> IntakeStats:
        """Boots queued in lanes, and those answered `Pending` or dropped at receipt."""
        return self._boot_intake.stats()

    def drop_counts(self) -> dict[str, int]:
        """`SupportsDropCounts`: messages refused or skipped, by DropReason (drops.py)."""
        refused = self._snapshots.refused
        # Invalid State snapshots are found when read, not when received (snapshots.py).
        return self._drops.snapshot() | ({"invalid-state": refused} if refused else {})

    @property
    def broker_connected(self) -> bool:
        """Whether the MQTT connection is up now (the gateway's readiness probe asks)."""
        return self._connection is not None and self._connection.connected

    def refused(self, locker_id: str) -> int:
        """Messages of this locker refused for a full lane since start."""
        return self._lanes.refused(locker_id)

    # ---- the adapter contract ------------------------------------------------------------

    async def open_compartment(
        self,
        locker_id: str,
        compartment_code: str,
        *,
        purpose: OpenPurpose,
        deadline: datetime,
    ) -> OpenOutcome:
        await self._require_booted(locker_id)
        payload = OpenCompartmentPayload(compartment_code=compartment_code, purpose=purpose)
        reply = await self._call(locker_id, "OpenCompartment", payload, deadline)
        return _expect(reply, OpenCompartmentResult).payload.outcome

    async def open_with_check(
        self,
        locker_id: str,
        compartment_code: str,
        *,
        check: PickupCheck,
        deadline: datetime,
    ) -> OpenOutcome:
        """A pickup whose recipient must show an age or identity check: OpenCompartment with
        `pickupCheck`, which the locker shows on its screen (feature PICKUP_CHECK)."""
        await self._require_booted(locker_id)
        payload = OpenCompartmentPayload(
            compartment_code=compartment_code,
            purpose=OpenPurpose.PICKUP,
            pickup_check=PickupCheckWire(
                minimum_age=check.minimum_age, identity=True if check.identity else None
            ),
        )
        reply = await self._call(locker_id, "OpenCompartment", payload, deadline)
        return _expect(reply, OpenCompartmentResult).payload.outcome

    async def display(
        self, locker_id: str, message: str, deadline: datetime, *, text: str | None = None
    ) -> None:
        """Show a message on the locker's screen or keypad (feature DISPLAY); `text` with
        Info."""
        fields = {"message": message} if text is None else {"message": message, "text": text}
        try:
            payload = DisplayPayload.model_validate(fields)
        except ValidationError as err:
            raise AdapterProtocolError(f"cannot display {message!r}: {err}") from err
        _expect(await self._call(locker_id, "Display", payload, deadline), DisplayResult)

    async def set_availability(
        self,
        locker_id: str,
        compartment_code: str,
        *,
        available: bool,
        reason: str | None,
        deadline: datetime,
    ) -> None:
        """Take a compartment out of service or back (feature SET_AVAILABILITY)."""
        await self._require_booted(locker_id)
        payload = SetAvailabilityPayload(
            compartment_code=compartment_code,
            available=available,
            reason=(reason or "")[:200] or None,  # the schema's bound; the audit keeps it all
        )
        reply = await self._call(locker_id, "SetAvailability", payload, deadline)
        confirmed = _expect(reply, SetAvailabilityResult).payload
        if confirmed.available is not available:
            raise AdapterProtocolError(
                f"locker {locker_id} answered available={confirmed.available} for "
                f"{compartment_code}, asked {available}"
            )

    async def replay_events(
        self, locker_id: str, after_seq: int, deadline: datetime
    ) -> ReplayReport:
        """Have the locker publish its journaled events after `after_seq` again (SPEC §9)."""
        await self._require_booted(locker_id)
        payload = ReplayEventsPayload(after_seq=after_seq)
        reply = await self._call(locker_id, "ReplayEvents", payload, deadline)
        return replay_report(after_seq, _expect(reply, ReplayEventsResult).payload)

    async def push_key_set(self, locker_id: str, key_set: KeySet, deadline: datetime) -> None:
        """Install the network's key set (feature OFFLINE_GRANTS); returns once it is confirmed."""
        await self._require_booted(locker_id)
        keys = [dict(jwk) for jwk in key_set.keys]
        if any(not _public_ed25519(jwk) for jwk in keys):
            # Never let a private key (or a foreign one) onto the wire, whoever built the set.
            raise AdapterProtocolError(f"key set {key_set.version} holds a non-public key")
        if key_set.signature is None:
            # A locker refuses an unsigned set (SPEC §9): the gateway signs per locker.
            raise AdapterProtocolError(f"key set {key_set.version} is not signed")
        payload = SetKeySetPayload(
            version=key_set.version,
            issuer=key_set.issuer,
            keys=[PublicJwk.model_validate(jwk) for jwk in keys],
            signature=key_set.signature,
            root_keys=[RootKeyLink.model_validate(link) for link in key_set.root_chain] or None,
        )
        reply = await self._call(locker_id, "SetKeySet", payload, deadline)
        result = _expect(reply, SetKeySetResult).payload
        if result.status is not KeySetStatus.ACCEPTED:
            raise AdapterProtocolError(
                f"locker {locker_id} rejected key set {key_set.version} "
                f"(it holds {result.version}): {result.reason}"
            )

    async def read_status(self, locker_id: str) -> LockerStatus:
        presence = self._presence.get(locker_id)
        snapshot = self._snapshots.latest(locker_id)
        booted = locker_id in self._booted
        if snapshot is None:
            if presence is None:
                return LockerStatus(locker_id=locker_id, online=False, booted=booted)
            return LockerStatus(locker_id, presence.online, booted, last_seen=presence.at)
        seen = snapshot.at if presence is None else max(presence.at, snapshot.at)
        return LockerStatus(
            locker_id=locker_id,
            online=presence is not None and presence.online,
            booted=booted,
            compartments=snapshot.compartments,
            firmware=snapshot.firmware,
            last_seen=seen,
        )

    # ---- commands ------------------------------------------------------------------------

    async def _call(
        self, locker_id: str, action: str, payload: WireModel, deadline: datetime
    ) -> OlpMessage:
        # A span of the caller's trace (a remote open's HTTP request) when the gateway traces.
        with command_span(action, locker_id):
            return await self._call_untraced(locker_id, action, payload, deadline)

    async def _call_untraced(
        self, locker_id: str, action: str, payload: WireModel, deadline: datetime
    ) -> OlpMessage:
        assert self._connection is not None
        command = self._codec.command(
            action, payload, src=self._src, seq=next(self._seq), exp=deadline
        )
        trace_note("olp.command_id", command.id)
        remaining = (deadline - self._host.now()).total_seconds()
        if remaining <= 0:
            raise AdapterTimeout(f"{action} for {locker_id}: deadline already passed")
        future = self._pending.expect(command.id)
        try:
            await self._connection.publish(
                topics.command(locker_id, action),
                self._codec.encode(command),
                properties=self._call_properties(locker_id, command.id, remaining),
                timeout_s=remaining,
            )
        except OpenLockerError as err:
            # Broker unreachable. Should the call have gone out after all, its `exp` (the
            # deadline) stops the locker from acting on it late.
            self._pending.forget(command.id)
            raise AdapterConnectionError(f"{action} for {locker_id}: {err.description}") from err
        except BaseException:
            # The caller gave up (cancelled by its own timeout) while the call waited for the
            # broker: nobody will wait for the reply, so its slot goes now.
            self._pending.forget(command.id)
            raise
        sent_at = time.perf_counter()
        try:
            reply = await self._pending.wait(command.id, future, remaining)
        except OpenLockerError as err:
            self._command_ended(action, "timeout", sent_at)
            log.info("%s %s to %s: no reply in time", action, command.id, locker_id)
            raise AdapterTimeout(f"{action} for {locker_id}: {err.description}") from err
        outcome = "error" if isinstance(reply, ErrorReply) else "result"
        elapsed_ms = self._command_ended(action, outcome, sent_at) * 1000
        # The caller's correlation id (an HTTP request's) and the call's own id, in one line.
        log.info("%s %s to %s: %s in %.0f ms", action, command.id, locker_id, outcome, elapsed_ms)
        if isinstance(reply, ErrorReply):
            raise AdapterProtocolError(
                f"{action} refused by locker {locker_id}: "
                f"{reply.error.code}: {reply.error.description}",
                # The locker's own code, for callers that react to it (a refused signature).
                details={"lockerError": str(reply.error.code)},
            )
        return reply

    def _command_ended(self, action: str, outcome: str, sent_at: float) -> float:
        elapsed = time.perf_counter() - sent_at
        trace_note("olp.outcome", outcome)
        if self._timer is not None:
            self._timer.command_answered(action, outcome, elapsed)
        return elapsed

    def _call_properties(self, locker_id: str, call_id: str, ttl_s: float) -> Properties | None:
        if self._config.protocol_version != 5:
            return None
        properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        properties.CorrelationData = call_id.encode()
        properties.ResponseTopic = topics.gateway_reply(self._config.instance, locker_id)
        properties.MessageExpiryInterval = max(1, int(ttl_s))
        parent = traceparent()  # the command's span, when the gateway traces
        if parent is not None:
            # W3C Trace Context as an MQTT 5 user property: firmware that traces continues it.
            properties.UserProperty = [("traceparent", parent)]
        return properties

    async def _require_booted(self, locker_id: str) -> None:
        if not await self._is_booted(locker_id):
            raise LockerNotConnected(f"locker {locker_id} is offline or has not booted")

    # ---- receiving (the MQTT receive loop: classify and hand on, never wait) -------------

    def _receive(self, message: aiomqtt.Message) -> None:
        try:
            self._classify(message)
        except Exception:
            # One message must never end the session every locker shares: the connection
            # reconnects after a callback's error, and what it had received is gone.
            self._drops.count(DropReason.INTERNAL_ERROR)
            log.exception("dropping a message on %s: handling it failed", message.topic)

    def _classify(self, message: aiomqtt.Message) -> None:
        info = topics.parse(str(message.topic))
        raw = message.payload if isinstance(message.payload, bytes) else b""
        if info is None:
            self._drops.count(DropReason.FOREIGN_TOPIC)
            log.warning("ignoring message on foreign topic %s", message.topic)
            return
        channel, locker_id = info.channel, info.locker_id
        if channel is Channel.GATEWAY_REPLY:
            self._resolve_reply(info, raw)
        elif len(raw) > self._codec.max_bytes:
            self._refuse_too_large(info, raw)
        elif channel is Channel.STATE:
            self._snapshots.offer(locker_id, raw)
        elif channel is Channel.STATUS:
            self._status_slot[locker_id] = Inbound(info, raw)  # replaces an older one
            if locker_id not in self._status_marked and self._lanes.offer(
                locker_id, Inbound(info, b"")
            ):
                self._status_marked.add(locker_id)
            # Refused: the lane's task applies the slot after the message in hand.
        elif channel is Channel.REQUEST and info.action == "Boot":
            self._boot_received(info, raw)
        elif channel in (Channel.EVENT, Channel.REQUEST):
            item = Inbound(info, raw)
            if self._lanes.offer(locker_id, item):
                pass
            elif channel is Channel.REQUEST:
                # Refused (counted, told once per overload episode by the lanes).
                self._busy.offer(locker_id, item)
            else:
                # An event with an eventSeq stays in the locker's journal and comes back by
                # replay, asked for once the lane has drained (`_catch_up`).
                self._refused_events[locker_id] = item
        # cmd and res topics: our own traffic, if a broker echoes it

    def _boot_received(self, info: topics.TopicInfo, raw: bytes) -> None:
        """A Boot, at receipt: dropped if expired, answered `Pending` at once while the lanes
        are too far behind to answer it within its `exp` (boot_intake.py), else queued."""
        locker_id = info.locker_id
        queued = locker_id in self._boot_slot
        if not queued:
            header = peek_boot(raw, _MESSAGE_ID.fullmatch)
            if header is not None:
                remaining_s = header.remaining_s(self._host.now())
                if remaining_s <= 0:
                    self._boot_intake.expired()
                    self._drops.count(DropReason.EXPIRED_CALL)
                    self._expired_log.log("dropping expired Boot call from %s", locker_id)
                    return
                wait_s = self._boot_intake.wait_for(locker_id, remaining_s)
                if wait_s is not None:
                    pending = PendingBoot(locker_id, header.call_id, wait_s)
                    sender = f"s{next(self._pending_senders)}"
                    if not self._pending_replies.offer(sender, pending):
                        # Every sender is full: unanswered, the locker retries after its own
                        # call timeout (counted by the lanes as refused).
                        log.debug("locker %s Boot not answered: pending replies full", locker_id)
                    return
        self._boot_slot[locker_id] = Inbound(info, raw)  # replaces an older one
        if queued:
            return
        if self._lanes.offer(locker_id, Inbound(info, b"")):
            self._boot_intake.queued(locker_id)
        else:
            self._busy.offer(locker_id, self._boot_slot.pop(locker_id))

    async def _send_pending(self, _sender: str, pending: PendingBoot) -> None:
        """`Pending` with its least wait, for a Boot turned away at receipt (never decoded:
        its id is all the reply needs)."""
        assert self._connection is not None
        result = BootResult(
            id=str(uuid4()),
            corr=pending.call_id,
            ts=self._host.now(),
            src=self._src,
            seq=next(self._seq),
            payload=BootResultPayload(
                status=BootStatus.PENDING,
                heartbeat_interval_seconds=pending.wait_s,
                current_time=self._host.now(),
                reason="gateway busy",
            ),
        )
        topic = topics.locker_reply(pending.locker_id)
        try:
            await self._connection.publish(topic, self._codec.encode(result))
        except OpenLockerError as err:
            # The locker's Boot times out and is retried: nothing to keep.
            log.info("Pending to %s not sent: %s", pending.locker_id, err.description)

    def _refuse_too_large(self, info: topics.TopicInfo, raw: bytes) -> None:
        """SPEC §9 Size, on receipt: a lane bounds how many messages it holds, so one of
        unbounded size must never enter it. A call is answered FormatViolation (from the busy
        lane, which keeps only its id), anything else is dropped with this log line."""
        self._too_large += 1
        self._drops.count(DropReason.TOO_LARGE)
        log.warning(
            "refusing %s message of %s: %d bytes exceed %d",
            info.channel,
            info.locker_id,
            len(raw),
            self._codec.max_bytes,
        )
        if info.channel is Channel.REQUEST:
            call_id = self._codec.call_id(raw)
            if call_id is not None:
                self._busy.offer(info.locker_id, Oversized(info, call_id, len(raw)))

    def _resolve_reply(self, info: topics.TopicInfo, raw: bytes) -> None:
        try:
            reply = self._codec.decode_message(raw)
        except OpenLockerError as err:
            self._drops.count(DropReason.BAD_REPLY)
            log.warning("bad reply from %s: %s", info.locker_id, err)
            return
        if reply.src != info.locker_id:
            self._drops.count(DropReason.FORGED_REPLY)
            log.warning("reply on %s's topic claims src %r", info.locker_id, reply.src)
            return
        if not self._pending.resolve(reply.corr, reply):
            if _refused_key_set(reply):
                # A SetKeySet we never sent, refused and answered to us: someone forged one
                # in our name. Reported to the gateway in the locker's lane (audited there).
                self._lanes.offer(info.locker_id, Inbound(info, raw))
                return
            self._drops.count(DropReason.UNKNOWN_REPLY)
            log.info("late or unknown reply %s from %s", reply.corr, info.locker_id)

    # ---- a locker's lane (its own task: may wait, holds up only this locker) -------------

    async def _handle(self, locker_id: str, item: Inbound) -> None:
        try:
            await self._work_off(locker_id, item)
        finally:
            self._handled += 1

    async def _work_off(self, locker_id: str, item: Inbound) -> None:
        if item.catch_up:
            await self._report_refused(locker_id, item)
            return
        if item.info.channel is Channel.GATEWAY_REPLY:  # only a refused, forged SetKeySet
            reply = self._codec.decode_message(item.raw)
            assert isinstance(reply, ErrorReply)
            refused = KeySetRefused(
                locker_id=locker_id,
                at=reply.ts,
                event_id=reply.id,
                reason=reply.error.description,
            )
            await self._host.locker_event(refused)
            return
        if item.info.channel is Channel.STATUS:
            self._status_marked.discard(locker_id)
            if self._boot_goes_first(locker_id):
                return
            await self._apply_newest_status(locker_id)
        elif item.info.channel is Channel.REQUEST and item.info.action == "Boot":
            # Only a marker: the newest Boot of this locker waits in its slot.
            boot = self._boot_slot.pop(locker_id, None)
            try:
                if boot is not None:
                    await self._process(boot)
            finally:
                # Answered, refused or dropped: its time in the gateway is known now.
                self._boot_intake.answered(locker_id)
        else:
            await self._process(item)
        if (
            locker_id in self._status_slot
            and locker_id not in self._status_marked
            and not self._boot_goes_first(locker_id)
        ):
            # A Status came while the lane was full, or waited for the Boot: apply it now.
            await self._apply_newest_status(locker_id)

    def _catch_up(self, locker_id: str) -> Inbound | None:
        """Asked by the lanes when this locker's lane, having refused items, has drained: the
        newest refused event, to report as the last one the locker sent. The replay the gateway
        asks then brings the refused events into the empty lane, a lane's worth at most: the
        next chunk, and the lanes ask again when it is worked off."""
        refused = self._refused_events.pop(locker_id, None)
        return None if refused is None else Inbound(refused.info, refused.raw, catch_up=True)

    async def _report_refused(self, locker_id: str, item: Inbound) -> None:
        try:
            event = self._codec.decode_message(item.raw)
        except (MalformedMessage, SchemaViolation):
            event = None
        if event is None or event.src != locker_id or event.event_seq is None:
            # Nothing a journal brings back (no number, or not valid): counted with the lane's
            # refusals; a locker with a journal reports it at its next Heartbeat anyway.
            log.info("locker %s: its last refused event cannot be replayed", locker_id)
            return
        log.info(
            "locker %s: lane drained after refusing events up to %d; asking the gateway to "
            "catch up",
            locker_id,
            event.event_seq,
        )
        report = JournalReported(
            locker_id=locker_id,
            at=self._host.now(),
            event_id=event.id,
            seq=event.seq,
            last_event_seq=event.event_seq,
            live=False,
        )
        await self._host.locker_event(report)

    def _boot_goes_first(self, locker_id: str) -> bool:
        """True when the locker's online Status should wait for its queued Boot.

        A locker publishes its Status online on connecting, then its Boot. Applied first, the
        Status is a transaction the Boot waits for in this lane; at 10,000 lockers Boots then
        pass their `exp` behind ~10,000 of them (bench/boot_storm.py, congestion collapse).
        After an accepted Boot the gateway knows the locker is online (`mark_booted`) and
        skips the then redundant write (gateway.service.presence). Only online: an offline
        Status waiting with a Boot behind it is applied in its turn, as received.

        The same while the locker was told `Pending` at receipt (boot_intake.py): in a storm
        the gateway is behind, and a presence transaction per turned-away locker would keep
        it behind; its next Boot comes after the wait it was given (SPEC §9), and the Status
        is applied after that Boot's answer (for free once accepted). An offline Status
        replaces it in the slot and is applied as ever.
        """
        waiting = self._status_slot.get(locker_id)
        if waiting is None:
            return False
        boot_expected = locker_id in self._boot_slot or self._boot_intake.told_to_wait(locker_id)
        may_hold = locker_id in self._status_held or (
            self._boot_intake.behind and locker_id not in self._booted
        )
        if not boot_expected and not may_hold:
            return False  # the common case, decided without decoding
        try:
            status = self._codec.decode_message(waiting.raw)
        except (MalformedMessage, SchemaViolation):
            return False  # applied in its turn, which logs why it is refused
        if not (isinstance(status, StatusEvent) and status.payload.online):
            return False
        return boot_expected or self._hold_first_status(locker_id)

    def _hold_first_status(self, locker_id: str) -> bool:
        """In a storm, an online Status of a locker not booted here waits for its Boot.

        A locker publishes Status online, then Boot: its Status usually arrives first, and in
        a storm of 10,000 each was a presence transaction of its own, together enough to empty
        the database pool while the Boots waited (bench/boot_storm.py). Held until the Boot is
        answered (accepted: the Boot wrote online and the Status is free), or STATUS_HOLD_S at
        most: a locker that never Boots is still shown online. Only while Boots pile up
        (`BootIntake.behind`): a quiet gateway applies presence as it comes."""
        if locker_id in self._booted:
            return False
        held_since = self._status_held.get(locker_id)
        now = time.monotonic()
        if held_since is not None:
            return now - held_since < STATUS_HOLD_S
        if not self._boot_intake.behind:
            return False
        self._status_held[locker_id] = now
        # A timer, not a task: it only offers the lane a marker when the hold ends.
        self._status_timers[locker_id] = asyncio.get_running_loop().call_later(
            STATUS_HOLD_S, self._release_status, locker_id
        )
        return True

    def _release_status(self, locker_id: str) -> None:
        """The hold ended without a Boot answered: apply the Status in the lane's turn."""
        self._status_timers.pop(locker_id, None)
        if locker_id in self._status_slot and locker_id not in self._status_marked:
            info = self._status_slot[locker_id].info
            if self._lanes.offer(locker_id, Inbound(info, b"")):
                self._status_marked.add(locker_id)

    def _cancel_status_timers(self) -> None:
        for timer in self._status_timers.values():
            timer.cancel()
        self._status_timers.clear()

    async def _apply_newest_status(self, locker_id: str) -> None:
        self._status_held.pop(locker_id, None)
        item = self._status_slot.pop(locker_id, None)
        if item is not None:
            await self._process(item)

    async def _process(self, item: Inbound) -> None:
        started = time.perf_counter()
        try:
            message = self._codec.decode_message(item.raw)
        except (MalformedMessage, SchemaViolation) as err:
            self._drops.count(DropReason.FORMAT_VIOLATION)
            await self._refuse(item, ErrorCode.FORMAT_VIOLATION, err.description, err.issues)
            return
        # Everything this message causes (log lines, outbox rows) carries its id.
        with correlated(message.id):
            await self._dispatch(item, message)
        if self._timer is not None:
            # Known actions only: an unknown one is the locker's free text (a label each).
            known = not isinstance(message, UnknownMessage)
            action = message.action if known else "unknown"
            self._timer.message_handled(str(message.kind), action, time.perf_counter() - started)

    async def _dispatch(self, item: Inbound, message: OlpMessage) -> None:
        info = item.info
        if message.src != info.locker_id:
            self._drops.count(DropReason.FORGED_SRC)
            description = "src does not match the topic's locker"
            await self._refuse(item, ErrorCode.SECURITY_ERROR, description, ())
            return
        # Journaled events are deduped by `eventSeq` in the database: a replay reuses their ids.
        journaled = info.channel is Channel.EVENT and message.event_seq is not None
        if not journaled and not self._dedupe.first_time(message.src, message.id):
            self._drops.count(DropReason.DUPLICATE)
            return
        missing = self._gaps.observe(message.src, message.seq)
        if missing:
            # Debug only: `seq` counts State snapshots too, which skip the lane, and a Status
            # that a newer one replaced: such gaps are expected.
            log.debug(
                "locker %s: %d message(s) not seen before seq %s",
                info.locker_id,
                missing,
                message.seq,
            )
        if info.channel is Channel.STATUS:
            await self._presence_changed(info.locker_id, message)
        elif info.channel is Channel.REQUEST:
            await self._request(info.locker_id, message)
        elif info.channel is Channel.EVENT:
            await self._event(info.locker_id, message)

    async def _presence_changed(self, locker_id: str, message: OlpMessage) -> None:
        if not isinstance(message, StatusEvent):
            self._drops.count(DropReason.WRONG_TOPIC)
            log.warning(
                "ignoring %s %s on %s's status topic", message.kind, message.action, locker_id
            )
            return
        online = message.payload.online
        if not online:
            self._booted.discard(locker_id)
        self._presence[locker_id] = _Presence(online, message.ts)
        event = event_from(locker_id, message)
        if event is not None:
            await self._host.locker_event(event)

    async def _request(self, locker_id: str, call: OlpMessage) -> None:
        if call.exp is not None and call.exp < self._host.now():
            self._drops.count(DropReason.EXPIRED_CALL)
            # A storm expires thousands at once: the first of a burst in full, then a count.
            self._expired_log.log("dropping expired %s call from %s", call.action, locker_id)
            return
        if isinstance(call, BootCall):
            await self._boot(locker_id, call)
        elif not await self._is_booted(locker_id):
            self._drops.count(DropReason.NOT_BOOTED)
            await self._refuse_call(
                locker_id, call.id, call.action, ErrorCode.SECURITY_ERROR, "Boot first"
            )
        elif isinstance(call, HeartbeatCall):
            await self._reply(
                locker_id, call, HeartbeatResultPayload(current_time=self._host.now())
            )
            await self._report_journal(locker_id, call, at_boot=False)
        elif isinstance(call, ScanParcelCall):
            await self._scan(locker_id, call)
        else:
            self._drops.count(DropReason.UNKNOWN_CALL)
            description = f"unknown call {call.action}"
            await self._refuse_call(
                locker_id, call.id, call.action, ErrorCode.NOT_SUPPORTED, description
            )

    async def _boot(self, locker_id: str, call: BootCall) -> None:
        decision = await self._host.authorize_boot(locker_id, boot_info(call.payload))
        accepted = decision.status is BootStatus.ACCEPTED
        if accepted:
            self._booted.add(locker_id)
            self._boot_intake.accepted(locker_id)
        result = BootResultPayload(
            status=decision.status,
            heartbeat_interval_seconds=decision.heartbeat_interval_s,
            current_time=self._host.now(),
            reason=decision.reason or None,
        )
        await self._reply(locker_id, call, result)
        if accepted:
            if call.payload.last_event_seq is not None:
                # Its journal report goes to the gateway now, ahead of the waiting Status.
                self._fold_waiting_status(locker_id, call.seq)
            await self._report_journal(locker_id, call, at_boot=True)

    def _fold_waiting_status(self, locker_id: str, boot_seq: int) -> None:
        """The online Status that waited for this accepted Boot is folded into it.

        The Boot wrote the session online (`mark_booted`), so the Status needs no write of its
        own (the gateway skips it anyway: gateway.service.presence); handed over after the
        Boot's journal report, it would arrive after an event of a higher `seq`, the locker's
        order broken (SPEC §9; the SDK's conformance kit checks it, and the faster receive
        loop made Boots overtake their Status often). Recorded here for `read_status` only.
        An offline Status, or one sent after the Boot, goes its way."""
        waiting = self._status_slot.get(locker_id)
        if waiting is None:
            return
        try:
            status = self._codec.decode_message(waiting.raw)
        except (MalformedMessage, SchemaViolation):
            return  # applied in its turn, which logs why it is refused
        if not (isinstance(status, StatusEvent) and status.payload.online):
            return
        if status.src != locker_id or status.seq >= boot_seq:
            return
        del self._status_slot[locker_id]
        self._status_held.pop(locker_id, None)
        self._presence[locker_id] = _Presence(True, status.ts)
        self._boot_intake.folded()

    async def _scan(self, locker_id: str, call: ScanParcelCall) -> None:
        """Query on scan: the gateway decides; after Accepted it opens the door itself."""
        query = ScanQuery(locker_id, call.payload.parcel_id, call.payload.size_class, call.exp)
        try:
            answer = await self._host.scan_parcel(query)
        except OpenLockerError as err:
            # The database or a dependency failed: nothing was decided, the locker may ask again.
            log.warning("locker %s: scan of %s not answered: %s", locker_id, query.parcel_id, err)
            code = err.code if err.code is not ErrorCode.INTERNAL_ERROR else ErrorCode.UNAVAILABLE
            await self._refuse_call(locker_id, call.id, call.action, code, err.description)
            return
        await self._reply(locker_id, call, scan_result_payload(answer))

    async def _event(self, locker_id: str, message: OlpMessage) -> None:
        if not await self._is_booted(locker_id):
            self._drops.count(DropReason.NOT_BOOTED)
            log.warning("ignoring %s from %s: it has not booted", message.action, locker_id)
            return
        event = event_from(locker_id, message)
        if event is None:
            self._drops.count(DropReason.UNKNOWN_EVENT)
            log.info("ignoring unknown event %s from %s", message.action, locker_id)
            return
        await self._host.locker_event(event)

    async def _report_journal(
        self, locker_id: str, call: BootCall | HeartbeatCall, *, at_boot: bool
    ) -> None:
        # In the locker's lane, behind its earlier events: the gateway compares `lastEventSeq`
        # with its mark only once everything received before this call has been processed.
        report = journal_report(locker_id, call, at_boot=at_boot)
        if report is not None:
            await self._host.locker_event(report)

    async def _is_booted(self, locker_id: str) -> bool:
        if locker_id in self._booted:
            return True
        # Another instance may have answered this locker's Boot: the database knows.
        if await self._host.is_booted(locker_id):
            self._booted.add(locker_id)
            return True
        return False

    # ---- replies -------------------------------------------------------------------------

    async def _reply(self, locker_id: str, call: OlpMessage, payload: WireModel) -> None:
        assert self._connection is not None
        result = self._codec.result(call, payload, src=self._src, seq=next(self._seq))
        await self._connection.publish(topics.locker_reply(locker_id), self._codec.encode(result))

    async def _refuse(
        self, item: Inbound, code: ErrorCode, description: str, issues: tuple[FieldIssue, ...]
    ) -> None:
        info = item.info
        log.warning("refusing %s message from %s: %s", info.channel, info.locker_id, description)
        call_id = self._codec.call_id(item.raw)
        if info.channel is Channel.REQUEST and call_id is not None:
            action = info.action or "Unknown"
            await self._refuse_call(info.locker_id, call_id, action, code, description, issues)

    async def _answer_busy(self, locker_id: str, item: Inbound | Oversized) -> None:
        """A call refused for a full lane: `Unavailable`, so the locker retries it later; one
        refused for its size: `FormatViolation`."""
        action = item.info.action or "Unknown"
        if isinstance(item, Oversized):
            description = f"message of {item.size} bytes exceeds {self._codec.max_bytes}"
            code = ErrorCode.FORMAT_VIOLATION
            await self._refuse_call(locker_id, item.call_id, action, code, description)
            return
        call_id = self._codec.call_id(item.raw)
        if call_id is None:
            return  # not even an id to answer: the locker's call times out and is retried
        description = "the gateway is busy with this locker's earlier messages; retry later"
        await self._refuse_call(locker_id, call_id, action, ErrorCode.UNAVAILABLE, description)

    async def _refuse_call(
        self,
        locker_id: str,
        call_id: str,
        action: str,
        code: ErrorCode,
        description: str,
        issues: tuple[FieldIssue, ...] = (),
    ) -> None:
        assert self._connection is not None
        error = self._codec.error(
            corr=call_id,
            action=action,
            code=code,
            description=description,
            src=self._src,
            seq=next(self._seq),
            issues=issues,
        )
        await self._connection.publish(topics.locker_reply(locker_id), self._codec.encode(error))


def _refused_key_set(reply: OlpMessage) -> bool:
    """An error reply refusing a SetKeySet's signature (SPEC §9 "Signed key sets")."""
    return (
        isinstance(reply, ErrorReply)
        and reply.action == "SetKeySet"
        and str(reply.error.code) == "SecurityError"
    )


def _expect(reply: OlpMessage, model: type[M]) -> M:
    """The reply to one of our calls, of the result model its action defines."""
    if isinstance(reply, model):
        return reply
    raise AdapterProtocolError(
        f"locker {reply.src} answered with a {reply.kind} {reply.action}, not a {model.__name__}"
    )


_PUBLIC_JWK_MEMBERS = frozenset({"kty", "crv", "x", "kid", "alg", "use"})


def _public_ed25519(jwk: dict[str, Any]) -> bool:
    return (
        jwk.keys() <= _PUBLIC_JWK_MEMBERS
        and jwk.get("kty") == "OKP"
        and jwk.get("crv") == "Ed25519"
    )
