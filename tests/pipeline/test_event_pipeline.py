"""The event pipeline on SQLite and PostgreSQL: one transaction per event, retries, parking."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection

from gateway.domain.door import FaultKind
from gateway.domain.enums import ItemSensor, ParcelState, SizeClass
from gateway.domain.sizes import SizeRequirement
from gateway.sdk import (
    CodeEntered,
    DoorClosed,
    DoorOpened,
    GrantUse,
    JournalReported,
    LockerEvent,
    LockerFault,
    OpenPurpose,
    PresenceChanged,
    background,
)
from gateway.service.parcels import NewParcel
from gateway.service.parked_events import decode_event, encode_event
from tests.pipeline.conftest import LOCKER, DatabaseFaults, Rig, booking, opening

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "original",
    [
        DoorOpened(
            locker_id="L",
            at=NOW,
            event_id="e1",
            event_seq=7,
            compartment_code="A01",
            grant=GrantUse(jti="j", purpose=OpenPurpose.PICKUP, parcel_uid="u"),
        ),
        DoorClosed(
            locker_id="L", at=NOW, event_id="e2", compartment_code="A01", item=ItemSensor.PRESENT
        ),
        CodeEntered(locker_id="L", at=NOW, event_id="e3", seq=4, code="12345678"),
        LockerFault(
            locker_id="L", at=NOW, event_id="e4", fault=FaultKind.DOOR_JAMMED, cleared=True
        ),
        PresenceChanged(locker_id="L", at=NOW, event_id="e5", online=False, details={"why": "lwt"}),
        JournalReported(locker_id="L", at=NOW, event_id="e6", last_event_seq=9, at_boot=True),
    ],
)
def test_a_parked_event_comes_back_from_its_json_as_it_was(original: LockerEvent) -> None:
    name, data = encode_event(original)
    assert name == type(original).__name__
    assert decode_event(name, json.loads(json.dumps(data))) == original


class Transactions:
    """BEGINs on the store's engine (no background work runs in the rig meanwhile)."""

    def __init__(self, rig: Rig) -> None:
        self.count = 0
        event.listen(rig.store.engine.sync_engine, "begin", self._on_begin)

    def _on_begin(self, _conn: Connection) -> None:
        self.count += 1


async def test_each_door_transition_is_one_transaction(rig: Rig) -> None:
    await rig.opened_parcel("P-0")  # warms the adapter directory's cache
    transactions = Transactions(rig)
    cmd = NewParcel(
        carrier_id="acme", parcel_id="P-1", locker_id=LOCKER, need=SizeRequirement(SizeClass.S)
    )
    booked = await rig.parcels.create(cmd, booking("book-P-1"))
    assert booked.answer["state"] == "reserved"
    before = transactions.count
    answered = await rig.side.unlocks.remote_open_once("acme", "P-1", opening("open-P-1"))
    answer = answered.answer
    assert answer["outcome"] == "Unlocked"
    # Claim + parcel + door session; then outcome + audit + idempotent answer.
    assert transactions.count - before == 2
    door = answer["compartmentCode"]
    for locker_event in (rig.opened(door), rig.deposited(door)):
        before = transactions.count
        await rig.side.host.locker_event(locker_event)
        assert transactions.count - before == 1, type(locker_event).__name__
    assert await rig.state("P-1") is ParcelState.READY_FOR_PICKUP


async def test_a_transient_failure_is_retried_and_nothing_is_lost(
    rig: Rig, faults: DatabaseFaults
) -> None:
    door, _ = await rig.opened_parcel("P-1")
    closed = rig.deposited(door)
    await faults.transient("door_sessions")
    rig.sleeps.after, rig.sleeps.cure = 2, faults.heal  # the database recovers after 2 waits

    await rig.side.host.locker_event(closed)

    counts = rig.side.pipeline.counts
    assert (counts.retries, counts.parked, counts.unparked) == (2, 0, 0)
    assert await rig.state("P-1") is ParcelState.READY_FOR_PICKUP
    assert await rig.mark() == closed.event_seq
    # The waits grow (backoff_s) and stay within the policy's cap.
    assert all(0 < wait <= 0.05 for wait in rig.sleeps.waits)
    async with rig.store.transaction() as tx:
        assert await tx.parked_events.count() == 0


async def test_a_database_down_for_every_attempt(rig: Rig, faults: DatabaseFaults) -> None:
    """PostgreSQL: the table refuses (40001) but parking works, so the event is parked. SQLite:
    the whole file is locked, parking fails too: the mark stays for the journal's replay."""
    door, _ = await rig.opened_parcel("P-1")
    mark = await rig.mark()
    closed = rig.deposited(door)
    await faults.transient("door_sessions")

    await rig.side.host.locker_event(closed)

    counts = rig.side.pipeline.counts
    assert counts.retries == 3  # 4 attempts
    await faults.heal()
    if rig.postgres:
        assert (counts.parked, counts.unparked) == (1, 0)
        assert await rig.mark() == closed.event_seq
        async with rig.store.transaction() as tx:
            [parked] = await tx.parked_events.page()
        assert (parked.type, parked.attempts) == ("DoorClosed", 4)
        assert parked.error.startswith("ConcurrentUpdate")
    else:
        assert (counts.parked, counts.unparked) == (0, 1)
        assert await rig.mark() == mark
    assert await rig.state("P-1") is ParcelState.RESERVED


async def openlocker(rig: Rig, *args: str) -> tuple[int, str]:
    """The real CLI entry point, in its own thread and event loop, as an operator runs it."""
    from gateway.cli import main

    out = io.StringIO()

    def run() -> int:
        with contextlib.redirect_stdout(out):
            return main(["--database-url", rig.url, *args])

    code = await asyncio.to_thread(run)
    return code, out.getvalue()


async def test_a_permanently_failing_event_is_parked_listed_and_retried(
    rig: Rig, faults: DatabaseFaults
) -> None:
    door, _ = await rig.opened_parcel("P-1")
    closed = rig.deposited(door)
    await faults.refuse_updates("door_sessions", "door sessions are read-only")

    await rig.side.host.locker_event(closed)

    counts = rig.side.pipeline.counts
    # Not the database's weather: parked at once, without retries.
    assert (counts.retries, counts.parked) == (0, 1)
    assert await rig.state("P-1") is ParcelState.RESERVED
    # The locker is not wedged: the mark moved past the parked event, the next one applies.
    assert await rig.mark() == closed.event_seq
    other = DoorOpened(
        locker_id=LOCKER,
        at=datetime.now(UTC),
        event_id=str(uuid.uuid4()),
        event_seq=rig.next_seq(),
        compartment_code="C06",
    )
    await rig.side.host.locker_event(other)
    assert await rig.mark() == other.event_seq
    # A redelivery of the parked event is a duplicate: applied never, parked once.
    await rig.side.host.locker_event(closed)
    assert counts.parked == 1

    code, out = await openlocker(rig, "events", "parked", "--json")
    assert code == 0
    [listed] = [json.loads(line) for line in out.splitlines()]
    assert listed["type"] == "DoorClosed"
    assert (listed["lockerId"], listed["eventId"]) == (LOCKER, closed.event_id)
    assert listed["eventSeq"] == closed.event_seq
    assert "door sessions are read-only" in listed["error"]
    code, out = await openlocker(rig, "events", "parked", "--locker", "ELSEWHERE")
    assert out.strip() == "no parked events"

    # Retried while the fault lasts: it fails again and stays parked, unflagged.
    assert (await openlocker(rig, "events", "retry", "--all"))[0] == 0
    assert await rig.side.pipeline.retry_flagged() == 0
    async with rig.store.transaction() as tx:
        [again] = await tx.parked_events.page()
    assert (again.attempts, again.retry_requested_at) == (2, None)

    await faults.heal()
    code, out = await openlocker(rig, "events", "retry", str(listed["id"]), "999")
    assert code == 1  # 999 is no parked event; the other is flagged all the same
    assert "1 parked event(s) flagged" in out
    # The gateway's sweep (as app.py runs it) applies the flagged event.
    async with background(rig.side.pipeline.sweep_forever(), "parked-events"):
        for _ in range(500):
            if await rig.state("P-1") is ParcelState.READY_FOR_PICKUP:
                break
            await asyncio.sleep(0.01)
    assert await rig.state("P-1") is ParcelState.READY_FOR_PICKUP
    assert (await openlocker(rig, "events", "parked"))[1].strip() == "no parked events"
    assert counts.parked_applied == 1


async def test_a_parked_keypad_entry_never_opens_a_door_later(
    rig: Rig, faults: DatabaseFaults
) -> None:
    await faults.refuse_updates("keypad_attempts", "the keypad counter is read-only")
    entry = CodeEntered(
        locker_id=LOCKER,
        at=datetime.now(UTC),
        event_id=str(uuid.uuid4()),
        event_seq=rig.next_seq(),
        code="12345678",
    )
    await rig.side.host.locker_event(entry)
    async with rig.store.transaction() as tx:
        parked = await tx.parked_events.page()
    assert [p.type for p in parked] == ["CodeEntered"]
    await faults.heal()
    async with rig.store.transaction() as tx:
        await tx.parked_events.request_retry()
    assert await rig.side.pipeline.retry_flagged() == 0
    async with rig.store.transaction() as tx:
        assert await tx.parked_events.count() == 0  # taken and discarded, with a log line
