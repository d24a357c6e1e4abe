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
    LockerNotConnected,
    PresenceChanged,
)
from gateway.sdk.boards import PolledLocker, poll_forever, seconds_left
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
