"""The OLP adapter under overload: one bounded lane per locker, refusals that are never silent.

A real Mosquitto and the real emulator (or a raw MQTT client where the test needs to send what
no well-behaved locker sends). The host stands in for the gateway as the conformance kit's does,
plus the gateway's journal rule (SPEC §9): apply event mark + 1, drop duplicates, ask for a
replay on a gap or when a Heartbeat reports more than was applied.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from locker_emulator import EmulatorBank
from locker_emulator.layout import CompartmentConfig, LockerConfig

from adapters.olp import OlpAdapter, OlpConfig
from gateway.sdk import (
    BootDecision,
    BootInfo,
    BootStatus,
    CodeEntered,
    DoorClosed,
    DoorOpened,
    JournalReported,
    LockerEvent,
    OpenOutcome,
    OpenPurpose,
    PresenceChanged,
)
from gateway.sdk.scan import ScanAnswer, ScanQuery
from tests.adapters.olp_rig import FAST
from tests.support.mosquitto import Mosquitto

FLOOD, CALM = "FLOOD-01", "CALM-01"
LANE = 16
# What one event costs the gateway (its database transaction). The flood test does not rely on
# it to outrun the host (under load the locker publishes slower too): it holds the host.
APPLY_S = 0.002
# The gateway asks once per mark within this time (EventOrder's hold, shortened).
HOLD_S = 0.2


@dataclass
class JournalHost:
    """An AdapterHost that applies each locker's journaled events once and in order."""

    adapter: OlpAdapter | None = None
    apply_s: float = APPLY_S
    booted: set[str] = field(default_factory=set)
    marks: dict[str, int] = field(default_factory=dict)
    applied: list[LockerEvent] = field(default_factory=list)
    presence: list[PresenceChanged] = field(default_factory=list)
    replays_asked: int = 0
    _asked: dict[str, tuple[int, float]] = field(default_factory=dict)
    # Query on scan (tests/adapters/test_olp_scan.py): the queries asked; raised if set.
    scans: list[ScanQuery] = field(default_factory=list)
    scan_error: Exception | None = None
    # Lockers whose events keep the gateway busy until `release` is set: an overload made by
    # the test, not by hoping the locker publishes faster than the host applies.
    held: set[str] = field(default_factory=set)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def scan_parcel(self, query: ScanQuery) -> ScanAnswer:
        self.scans.append(query)
        if self.scan_error is not None:
            raise self.scan_error
        return ScanAnswer.accepted(query.parcel_id, "A01", unadvised=True)

    async def authorize_boot(self, locker_id: str, info: BootInfo) -> BootDecision:
        self.booted.add(locker_id)
        # One-second heartbeats: events refused at the end of a flood come back within one.
        return BootDecision(BootStatus.ACCEPTED, heartbeat_interval_s=1)

    async def is_booted(self, locker_id: str) -> bool:
        return locker_id in self.booted

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def locker_event(self, event: LockerEvent) -> None:
        if event.locker_id in self.held:
            await self.release.wait()
        await asyncio.sleep(self.apply_s)
        mark = self.marks.get(event.locker_id, 0)
        if isinstance(event, JournalReported):
            if event.last_event_seq > mark:
                await self._replay(event.locker_id, mark)
            return
        if isinstance(event, PresenceChanged):
            self.presence.append(event)
            return
        if event.event_seq is None:
            self.applied.append(event)
        elif event.event_seq == mark + 1:
            self.marks[event.locker_id] = event.event_seq
            self.applied.append(event)
        elif event.event_seq > mark + 1:
            await self._replay(event.locker_id, mark)  # a gap: the early event is dropped

    async def _replay(self, locker_id: str, mark: int) -> None:
        # As the gateway does: one request per mark (the events queued behind a gap would
        # each ask again), from the locker's lane, awaited.
        now = time.monotonic()
        asked = self._asked.get(locker_id)
        if self.adapter is None or (asked is not None and asked[0] == mark and now < asked[1]):
            return
        self._asked[locker_id] = (mark, now + HOLD_S)
        self.replays_asked += 1
        deadline = self.now() + timedelta(seconds=10)
        try:
            await self.adapter.replay_events(locker_id, mark, deadline)
        except Exception:
            self._asked.pop(locker_id, None)  # the next gap or Heartbeat asks again

    def of(self, locker_id: str, kind: type[LockerEvent]) -> list[LockerEvent]:
        return [e for e in self.applied if e.locker_id == locker_id and isinstance(e, kind)]


@pytest.fixture
def broker(tmp_path: Path) -> Any:
    with Mosquitto(tmp_path / "mqtt") as running:
        yield running


def adapter_for(broker: Mosquitto, host: JournalHost, lane: int = LANE) -> OlpAdapter:
    config = OlpConfig(
        mqtt_url=broker.url, instance="gw-overload", connect_timeout_s=5, lane_capacity=lane
    )
    adapter = OlpAdapter(config=config, host=host)
    host.adapter = adapter
    return adapter


async def until(what: str, probe: Any, within: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while not probe():
        if loop.time() > end:
            raise AssertionError(f"{what} did not happen within {within:g} s")
        await asyncio.sleep(0.02)


async def test_a_flooding_locker_is_refused_and_recovered_by_replay_while_another_works(
    broker: Mosquitto,
) -> None:
    doors = (CompartmentConfig("A01", "M"), CompartmentConfig("A02", "M"))
    lockers = [LockerConfig(locker_id=i, compartments=doors) for i in (FLOOD, CALM)]
    host = JournalHost()
    async with (
        EmulatorBank(mqtt_url=broker.url, lockers=lockers, timing=FAST) as bank,
        adapter_for(broker, host) as adapter,
    ):
        await asyncio.wait_for(bank.wait_all_booted(), 20)
        flood, calm = bank[FLOOD], bank[CALM]
        # The gateway is busy with the flooding locker's first event until released: whatever
        # the host's speed, the flood fills that lane (16) and the rest is refused.
        host.held.add(FLOOD)
        codes = 120
        for n in range(codes):
            flood.enter_code(f"{n:08d}")
        await until("the flooding locker's lane refusing", lambda: adapter.refused(FLOOD) > 0)
        # The calm locker is served while the other floods: its door opens and reports.
        deadline = host.now() + timedelta(seconds=5)
        outcome = await adapter.open_compartment(
            CALM, "A01", purpose=OpenPurpose.DEPOSIT, deadline=deadline
        )
        assert outcome is OpenOutcome.UNLOCKED
        calm.deposit("A01")
        await until("the calm locker's DoorClosed", lambda: host.of(CALM, DoorClosed), 10)
        assert host.of(CALM, DoorOpened)
        assert not host.of(FLOOD, CodeEntered)  # served while the flood's lane was still held
        peak = adapter.stats().lanes.queued  # the held lane, full
        host.release.set()

        def recovered() -> bool:
            nonlocal peak
            peak = max(peak, adapter.stats().lanes.queued)
            return len(host.of(FLOOD, CodeEntered)) >= codes

        await until("every code of the flood applied", recovered, 60)
        entered = host.of(FLOOD, CodeEntered)
        # Nothing lost, nothing twice, in the locker's order.
        assert [e.event_seq for e in entered] == list(range(1, codes + 1))
        assert [e.code for e in entered if isinstance(e, CodeEntered)] == [
            f"{n:08d}" for n in range(codes)
        ]
        # It was an overload (the lane refused), and memory stayed bounded by the lanes.
        assert adapter.refused(FLOOD) > 0
        assert host.replays_asked > 0
        assert adapter.refused(CALM) == 0
        assert peak <= 2 * LANE


@pytest.fixture
async def raw_locker(broker: Mosquitto) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client(
        "127.0.0.1", broker.port, identifier="raw-locker", protocol=aiomqtt.ProtocolVersion.V5
    ) as client:
        yield client


def envelope(kind: str, action: str, payload: dict[str, Any], seq: int, **extra: Any) -> bytes:
    message = {
        "olp": "1.0",
        "id": str(uuid.uuid4()),
        "kind": kind,
        "action": action,
        "ts": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "src": FLOOD,
        "seq": seq,
        "payload": payload,
        **extra,
    }
    return json.dumps(message).encode()


def state(firmware: str, seq: int) -> bytes:
    compartment = {
        "code": "A01",
        "sizeClass": "M",
        "door": "closed",
        "itemSensor": "absent",
        "enabled": True,
    }
    payload = {"firmware": firmware, "keySetVersion": None, "compartments": [compartment]}
    return envelope("event", "State", payload, seq)


async def test_a_state_flood_neither_fills_the_lane_nor_delays_door_events(
    broker: Mosquitto, raw_locker: aiomqtt.Client
) -> None:
    host = JournalHost(booted={FLOOD})
    async with adapter_for(broker, host, lane=4) as adapter:
        snapshots = 2000
        for n in range(snapshots):
            await raw_locker.publish(f"olp/v1/{FLOOD}/state", state(f"1.0.{n}", n), qos=1)
        closed = {"compartmentCode": "A01", "itemSensor": "absent"}
        event = envelope("event", "DoorClosed", closed, snapshots, eventSeq=1)
        await raw_locker.publish(f"olp/v1/{FLOOD}/evt/DoorClosed", event, qos=1)
        await until("the DoorClosed", lambda: host.of(FLOOD, DoorClosed), 10)
        # Snapshots never entered the lane (a 4-slot lane would have refused most of 2000),
        # and none was checked on the event path.
        assert adapter.refused(FLOOD) == 0
        assert adapter.stats().states_received == snapshots
        assert adapter.stats().states_checked == 0
        # Read: the newest snapshot, checked once.
        status = await adapter.read_status(FLOOD)
        assert status.firmware == f"1.0.{snapshots - 1}"
        assert [c.code for c in status.compartments] == ["A01"]
        assert adapter.stats().states_checked == 1
        # A newer but invalid snapshot is logged and the last valid one kept.
        await raw_locker.publish(f"olp/v1/{FLOOD}/state", b'{"not": "a state"}', qos=1)
        await until("the bad snapshot", lambda: adapter.stats().states_received > snapshots)
        assert (await adapter.read_status(FLOOD)).firmware == f"1.0.{snapshots - 1}"


async def test_calls_refused_for_a_full_lane_are_answered_unavailable(
    broker: Mosquitto, raw_locker: aiomqtt.Client
) -> None:
    # Slow Heartbeats: the lane (2) fills with the burst, and each refused call is answered.
    host = JournalHost(booted={FLOOD}, apply_s=0.3)
    async with adapter_for(broker, host, lane=2) as adapter:
        await raw_locker.subscribe(f"olp/v1/{FLOOD}/res", qos=1)
        calls = [envelope("call", "Heartbeat", {"lastEventSeq": 0}, n) for n in range(10)]
        for body in calls:
            await raw_locker.publish(f"olp/v1/{FLOOD}/req/Heartbeat", body, qos=1)
        answers: dict[str, dict[str, Any]] = {}

        async def read() -> None:
            async for message in raw_locker.messages:
                assert isinstance(message.payload, bytes)
                reply = json.loads(message.payload)
                answers[reply["corr"]] = reply
                if len(answers) == len(calls):
                    return

        await asyncio.wait_for(read(), 20)
        assert set(answers) == {json.loads(body)["id"] for body in calls}  # none unanswered
        kinds = [reply["kind"] for reply in answers.values()]
        refused = [r for r in answers.values() if r["kind"] == "error"]
        assert refused, kinds
        assert {r["error"]["code"] for r in refused} == {"Unavailable"}
        assert all(r["action"] == "Heartbeat" for r in refused)
        assert adapter.refused(FLOOD) == len(refused)
        assert kinds.count("result") == len(calls) - len(refused)


async def test_of_a_burst_of_presence_changes_only_the_newest_is_kept(
    broker: Mosquitto, raw_locker: aiomqtt.Client
) -> None:
    host = JournalHost(booted={FLOOD}, apply_s=0.05)
    async with adapter_for(broker, host, lane=2) as adapter:
        burst = 40
        for n in range(burst):
            online = {"online": n % 2 == 0}
            body = envelope("event", "Status", online, n)
            await raw_locker.publish(f"olp/v1/{FLOOD}/status", body, qos=1)
        last_online = (burst - 1) % 2 == 0
        await until(
            "the newest Status applied",
            lambda: bool(host.presence) and host.presence[-1].seq == burst - 1,
            10,
        )
        assert host.presence[-1].online is last_online
        assert (await adapter.read_status(FLOOD)).online is last_online
        # Older ones were replaced while the lane was busy, never queued one by one.
        assert len(host.presence) < burst
        assert adapter.refused(FLOOD) == 0


@dataclass
class SlowBootHost(JournalHost):
    """Boots take a while (a database under a boot storm); Boots and Status in their order."""

    boots: int = 0
    calls: list[str] = field(default_factory=list)

    async def authorize_boot(self, locker_id: str, info: BootInfo) -> BootDecision:
        self.boots += 1
        self.calls.append("Boot")
        await asyncio.sleep(0.5)
        return await super().authorize_boot(locker_id, info)

    async def locker_event(self, event: LockerEvent) -> None:
        if isinstance(event, PresenceChanged):
            self.calls.append(f"Status {'online' if event.online else 'offline'}")
        await super().locker_event(event)


def boot_call(seq: int) -> bytes:
    door = {"code": "A01", "sizeClass": "M"}
    payload = {"vendor": "v", "model": "m", "firmware": "1", "features": [], "compartments": [door]}
    return envelope("call", "Boot", payload, seq)


async def test_a_newer_boot_replaces_an_older_one_still_queued(
    broker: Mosquitto, raw_locker: aiomqtt.Client
) -> None:
    host = SlowBootHost()
    async with adapter_for(broker, host, lane=4):
        await raw_locker.subscribe(f"olp/v1/{FLOOD}/res", qos=1)
        boots = [boot_call(n) for n in range(4)]
        await raw_locker.publish(f"olp/v1/{FLOOD}/req/Boot", boots[0], qos=1)
        await until("the first Boot in the gateway", lambda: host.boots == 1, 10)
        # Retries while the first is being answered: only the newest is kept.
        for body in boots[1:]:
            await raw_locker.publish(f"olp/v1/{FLOOD}/req/Boot", body, qos=1)
        answered: list[str] = []

        async def answers(count: int) -> None:
            async with asyncio.timeout(10):
                async for message in raw_locker.messages:
                    assert isinstance(message.payload, bytes)
                    answered.append(json.loads(message.payload)["corr"])
                    if len(answered) == count:
                        return

        await answers(2)
        # A later Boot on the same lane is answered after anything still queued before it:
        # its answer coming next proves no replaced Boot was kept.
        later = boot_call(4)
        await raw_locker.publish(f"olp/v1/{FLOOD}/req/Boot", later, qos=1)
        await answers(3)
        assert host.boots == 3
        assert answered == [json.loads(b)["id"] for b in (boots[0], boots[3], later)]


async def test_an_online_status_waits_for_the_boot_queued_behind_it(
    broker: Mosquitto, raw_locker: aiomqtt.Client
) -> None:
    """Connecting, a locker publishes its Status online, then its Boot: the Boot is answered
    first (the Status would be a transaction it waits for), the Status handed on after it."""
    host = SlowBootHost()
    async with adapter_for(broker, host, lane=4) as adapter:
        await raw_locker.publish(f"olp/v1/{FLOOD}/req/Boot", boot_call(0), qos=1)
        await until("the first Boot in the gateway", lambda: host.boots == 1, 10)
        # The lane is busy with that Boot while the locker reconnects: Status, then Boot.
        status = envelope("event", "Status", {"online": True}, 1)
        await raw_locker.publish(f"olp/v1/{FLOOD}/status", status, qos=1)
        await raw_locker.publish(f"olp/v1/{FLOOD}/req/Boot", boot_call(2), qos=1)
        await until("the Status handed on", lambda: bool(host.presence), 10)
        assert host.calls == ["Boot", "Boot", "Status online"]
        assert (await adapter.read_status(FLOOD)).online
        # An offline Status is never held back: it ends the boot session as received.
        offline = envelope("event", "Status", {"online": False}, 3)
        await raw_locker.publish(f"olp/v1/{FLOOD}/status", offline, qos=1)
        await raw_locker.publish(f"olp/v1/{FLOOD}/req/Boot", boot_call(4), qos=1)
        await until("the last Boot", lambda: host.boots == 3, 10)
        assert host.calls[3:] == ["Status offline", "Boot"]


async def test_an_oversized_message_is_never_queued_and_a_call_is_answered(
    broker: Mosquitto, raw_locker: aiomqtt.Client
) -> None:
    # SPEC §9 Size: larger than 64 KiB is answered FormatViolation (calls) or dropped with a log
    # line (events). A lane bounds how many messages it holds: unless the size is checked on
    # receipt, it holds `capacity` messages of whatever size the broker lets through.
    host = JournalHost(booted={FLOOD}, apply_s=2.0)
    async with adapter_for(broker, host, lane=4) as adapter:
        await raw_locker.subscribe(f"olp/v1/{FLOOD}/res", qos=1)
        closed = {"compartmentCode": "A01", "itemSensor": "absent"}
        # The lane's task is busy with this one for two seconds.
        small = envelope("event", "DoorClosed", closed, 0, eventSeq=1)
        await raw_locker.publish(f"olp/v1/{FLOOD}/evt/DoorClosed", small, qos=1)
        padding = {**closed, "pad": "x" * 200_000}
        for n in range(3):
            big = envelope("event", "DoorClosed", padding, 1 + n, eventSeq=2 + n)
            await raw_locker.publish(f"olp/v1/{FLOOD}/evt/DoorClosed", big, qos=1)
        call = envelope("call", "Heartbeat", {"lastEventSeq": 1, "pad": "x" * 200_000}, 4)
        await raw_locker.publish(f"olp/v1/{FLOOD}/req/Heartbeat", call, qos=1)

        async def reply() -> dict[str, Any]:
            async for message in raw_locker.messages:
                assert isinstance(message.payload, bytes)
                answer: dict[str, Any] = json.loads(message.payload)
                return answer
            raise AssertionError("no reply")

        answer = await asyncio.wait_for(reply(), 1.5)  # before the lane's task is free
        assert answer["corr"] == json.loads(call)["id"]
        assert answer["kind"] == "error"
        assert answer["error"]["code"] == "FormatViolation"
        assert "bytes" in answer["error"]["description"]
        assert adapter.stats().lanes.queued == 0  # none of the 200 KB messages in the lane
        assert adapter.stats().too_large == 4
