"""gateway.sdk.boards: boot sessions of polled lockers, read order, the poll loop, deadlines."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from gateway.sdk import (
    AdapterTimeout,
    BootDecision,
    BootInfo,
    BootStatus,
    DoorClosed,
    DoorOpened,
    LockerEvent,
    LockerNotConnected,
    PresenceChanged,
)
from gateway.sdk.boards import BoardEvents, PolledLocker, poll_forever, seconds_left
from gateway.sdk.polling import DoorReading
from gateway.sdk.testing import RecordingHost
from gateway.sdk.testing.host import RecordedBoot

LOCKER = "LK-1"
SHUT = {"A1": DoorReading(door_closed=True)}
OPEN = {"A1": DoorReading(door_closed=False)}


class Gateway(RecordingHost):
    """Accepts or refuses boots as the test says, and counts how often it is asked."""

    def __init__(self) -> None:
        super().__init__(heartbeat_interval_s=60)
        self.accept = True

    async def authorize_boot(self, locker_id: str, info: BootInfo) -> BootDecision:
        if self.accept:
            return await super().authorize_boot(locker_id, info)
        self.boots.append(RecordedBoot(locker_id, info, self.now()))
        return BootDecision(BootStatus.REJECTED, 60, "not provisioned")


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _info() -> BootInfo:
    return BootInfo(vendor="test", model="m", firmware="1", compartments=())


def _locker(host: RecordingHost, clock: Clock) -> PolledLocker:
    return PolledLocker(locker_id=LOCKER, host=host, offline_after=2, boot_retry_s=10, clock=clock)


async def test_boot_is_asked_once_and_again_only_after_the_retry_time_when_refused() -> None:
    host, clock = Gateway(), Clock()
    polled = _locker(host, clock)
    host.accept = False
    assert not await polled.boot(_info)
    clock.t += 9.9
    assert not await polled.boot(_info)
    assert len(host.boots) == 1, "asked again before boot_retry_s"
    clock.t += 0.2
    host.accept = True
    assert await polled.boot(_info)
    assert await polled.boot(_info)
    assert len(host.boots) == 2
    polled.require_booted("open")


async def test_events_wait_for_the_first_boot_and_an_outage_ends_the_session() -> None:
    host, clock = Gateway(), Clock()
    polled = _locker(host, clock)
    with pytest.raises(LockerNotConnected):
        polled.require_booted("open")
    assert polled.observe(SHUT) == [], "a locker never accepted reports nothing"
    assert await polled.boot(_info)
    assert [type(e) for e in polled.observe(OPEN)] == [DoorOpened]
    assert polled.failed("timeout") == []
    (offline,) = polled.failed("timeout")
    assert isinstance(offline, PresenceChanged)
    assert not offline.online
    assert not polled.booted
    # Back before it booted again: what changed is still reported.
    events = polled.observe(SHUT)
    assert [type(e) for e in events] == [PresenceChanged, DoorClosed]


async def test_a_refused_locker_reports_nothing_but_a_dark_one_is_reported_offline() -> None:
    host, clock = Gateway(), Clock()
    dark = _locker(host, clock)
    dark.failed("no reply")
    assert [type(e) for e in dark.failed("no reply")] == [PresenceChanged]

    refused = _locker(host, clock)
    host.accept = False
    assert not await refused.boot(_info)
    assert refused.observe(SHUT) == []
    refused.failed("no reply")
    assert refused.failed("no reply") == []


async def test_a_read_overtaken_by_a_newer_one_is_dropped_per_part() -> None:
    polled = _locker(Gateway(), Clock())
    assert await polled.boot(_info)
    polled.observe(SHUT, ticket=polled.ticket(), part=0)
    poll = polled.ticket()  # a poll's read of board 0 goes out
    unlock = polled.ticket()  # then an unlock's, answered with the door open
    assert [type(e) for e in polled.observe(OPEN, ticket=unlock, part=0)] == [DoorOpened]
    assert polled.observe(SHUT, ticket=poll, part=0) == [], "the older read reported the door"
    assert polled.tracker.readings["A1"] == OPEN["A1"]
    # Another board's reads are not ordered against board 0's.
    other = {"B1": DoorReading(door_closed=True)}
    polled.observe(other, ticket=poll, part=1)
    assert "B1" in polled.tracker.readings


def test_seconds_left() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert seconds_left(now + timedelta(seconds=2), now, what="open") == 2.0
    assert seconds_left(now + timedelta(seconds=2), now, what="open", cap=0.3) == 0.3
    with pytest.raises(AdapterTimeout, match="open A1: the deadline has passed"):
        seconds_left(now, now, what="open A1")


async def test_poll_forever_survives_a_failing_poll_and_stops_when_told() -> None:
    polls: list[str] = []

    async def poll(name: str) -> None:
        polls.append(name)
        if name == "bad":
            raise RuntimeError("codec bug")

    async with asyncio.timeout(5):
        await poll_forever(
            interval_s=0.01,
            lockers={"L1": "bad", "L2": "good"},
            poll=poll,
            stopped=lambda: len(polls) >= 6,
        )
    assert polls == ["bad", "good"] * 3


class SlowGateway(RecordingHost):
    """Applies an event only when the test lets it (`gate`), as a stalled database would."""

    def __init__(self) -> None:
        super().__init__(apply_s=0)
        self.gate = asyncio.Event()
        self.applied: list[LockerEvent] = []

    async def locker_event(self, event: LockerEvent) -> None:
        await super().locker_event(event)
        await self.gate.wait()
        self.applied.append(event)


def _door_events(events: list[LockerEvent]) -> list[tuple[str, str]]:
    return [
        (type(e).__name__, e.compartment_code)
        for e in events
        if isinstance(e, DoorOpened | DoorClosed)
    ]


async def test_board_events_reach_the_host_in_order_one_at_a_time_per_locker() -> None:
    host = RecordingHost(apply_s=0.01)
    lockers = {
        name: PolledLocker(locker_id=name, host=host, offline_after=2, boot_retry_s=10)
        for name in ("LK-1", "LK-2")
    }
    async with BoardEvents("test", host) as events:
        for polled in lockers.values():
            assert await polled.boot(_info)
            events.publish(polled, polled.observe(SHUT))
        for _ in range(3):
            for polled in lockers.values():
                events.publish(polled, polled.observe(OPEN))
                events.publish(polled, polled.observe(SHUT))
        async with asyncio.timeout(5):
            while host.handed_over.qsize() < 2 * (1 + 6):
                await asyncio.sleep(0.01)
    handed: list[LockerEvent] = []
    while not host.handed_over.empty():
        handed.append(host.handed_over.get_nowait())
    for name in lockers:
        mine = [e for e in handed if e.locker_id == name]
        assert _door_events(mine) == [("DoorOpened", "A1"), ("DoorClosed", "A1")] * 3
        assert host.overlapping(name) == []
    # Each locker has its own lane: their events interleave, neither waits for the other's.
    assert {e.locker_id for e in handed[:4]} == {"LK-1", "LK-2"}


async def test_a_full_lane_retracts_and_the_next_poll_reports_the_change_again() -> None:
    host = SlowGateway()
    polled = PolledLocker(locker_id=LOCKER, host=host, offline_after=2, boot_retry_s=10)
    assert await polled.boot(_info)
    async with BoardEvents("test", host, capacity=1) as events:
        events.publish(polled, polled.observe(SHUT))  # online: taken by the lane's task
        await asyncio.sleep(0.01)
        events.publish(polled, polled.observe(OPEN))  # queued (capacity 1)
        events.publish(polled, polled.observe(SHUT))  # refused: retracted, never waited for
        assert events.stats().refused == 1
        assert polled.tracker.readings["A1"].door_closed is False, "the gateway was told open"
        host.gate.set()
        async with asyncio.timeout(5):
            while len(host.applied) < 2:
                await asyncio.sleep(0.01)
        # The next poll sees the door still shut and reports the close it could not before.
        events.publish(polled, polled.observe(SHUT))
        async with asyncio.timeout(5):
            while len(host.applied) < 3:
                await asyncio.sleep(0.01)
    assert _door_events(host.applied) == [("DoorOpened", "A1"), ("DoorClosed", "A1")]


async def test_publish_after_stop_hands_nothing_over() -> None:
    host = RecordingHost()
    polled = PolledLocker(locker_id=LOCKER, host=host, offline_after=2, boot_retry_s=10)
    assert await polled.boot(_info)
    async with BoardEvents("test", host) as events:
        pass
    events.publish(polled, polled.observe(SHUT))  # an unlock's late reply, say: no error
    await asyncio.sleep(0.01)
    assert host.handed_over.empty()
