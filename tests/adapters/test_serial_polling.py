"""PollTracker and unpack_bits: door/item snapshots in, DoorOpened/DoorClosed/presence out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.sdk import DoorClosed, DoorOpened, PresenceChanged
from gateway.sdk.domain import DoorState, ItemSensor
from gateway.sdk.polling import DoorReading, PollTracker, unpack_bits

CLOSED_EMPTY = DoorReading(door_closed=True, item=ItemSensor.ABSENT)
OPEN_EMPTY = DoorReading(door_closed=False, item=ItemSensor.ABSENT)
CLOSED_FULL = DoorReading(door_closed=True, item=ItemSensor.PRESENT)


class Clock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.moment += timedelta(milliseconds=1)
        return self.moment


@pytest.fixture
def tracker() -> PollTracker:
    return PollTracker(locker_id="L1", clock=Clock(), offline_after=2)


def test_first_snapshot_is_a_baseline(tracker: PollTracker) -> None:
    events = tracker.observe({"A": CLOSED_EMPTY, "B": OPEN_EMPTY})
    assert [type(e) for e in events] == [PresenceChanged]
    assert isinstance(events[0], PresenceChanged)
    assert events[0].online
    assert tracker.online
    assert tracker.readings["B"].door is DoorState.OPEN


def test_door_changes_become_events(tracker: PollTracker) -> None:
    tracker.observe({"A": CLOSED_EMPTY, "B": CLOSED_EMPTY})
    assert tracker.observe({"A": CLOSED_EMPTY, "B": CLOSED_EMPTY}) == []
    (opened,) = tracker.observe({"A": OPEN_EMPTY, "B": CLOSED_EMPTY})
    assert isinstance(opened, DoorOpened)
    assert (opened.locker_id, opened.compartment_code) == ("L1", "A")
    (closed,) = tracker.observe({"A": CLOSED_FULL})
    assert isinstance(closed, DoorClosed)
    assert closed.item is ItemSensor.PRESENT
    assert closed.at > opened.at
    assert opened.event_id != closed.event_id


def test_item_change_behind_a_closed_door_is_no_door_event(tracker: PollTracker) -> None:
    tracker.observe({"A": CLOSED_EMPTY})
    assert tracker.observe({"A": CLOSED_FULL}) == []
    assert tracker.readings["A"].item is ItemSensor.PRESENT


def test_partial_snapshots_keep_the_rest(tracker: PollTracker) -> None:
    tracker.observe({"A": CLOSED_EMPTY, "B": CLOSED_EMPTY})
    tracker.observe({"B": OPEN_EMPTY})
    assert set(tracker.readings) == {"A", "B"}


def test_presence_from_failures_and_recovery(tracker: PollTracker) -> None:
    tracker.observe({"A": OPEN_EMPTY})
    assert tracker.failed("timeout") == [], "one failure is not offline yet"
    (offline,) = tracker.failed("timeout")
    assert isinstance(offline, PresenceChanged)
    assert not offline.online
    assert offline.details == {"reason": "timeout"}
    assert tracker.failed("still down") == [], "offline is reported once"
    assert tracker.last_error == "still down"
    # Back: online, and what changed meanwhile is reported.
    online, closed = tracker.observe({"A": CLOSED_FULL})
    assert isinstance(online, PresenceChanged)
    assert online.online
    assert isinstance(closed, DoorClosed)
    assert tracker.last_error is None


def test_never_seen_then_failing_is_offline(tracker: PollTracker) -> None:
    tracker.failed("refused")
    (offline,) = tracker.failed("refused")
    assert isinstance(offline, PresenceChanged)
    assert not offline.online
    assert not tracker.online


def test_offline_after_must_be_positive() -> None:
    with pytest.raises(ValueError, match="offline_after"):
        PollTracker(locker_id="L1", clock=Clock(), offline_after=0)


def test_unpack_bits_lsb_first() -> None:
    assert unpack_bits(b"\x05\x80", 16) == [
        True, False, True, False, False, False, False, False,
        False, False, False, False, False, False, False, True,
    ]  # fmt: skip
    assert unpack_bits([0xFF], 3) == [True, True, True]
    with pytest.raises(ValueError, match="at most 8"):
        unpack_bits(b"\x00", 9)


def test_retracted_changes_are_reported_again_by_the_next_poll(tracker: PollTracker) -> None:
    tracker.observe({"A": CLOSED_EMPTY, "B": CLOSED_EMPTY})
    events = tracker.observe({"A": OPEN_EMPTY, "B": CLOSED_EMPTY})
    assert [type(e) for e in events] == [DoorOpened]
    tracker.retract(events)  # the gateway's lane was full
    assert tracker.readings["A"].door is DoorState.CLOSED, "shows what the gateway was told"
    again = tracker.observe({"A": OPEN_EMPTY, "B": CLOSED_EMPTY})
    assert [(type(e), getattr(e, "compartment_code", None)) for e in again] == [(DoorOpened, "A")]
    assert again[0].event_id != events[0].event_id
    closed = tracker.observe({"A": CLOSED_FULL, "B": CLOSED_EMPTY})
    tracker.retract(closed)
    assert [type(e) for e in tracker.observe({"A": CLOSED_FULL, "B": CLOSED_EMPTY})] == [DoorClosed]


def test_retracted_presence_is_reported_again(tracker: PollTracker) -> None:
    online = tracker.observe({"A": CLOSED_EMPTY})
    tracker.retract(online)
    assert [type(e) for e in tracker.observe({"A": CLOSED_EMPTY})] == [PresenceChanged]
    tracker.failed("timeout")
    offline = tracker.failed("timeout")
    assert [type(e) for e in offline] == [PresenceChanged]
    tracker.retract(offline)
    assert tracker.online, "the gateway was not told the locker went offline"
    again = tracker.failed("timeout")
    assert len(again) == 1
    assert isinstance(again[0], PresenceChanged)
    assert not again[0].online
