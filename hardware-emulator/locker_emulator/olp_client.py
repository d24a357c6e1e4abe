"""One emulated locker speaking OLP v1 over MQTT: presence, boot gating, events, reconnects."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import ssl
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import aiomqtt
from paho.mqtt.properties import Properties

from locker_emulator import physics
from locker_emulator.faults import (
    LockerFaults,
    Outage,
    update_compartment_faults,
    update_locker_faults,
)
from locker_emulator.inbound import Inbound
from locker_emulator.layout import LockerConfig
from locker_emulator.locker_state import LockerModel, monotonic
from locker_emulator.messages import ErrorCode, Kind, envelope, format_ts
from locker_emulator.parcel_scan import BadLabel, NotReady, ScanReply, read_reply, scan_payload
from locker_emulator.physics import Compartment, CompartmentFaults, DoorState
from locker_emulator.root_trust import RootKey
from locker_emulator.scanner import GrantVerdict, present_grant
from locker_emulator.spec import OutgoingCheck, ReplyCheck, Spec
from locker_emulator.transport import (
    QOS,
    Backoff,
    BrokerAddress,
    MqttVersion,
    call_properties,
    drop_connection,
    keep_cancellation,
    make_client,
)

logger = logging.getLogger("locker_emulator.locker")
_mqtt_logger = logging.getLogger("locker_emulator.mqtt")
_MIN_HEARTBEAT_SECONDS = 1.0
_DEFAULT_HEARTBEAT_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Timing:
    """Time constants of one locker; tests shrink them, production keeps the defaults."""

    call_timeout: float = 10.0  # wait for the reply to Boot or Heartbeat
    # `exp` put on the locker's own calls; None: when the locker stops waiting (call_timeout).
    # A later `exp` would let a gateway that is behind (a boot storm) still work through calls
    # whose locker has given up and sent a new one: wasted work exactly when it hurts most.
    call_expiry: float | None = None
    boot_retry_initial: float = 1.0
    boot_retry_max: float = 60.0
    reconnect_initial: float = 0.5
    reconnect_max: float = 30.0
    # Extra random wait (0 to this many seconds) before each reconnect, on top of the back-off:
    # after a broker restart a fleet of lockers spreads its reconnects over this window instead
    # of hitting the broker and the gateway in the same millisecond, as field lockers do.
    reconnect_jitter: float = 0.0
    keepalive: int = 30
    tick: float = 0.5  # how often door timers are checked
    dedupe_window: float = 600.0  # SPEC §9: at least 10 minutes

    def __post_init__(self) -> None:
        if self.reconnect_jitter < 0:
            raise ValueError("reconnect_jitter must not be negative")

    @property
    def expiry(self) -> float:
        """Seconds from sending a call to its `exp`."""
        return self.call_timeout if self.call_expiry is None else self.call_expiry


class _SessionEnd(Exception):
    """Ends one MQTT session on purpose (stop, outage, Rejected)."""


class EmulatedLocker:
    """One locker: `await locker.run()` until `locker.stop()`; actions are plain method calls."""

    def __init__(
        self,
        *,
        config: LockerConfig,
        broker: BrokerAddress,
        spec: Spec,
        mqtt_version: MqttVersion = MqttVersion.V5,
        timing: Timing | None = None,
        faults: LockerFaults | None = None,
        compartment_faults: Mapping[str, CompartmentFaults] | None = None,
        outage_after_boot: Outage | None = None,
        password: str | None = None,
        tls_context: ssl.SSLContext | None = None,
        outgoing: OutgoingCheck | None = None,
        root_key: Mapping[str, Any] | None = None,
        replies: ReplyCheck | None = None,
    ) -> None:
        """`root_key`: the network root key's public JWK this locker pins, as provisioned
        (SPEC §9 "Signed key sets"); a SetKeySet not signed by it is refused."""
        self.config = config
        self.broker = broker
        self.mqtt_version = mqtt_version
        self.timing = timing or Timing()
        self.model = LockerModel(
            config, faults=faults or LockerFaults(), compartment_faults=compartment_faults or {}
        )
        if root_key is not None:
            self.model.root_key = RootKey.from_jwk(root_key)
        self._spec = spec
        self._outgoing = outgoing or OutgoingCheck(spec)
        self._password = password if password is not None else config.password
        self._tls_context = tls_context
        self._topics = self.model.topics
        self._seq = 0
        self._accepted = asyncio.Event()
        self._interrupt = asyncio.Event()
        self._stopping = False
        self._outage: Outage | None = None
        self._outage_after_boot = outage_after_boot
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._inbound = Inbound(
            model=self.model,
            spec=spec,
            mqtt_version=mqtt_version,
            dedupe_window=self.timing.dedupe_window,
            accepted=self._accepted,
            pending=self._pending,
            publish=self._publish,
            replies=replies,
        )
        self._reconnect = Backoff(
            initial=self.timing.reconnect_initial, maximum=self.timing.reconnect_max
        )
        self._loop: asyncio.AbstractEventLoop | None = None  # while run() runs
        self._door_timer: asyncio.TimerHandle | None = None
        self._session_wake: asyncio.Event | None = None  # set to end the current session
        self._client: aiomqtt.Client | None = None  # while a session is up: for locker calls
        self.last_scan: ScanReply | None = None  # query on scan: the newest answer shown

    # ----- what tests, the control API and scenarios use -----

    @property
    def locker_id(self) -> str:
        return self.config.locker_id

    @property
    def online(self) -> bool:
        return self.model.online

    @property
    def booted(self) -> bool:
        return self.model.boot_status == "Accepted"

    @property
    def boot_status(self) -> str | None:
        return self.model.boot_status

    @property
    def display(self) -> dict[str, Any] | None:
        return self.model.display

    @property
    def faults(self) -> LockerFaults:
        return self.model.faults

    def compartment(self, code: str) -> Compartment:
        """The compartment now (UnknownCompartment if the locker has none with this code)."""
        return self.model.compartment(code)

    def deposit(self, code: str) -> None:
        """A courier puts an item into the open compartment and shuts the door."""
        self.model.actuate(code, physics.deposit)

    def take(self, code: str) -> None:
        """Someone takes the item out and shuts the door."""
        self.model.actuate(code, physics.take)

    def close(self, code: str) -> None:
        """Someone shuts the open door empty-handed."""
        self.model.actuate(code, physics.close)

    def leave_open(self, code: str) -> None:
        """Someone walks away from the open door."""
        self.model.actuate(code, physics.leave_open)

    def enter_code(
        self, code: str, compartment_code: str | None = None, label: str | None = None
    ) -> None:
        """Someone types a code on the keypad (ValueError unless 4 to 12 digits); `label`:
        the parcel label the scanner read with a return's drop-off code."""
        self.model.enter_code(code, compartment_code, label)

    def present_grant(self, token: object) -> GrantVerdict:
        """Someone holds an access grant (QR text, `OLPG1:` prefix optional) to the scanner.

        Checked offline against the key set this locker holds; opens the door when it passes.
        """
        return present_grant(self.model, token)

    async def scan_parcel(self, parcel_id: str, size_class: str | None = None) -> ScanReply:
        """A courier scans a parcel label the locker cannot place (SPEC section 17): ask the
        gateway with ScanParcel and show its answer. Nothing opens here: after Accepted the
        gateway's OpenCompartment follows. ScanNotPossible when offline, not booted, or the
        label is not a valid parcel id (checked against the spec before anything is sent)."""
        client = self._client
        if client is None or not self.booted:
            raise NotReady(f"locker {self.locker_id} is not booted: it cannot ask")
        payload = scan_payload(parcel_id, size_class)
        probe = envelope(
            kind=Kind.CALL,
            action="ScanParcel",
            src=self.locker_id,
            ts=self.model.now(),
            payload=payload,
        )
        problems = self._spec.message_problems({**probe, "seq": 0})
        if problems:
            raise BadLabel(f"not a parcel id the protocol carries: {'; '.join(problems)}")
        reply = read_reply(parcel_id, await self._call(client, "ScanParcel", payload))
        self.last_scan = reply
        screen = reply.screen_text[:200]
        self.model.display = {"message": "Info", "text": screen, "at": format_ts(self.model.now())}
        self.model.touch()
        return reply

    @property
    def key_set_version(self) -> int | None:
        """Version of the key set this locker holds; None before its first SetKeySet."""
        return self.model.grants.version

    def update_faults(self, changes: Mapping[str, object]) -> None:
        """Change locker faults by name (FaultError on a bad one); offline/power_loss start now."""
        faults, outage = update_locker_faults(self.model.faults, changes)
        self.model.faults = faults
        self.model.touch()
        if outage is not None:
            self.go_offline(outage.seconds, power_loss=outage.power_loss)

    def update_compartment_faults(self, code: str, changes: Mapping[str, object]) -> None:
        """Change one compartment's faults by name; a lifted jam or lock fault is reported."""
        comp = self.model.compartment(code)
        self.model.apply(physics.set_faults(comp, update_compartment_faults(comp.faults, changes)))

    def set_temperature(self, code: str, celsius: float) -> None:
        """The compartment's thermometer reads `celsius` (a failing or recovering cooler): a
        fresh State carries the reading, a Fault TemperatureOutOfRange its leaving the range."""
        self.model.apply(physics.read_temperature(self.model.compartment(code), celsius))

    def unlock_count(self, code: str) -> int:
        """How often this compartment's lock really released since the locker started."""
        self.model.compartment(code)
        return self.model.unlocks.get(code, 0)

    def lose_next_replies(self, count: int = 1, action: str | None = None) -> None:
        """The next `count` commands are acted on, but their replies never leave the locker.

        With `action`, only replies to that action are lost: other commands the gateway sends
        meanwhile (a SetKeySet after a new code, a Display) are answered as usual.
        """
        if count < 0:
            raise ValueError("count must not be negative")
        self.model.lose_replies = count
        self.model.lose_replies_to = action

    def lose_next_commands(self, action: str, count: int = 1) -> None:
        """The next `count` `action` calls reach the locker's link but not the locker (a
        broker restart or a cut link at that moment): no effect and no reply, so the sender
        times out."""
        if count < 0:
            raise ValueError("count must not be negative")
        self.model.lose_commands[action] = count

    def lose_next_events(self, count: int = 1) -> None:
        """The next `count` journaled events count as sent but reach no one, as if the broker
        acknowledged them and then lost them (or a gateway died before its commit)."""
        if count < 0:
            raise ValueError("count must not be negative")
        self.model.lose_events = count

    def forget_journal(self, keep: int = 0) -> None:
        """The journal keeps only its newest `keep` events: older ones can no longer be replayed."""
        self.model.journal.forget(keep)
        self.model.touch()

    def _lost_on_the_wire(self, topic: str, body: dict[str, Any]) -> bool:
        if self.model.lose_events <= 0 or "eventSeq" not in body:
            return False
        self.model.lose_events -= 1
        self.model.record("not-sent", topic, body, "lost: fault lose_next_events")
        return True

    def go_offline(self, seconds: float, *, power_loss: bool = False) -> None:
        """Drop the connection abruptly now (the broker sends the will), back after `seconds`."""
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        # The locker knows at once that it is cut off: it is no longer booted from this moment,
        # not only once its session has wound down (someone waiting for the next boot must not
        # see this one).
        self._accepted.clear()
        if self.model.boot_status == "Accepted":
            self.model.boot_status = None
            self.model.touch()
        self._cut_off(Outage(seconds=seconds, power_loss=power_loss))

    def _cut_off(self, outage: Outage) -> None:
        self._outage = outage
        self._wake_up()

    def stop(self) -> None:
        """Shut down cleanly: Status offline, DISCONNECT, `run()` returns."""
        self._stopping = True
        self._wake_up()

    def _wake_up(self) -> None:
        self._interrupt.set()
        if self._session_wake is not None:
            self._session_wake.set()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Until `predicate()` holds; bound it with `asyncio.timeout`."""
        await self.model.wait_until(predicate)

    async def wait_booted(self) -> None:
        """Until the gateway accepted this locker's Boot."""
        await self.wait_until(lambda: self.booted)

    async def wait_door(self, code: str, door: DoorState | str) -> None:
        """Until the door of `code` is in state `door`."""
        wanted = DoorState(door)
        self.compartment(code)
        await self.wait_until(lambda: self.compartment(code).door is wanted)

    def log_entries(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The envelopes sent and received, newest last."""
        entries = list(self.model.log)
        return entries[-limit:] if limit else entries

    def snapshot(self) -> dict[str, Any]:
        """JSON view of the whole locker."""
        return self.model.snapshot()

    # ----- life cycle -----

    async def run(self) -> None:
        """Connect, boot and serve until `stop()`, a Rejected boot, or cancellation."""
        self._loop = asyncio.get_running_loop()
        self.model.on_change = self._arm_door_timer
        self._arm_door_timer()
        try:
            async with asyncio.TaskGroup() as tg:
                await self._connection_loop(tg)
        finally:
            self.model.on_change = None
            if self._door_timer is not None:
                self._door_timer.cancel()
                self._door_timer = None
            self._loop = None

    async def _connection_loop(self, tg: asyncio.TaskGroup) -> None:
        while not self._stopping:
            outage = self._outage
            if outage is not None:
                self._outage = None
                self._interrupt.clear()
                await self._sit_out(outage)
                continue
            # Each session runs in a task of its own: on Python 3.11 a TaskGroup whose child
            # fails can leave its parent task marked "cancelling" for good, and that mark must
            # die with the session instead of poisoning the locker's main loop.
            await tg.create_task(self._session(), name=f"{self.locker_id}-session")
            keep_cancellation()
            if self._stopping or self.model.boot_status == "Rejected":
                return
            if self._outage is not None:
                continue
            delay = self._reconnect.next_delay() + random.uniform(0, self.timing.reconnect_jitter)
            logger.info("%s: reconnecting to %s in %.2f s", self.locker_id, self.broker, delay)
            await self._pause(delay)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._interrupt.wait()

    async def _sit_out(self, outage: Outage) -> None:
        what = "power loss" if outage.power_loss else "offline"
        logger.warning("%s: %s for %.1f s", self.locker_id, what, outage.seconds)
        if outage.power_loss:
            self.model.queue_event(
                "Fault", {"fault": "PowerLoss", "description": "mains power lost"}
            )
        self.model.offline_until = datetime.now(UTC) + timedelta(seconds=outage.seconds)
        self.model.touch()
        await self._pause(outage.seconds)
        self.model.offline_until = None
        if outage.power_loss:
            self.model.queue_event(
                "Fault",
                {
                    "fault": "PowerLoss",
                    "description": f"power restored after {outage.seconds:g} s",
                    "cleared": True,
                },
            )
        self.model.touch()

    # Door timers (the DoorLeftOpen alarm) tick only while a door could raise one: a timer
    # callback, no task, and nothing at all for the 99 % of lockers whose doors are shut.

    def _arm_door_timer(self) -> None:
        if self._door_timer is None and self._loop is not None and self.model.needs_tick():
            self._door_timer = self._loop.call_later(self.timing.tick, self._tick_doors)

    def _tick_doors(self) -> None:
        self._door_timer = None
        self.model.tick(monotonic())
        self._arm_door_timer()

    # ----- one MQTT session -----

    def _status(self, online: bool, session_id: str) -> dict[str, Any]:
        return envelope(
            kind=Kind.EVENT,
            action="Status",
            src=self.locker_id,
            ts=self.model.now(),
            payload={"online": online, "sessionId": session_id},
        )

    async def _session(self) -> None:
        session_id = uuid.uuid4().hex[:16]
        # The will is stamped now but sent by the broker later, if ever: it takes its own `seq`,
        # so a clean session leaves a gap of one, which SPEC §9 says receivers only log.
        will = self._status(False, session_id)
        will["seq"] = self._seq
        self._seq += 1
        problems = self._outgoing.problems(will)
        if problems:
            self.model.invalid_outgoing += 1
            logger.error("%s: the last will breaks the spec: %s", self.locker_id, problems)
        client = make_client(
            self.broker,
            client_id=self.locker_id,
            password=self._password,
            version=self.mqtt_version,
            tls_context=self._tls_context,
            will_topic=self._topics.status,
            will_payload=json.dumps(will).encode(),
            keepalive=self.timing.keepalive,
            logger=_mqtt_logger,
        )
        try:
            async with client:
                self._on_connected(session_id)
                wake = self._session_wake = asyncio.Event()
                lost: list[BaseException | None] = []

                def on_lost(error: BaseException | None) -> None:
                    lost.append(error)
                    wake.set()

                client.when_lost(on_lost)
                try:
                    # Two tasks per session (boot/heartbeats, outbox); received messages are
                    # handled in paho's callback and the session's own task watches for its end.
                    async with asyncio.TaskGroup() as tg:
                        try:
                            client.on_message = partial(self._inbound.handle, client, tg)
                            await client.subscribe(self._topics.cmd_filter, qos=QOS)
                            await client.subscribe(self._topics.res, qos=QOS)
                            keep_cancellation()
                            self._client = client
                            status = self._status(True, session_id)
                            await self._publish(client, self._topics.status, status, retain=True)
                            tg.create_task(
                                self._boot_and_heartbeat(client, session_id),
                                name=f"{self.locker_id}-boot",
                            )
                            tg.create_task(
                                self._drain_outbox(client), name=f"{self.locker_id}-outbox"
                            )
                            await self._watch(client, session_id, wake, lost)
                        finally:
                            # Runs before the TaskGroup cancels its tasks: nothing new may start.
                            client.on_message = None
                except* _SessionEnd:
                    pass
                except* aiomqtt.MqttError as group:
                    logger.warning("%s: connection lost: %s", self.locker_id, group.exceptions[0])
                except* Exception:
                    logger.exception("%s: session failed; reconnecting", self.locker_id)
        except aiomqtt.MqttError as err:
            logger.warning("%s: no connection to %s: %s", self.locker_id, self.broker, err)
        finally:
            self._session_wake = None
            self._client = None
            self._on_disconnected()

    def _on_connected(self, session_id: str) -> None:
        logger.info("%s: connected to %s (MQTT %s)", self.locker_id, self.broker, self.mqtt_version)
        self._reconnect.reset()
        self.model.counters.connects += 1
        self.model.online = True
        self.model.session_id = session_id
        self.model.touch()

    def _on_disconnected(self) -> None:
        self._accepted.clear()
        self.model.online = False
        self.model.session_id = None
        if self.model.boot_status != "Rejected":
            self.model.boot_status = None
        for future in self._pending.values():
            future.cancel()
        self.model.touch()

    async def _watch(
        self,
        client: aiomqtt.Client,
        session_id: str,
        wake: asyncio.Event,
        lost: list[BaseException | None],
    ) -> None:
        """Until the connection is lost (MqttError), or stop() / go_offline() ends it."""
        if not self._interrupt.is_set():
            await wake.wait()
        if not self._interrupt.is_set():
            raise aiomqtt.MqttError(f"connection lost: {lost[0] if lost else 'unknown'}")
        if self._stopping:
            # A clean shutdown says goodbye itself: the broker does not send the will then.
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                async with asyncio.timeout(2):
                    status = self._status(False, session_id)
                    await self._publish(client, self._topics.status, status, retain=True)
            raise _SessionEnd
        drop_connection(client)
        # paho notices the dead socket at once; the timeout is a fallback.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                while not lost:
                    wake.clear()
                    await wake.wait()
        raise _SessionEnd

    async def _publish(
        self,
        client: aiomqtt.Client,
        topic: str,
        body: dict[str, Any],
        *,
        retain: bool = False,
        properties: Properties | None = None,
    ) -> bool:
        """Stamp `seq`, validate against the spec and publish at QoS 1; False if invalid."""
        if "seq" not in body:
            candidate = {**body, "seq": self._seq}
            problems = self._outgoing.problems(candidate)
            if problems:
                self.model.invalid_outgoing += 1
                logger.error(
                    "%s: not sending invalid %s: %s", self.locker_id, body["action"], problems
                )
                self.model.record("not-sent", topic, body, f"invalid: {'; '.join(problems)}")
                return False
            body["seq"] = self._seq
            self._seq += 1
        data = json.dumps(body, separators=(",", ":")).encode()
        # No await between stamping `seq` and handing the packet to paho: wire order = seq order.
        await client.publish(topic, data, qos=QOS, retain=retain, properties=properties)
        keep_cancellation()
        self.model.record("sent", topic, body)
        return True

    async def _call(
        self, client: aiomqtt.Client, action: str, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Send a call on req/{action} and wait for its reply; None when none came in time."""
        now = self.model.now()
        body = envelope(
            kind=Kind.CALL,
            action=action,
            src=self.locker_id,
            ts=now,
            exp=now + timedelta(seconds=self.timing.expiry),
            payload=payload,
        )
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[body["id"]] = future
        props = call_properties(
            self.mqtt_version,
            response_topic=self._topics.res,
            correlation=body["id"],
            expiry_seconds=self.timing.expiry,
        )
        try:
            if not await self._publish(client, self._topics.req(action), body, properties=props):
                return None
            async with asyncio.timeout(self.timing.call_timeout):
                return await future
        except TimeoutError:
            logger.warning(
                "%s: no reply to %s within %g s", self.locker_id, action, self.timing.call_timeout
            )
            return None
        finally:
            self._pending.pop(body["id"], None)

    # ----- boot gating and heartbeats -----

    async def _boot_and_heartbeat(self, client: aiomqtt.Client, session_id: str) -> None:
        while True:
            interval = await self._boot(client, session_id)
            await self._heartbeats(client, interval)

    async def _boot(self, client: aiomqtt.Client, session_id: str) -> float:
        backoff = Backoff(
            initial=self.timing.boot_retry_initial, maximum=self.timing.boot_retry_max
        )
        while True:
            reply = await self._call(client, "Boot", self.model.boot_payload())
            counters = self.model.counters
            least_wait = 0.0
            if reply is None:
                counters.boot_timeouts += 1
            elif reply["kind"] == Kind.RESULT:
                payload = reply["payload"]
                status = payload.get("status")
                if status == "Accepted":
                    counters.boots_accepted += 1
                    return self._on_accepted(payload)
                if status == "Rejected":
                    counters.boots_rejected += 1
                    await self._on_rejected(client, payload, session_id)
                counters.boots_pending += 1
                self.model.boot_status = "Pending"
                self.model.touch()
                # SPEC §9: after Pending, heartbeatIntervalSeconds is the least wait before Boot.
                least_wait = float(payload.get("heartbeatIntervalSeconds", 0))
                logger.info("%s: Boot answered %s; retrying", self.locker_id, status)
            else:
                counters.boot_errors += 1
                logger.warning("%s: Boot answered with error %s", self.locker_id, reply["error"])
            await asyncio.sleep(max(least_wait, backoff.next_delay()))

    def _on_accepted(self, payload: dict[str, Any]) -> float:
        interval = payload.get("heartbeatIntervalSeconds")
        seconds = (
            float(interval)
            if isinstance(interval, int | float) and not isinstance(interval, bool) and interval > 0
            else _DEFAULT_HEARTBEAT_SECONDS
        )
        logger.info("%s: Boot accepted; heartbeat every %g s", self.locker_id, seconds)
        self.model.boot_status = "Accepted"
        self.model.rejected_reason = None
        self._accepted.set()
        self.model.queue_state()
        if self._outage_after_boot is not None:
            outage, self._outage_after_boot = self._outage_after_boot, None
            # Scripted "offline once booted": the boot stays visible until the session ends.
            self._cut_off(outage)
        return max(seconds, _MIN_HEARTBEAT_SECONDS)

    async def _on_rejected(
        self, client: aiomqtt.Client, payload: dict[str, Any], session_id: str
    ) -> None:
        reason = payload.get("reason")
        self.model.boot_status = "Rejected"
        self.model.rejected_reason = str(reason) if reason is not None else None
        self.model.touch()
        logger.error("%s: Boot rejected (%s); this locker stops", self.locker_id, reason)
        status = self._status(False, session_id)
        await self._publish(client, self._topics.status, status, retain=True)
        raise _SessionEnd

    async def _heartbeats(self, client: aiomqtt.Client, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            reply = await self._call(
                client, "Heartbeat", {"lastEventSeq": self.model.journal.sent_seq}
            )
            if reply is not None and reply["kind"] == Kind.RESULT:
                self.model.counters.heartbeats += 1
            else:
                self.model.counters.heartbeat_failures += 1
            refused = (
                reply is not None
                and reply["kind"] == Kind.ERROR
                and reply["error"].get("code") == ErrorCode.SECURITY_ERROR
            )
            if refused:
                # The gateway no longer counts us as accepted (e.g. it lost its state): boot.
                logger.warning("%s: Heartbeat refused; booting again", self.locker_id)
                self._accepted.clear()
                self.model.boot_status = None
                self.model.touch()
                return

    async def _drain_outbox(self, client: aiomqtt.Client) -> None:
        outbox = self.model.outbox
        while True:
            await self._accepted.wait()
            await outbox.wait()
            item = outbox.head()
            if item is None or not self._accepted.is_set():
                continue
            journal = self.model.journal
            async with journal.wire:  # a replay in progress goes out first, as one block
                journal.sending(item.body)
                if not self._lost_on_the_wire(item.topic, item.body):
                    await self._publish(client, item.topic, item.body, retain=item.retain)
            # Delivered (PUBACK) or invalid for good: either way it leaves the buffer.
            outbox.pop_head()
            self.model.touch()
