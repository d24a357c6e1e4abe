"""The locker's event journal: numbering, bounds, and ReplayEvents over a real broker."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from locker_emulator import EmulatorBank, Spec
from locker_emulator.journal import EventJournal
from locker_emulator.messages import PayloadError, ReplayEvents, parse_command

from tests.emulator.conftest import make_bank
from tests.emulator.fake_gateway import FakeGateway, SpecCheck, is_event
from tests.support.mosquitto import Mosquitto

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def journal_with(count: int, **options: Any) -> EventJournal:
    journal = EventJournal(**options)
    for n in range(count):
        body: dict[str, Any] = {"id": f"e{n + 1}", "action": "DoorOpened"}
        journal.record("olp/v1/L/evt/DoorOpened", body, T0 + timedelta(minutes=n))
    return journal


def test_events_are_numbered_from_one_without_gaps() -> None:
    journal = EventJournal()
    bodies: list[dict[str, Any]] = [{"id": str(n)} for n in range(3)]
    numbers = [journal.record("t", body, T0) for body in bodies]
    assert numbers == [1, 2, 3]
    assert [b["eventSeq"] for b in bodies] == [1, 2, 3]
    assert (journal.oldest_seq, journal.last_seq, journal.sent_seq) == (1, 3, 0)


def test_only_events_that_went_on_the_wire_are_replayed() -> None:
    journal = journal_with(4)
    assert journal.after(0) == []
    journal.sending({"eventSeq": 3})
    journal.sending({"eventSeq": 2})  # a resent older one never moves the mark back
    assert journal.sent_seq == 3
    assert [e.number for e in journal.after(1)] == [2, 3]
    journal.sending({"action": "State"})  # not journaled: ignored
    assert journal.sent_seq == 3


def test_the_journal_is_bounded_by_size_and_age() -> None:
    by_size = journal_with(5, limit=3)
    assert (len(by_size), by_size.oldest_seq, by_size.last_seq) == (3, 3, 5)

    by_age = journal_with(3, max_age=timedelta(minutes=30))
    late: dict[str, Any] = {"id": "late"}
    by_age.record("t", late, T0 + timedelta(hours=1, minutes=1))
    # Events 1..3 are older than 30 minutes by then.
    assert (len(by_age), by_age.oldest_seq, late["eventSeq"]) == (1, 4, 4)

    with pytest.raises(ValueError, match="at least one"):
        EventJournal(limit=0)


def test_a_forgotten_journal_reports_where_it_resumes() -> None:
    journal = journal_with(5)
    journal.forget(2)
    assert (journal.oldest_seq, journal.last_seq) == (4, 5)
    journal.forget()
    assert (len(journal), journal.oldest_seq) == (0, 6)
    with pytest.raises(ValueError, match="negative"):
        journal.forget(-1)


async def test_replay_sends_in_order_and_counts() -> None:
    journal = journal_with(4)
    journal.sending({"eventSeq": 4})
    out: list[tuple[str, int]] = []

    async def send(topic: str, body: dict[str, Any]) -> bool:
        out.append((body["id"], body["eventSeq"]))
        return bool(body["id"] != "e3")  # one the spec check refuses

    result = await journal.replay(1, send)
    assert out == [("e2", 2), ("e3", 3), ("e4", 4)]
    assert result == {"replayed": 2, "oldestSeq": 1, "lastSeq": 4}


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({}, "missing"),
        ({"afterSeq": -1}, ">= 0"),
        ({"afterSeq": True}, ">= 0"),
        ({"afterSeq": 1, "extra": 2}, "unknown"),
    ],
)
def test_replay_events_payload_errors(payload: dict[str, Any], error: str) -> None:
    with pytest.raises(PayloadError, match=error):
        parse_command("ReplayEvents", payload)


def test_replay_events_parses() -> None:
    assert parse_command("ReplayEvents", {"afterSeq": 7}) == ReplayEvents(7)


# ---- over MQTT ------------------------------------------------------------------------------


async def test_replay_events_republishes_the_originals_then_answers(
    bank: EmulatorBank, gateway: FakeGateway
) -> None:
    locker = bank["EMU-001"]
    opened = await gateway.command(
        "EMU-001", "OpenCompartment", {"compartmentCode": "A01", "purpose": "deposit"}
    )
    await gateway.reply_to(opened)
    locker.deposit("A01")
    first = await gateway.wait_for(is_event("DoorClosed"))
    originals = [s.message for s in gateway.where(lambda s: "eventSeq" in s.message)]
    assert [m["eventSeq"] for m in originals] == [1, 2]

    replay = await gateway.command("EMU-001", "ReplayEvents", {"afterSeq": 0})
    result = await gateway.reply_to(replay)
    assert result.payload == {"replayed": 2, "oldestSeq": 1, "lastSeq": 2}
    journaled = gateway.where(lambda s: "eventSeq" in s.message)
    # Unchanged (same id, number, ts and seq), in order, and before the result.
    assert [s.message for s in journaled] == originals + originals
    assert all(s.at <= result.at for s in journaled)
    assert first.message["eventSeq"] == 2

    # Nothing after the newest: an empty replay, still answered.
    tail = await gateway.command("EMU-001", "ReplayEvents", {"afterSeq": 2})
    assert (await gateway.reply_to(tail)).payload == {"replayed": 0, "oldestSeq": 1, "lastSeq": 2}

    locker.forget_journal(0)
    gone = await gateway.command("EMU-001", "ReplayEvents", {"afterSeq": 0})
    assert (await gateway.reply_to(gone)).payload == {"replayed": 0, "oldestSeq": 3, "lastSeq": 2}


async def test_heartbeat_and_boot_report_the_last_event_sent(
    broker: Mosquitto, spec: Spec, spec_check: SpecCheck
) -> None:
    async with FakeGateway(port=broker.port, heartbeat_seconds=1, check=spec_check) as gateway:
        async with make_bank(broker, spec) as bank:
            async with asyncio.timeout(5):
                await bank.wait_all_booted()
            locker = bank["EMU-001"]
            boot = gateway.where(lambda s: s.action == "Boot" and s.kind == "call")
            assert boot[0].payload["lastEventSeq"] == 0
            locker.lose_next_events(1)
            locker.enter_code("1234")
            locker.enter_code("5678")
            await gateway.wait_for(is_event("CodeEntered"))
            # The first was lost on the wire; the locker counts it as sent all the same.
            codes = [s.payload["code"] for s in gateway.where(is_event("CodeEntered"))]
            assert codes == ["5678"]
            assert locker.model.journal.sent_seq == 2
            beat = await gateway.wait_for(
                lambda s: s.action == "Heartbeat" and s.payload.get("lastEventSeq") == 2, within=5
            )
            assert beat.kind == "call"
            with pytest.raises(ValueError, match="negative"):
                locker.lose_next_events(-1)
        assert gateway.invalid == []
