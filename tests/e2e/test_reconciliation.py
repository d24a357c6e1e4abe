"""Event order and reconciliation (SPEC §9): journaled events apply once, in order, or replay."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest
from locker_emulator.bank import EmulatorBank

from gateway.app import Gateway
from gateway.domain.compartment import Compartment
from gateway.errors import Unavailable
from gateway.store.parked_events import ParkedEventRepository
from tests.e2e.conftest import FAST, LOCKER, Site, emulated_lockers, eventually
from tests.http.conftest import NETWORK, provision, settings_for
from tests.support.carriers import TestCarrier
from tests.support.clock import MovableClock
from tests.support.mosquitto import Mosquitto

# The shortest heartbeat the gateway allows: the lastEventSeq check runs on every one.
HEARTBEAT_S = 5


async def mark(gateway: Gateway) -> int | None:
    async with gateway.store.transaction() as tx:
        return await tx.sessions.event_mark(LOCKER)


async def compartment(gateway: Gateway, code: str) -> Compartment:
    async with gateway.store.transaction() as tx:
        found = await tx.lockers.compartment(LOCKER, code)
    assert found is not None
    return found


def sent(site: Site, action: str) -> list[dict[str, Any]]:
    """The envelopes of `action` the locker put on the wire, in order."""
    entries = site.locker.log_entries()
    return [
        e["envelope"]
        for e in entries
        if e["direction"] == "sent" and e.get("envelope", {}).get("action") == action
    ]


def received_commands(site: Site, action: str) -> list[dict[str, Any]]:
    entries = site.locker.log_entries()
    return [
        e["envelope"]
        for e in entries
        if e["direction"] == "received" and e.get("envelope", {}).get("action") == action
    ]


async def history(site: Site, parcel_id: str) -> list[str]:
    items = (await site.get(f"/v1/parcels/{parcel_id}/events")).json()["items"]
    return [e["toState"] for e in items]


async def open_door(site: Site, parcel_id: str) -> str:
    parcel = await site.book(parcel_id)
    response = await site.post(f"/v1/parcels/{parcel_id}/open", key=f"open-{parcel_id}")
    assert response.json()["outcome"] == "Unlocked", response.text
    door: str = parcel["compartmentCode"]
    # The DoorOpened of the unlock is processed before the test goes on.
    journal = site.locker.model.journal
    await eventually(lambda: mark(site.gateway), journal.last_seq)
    return door


async def settled(site: Site) -> int:
    """Wait until the gateway processed every event the locker numbered; that number."""
    journal = site.locker.model.journal
    await eventually(lambda: mark(site.gateway), journal.last_seq, timeout=20)
    return journal.last_seq


@contextlib.asynccontextmanager
async def heartbeat_site(database_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    """Like the `site` fixture, with heartbeats every HEARTBEAT_S seconds."""
    carrier = TestCarrier.ed25519("acme", NETWORK)
    clock = MovableClock()
    with Mosquitto(tmp_path / "mqtt") as broker:
        settings = settings_for(
            database_url,
            mqtt_url=broker.url,
            open_timeout_s=3.0,
            heartbeat_interval_s=HEARTBEAT_S,
        )
        async with Gateway(settings=settings, clock=clock) as gateway:
            await gateway.carriers.register("acme", carrier.jwks)
            await provision(gateway, "waw-central.yaml")
            async with EmulatorBank(
                mqtt_url=broker.url,
                lockers=emulated_lockers(),
                timing=FAST,
                root_key=gateway.root_key.public_jwk,
            ) as bank:
                await asyncio.wait_for(bank.wait_all_booted(), 15)
                async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
                    yield Site(gateway, bank, broker, client, carrier, clock)


# ---- the normal path: buffered while offline, applied once in order ----------------------------


async def test_events_sent_while_the_broker_is_down_apply_once_in_order(site: Site) -> None:
    door = await open_door(site, "REC-1")
    before = site.locker.model.journal.last_seq

    site.broker.stop()
    site.locker.deposit(door)  # DoorClosed(present), buffered in the outbox and the journal
    site.locker.enter_code("0000")  # CodeEntered: a wrong code, after the deposit
    assert site.locker.model.journal.last_seq == before + 2
    site.broker.start()

    await site.wait_state("REC-1", "ready_for_pickup", timeout=20)
    assert await settled(site) == before + 2
    assert (await history(site, "REC-1")).count("ready_for_pickup") == 1
    # The wrong code was judged after the deposit it follows, and shown at the keypad.
    shown = site.locker.wait_until(
        lambda: (site.locker.display or {}).get("message") == "CodeRejected"
    )
    await asyncio.wait_for(shown, 10)
    # QoS 1 may have put an event on the wire twice around the outage; once each in order.
    wire = [m for m in sent(site, "DoorClosed") + sent(site, "CodeEntered")]
    assert list(dict.fromkeys(m["eventSeq"] for m in wire)) == [before + 1, before + 2]
    assert len({m["id"] for m in wire}) == 2
    # Events handed to the dying connection count as sent in the Boot's lastEventSeq, so a
    # replay may have been asked for as well: whatever came twice was applied once.


async def test_a_duplicate_event_changes_nothing(site: Site) -> None:
    door = await open_door(site, "REC-2")
    site.locker.deposit(door)
    await site.wait_state("REC-2", "ready_for_pickup")
    last = await settled(site)
    opened = sent(site, "DoorOpened")[-1]
    states = await history(site, "REC-2")

    # The same DoorOpened again (QoS 1 redelivery), and once more under a new id and a fresh
    # time: only its eventSeq tells that it was processed already. Applied, either would
    # show the door open again.
    again = dict(opened)
    renamed = {**opened, "id": str(uuid.uuid4()), "ts": _now(), "seq": opened["seq"] + 1000}
    async with aiomqtt.Client("127.0.0.1", site.broker.port, identifier="replayer") as mqtt:
        for body in (again, renamed):
            await mqtt.publish(f"olp/v1/{LOCKER}/evt/DoorOpened", json.dumps(body), qos=1)
    # A fresh event after them proves they were handled (the locker's queue is in order).
    site.locker.enter_code("0000")
    await eventually(lambda: mark(site.gateway), last + 1)

    assert (await compartment(site.gateway, door)).door.value == "closed"
    assert await history(site, "REC-2") == states
    assert received_commands(site, "ReplayEvents") == []


# ---- gaps: the early event waits for a replay --------------------------------------------------


async def test_a_gap_asks_for_a_replay_and_ends_in_the_right_state(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.service.event_order")
    door = await open_door(site, "REC-3")
    journal = site.locker.model.journal
    closed_seq = journal.last_seq + 1

    site.locker.lose_next_events(1)
    site.locker.deposit(door)  # DoorClosed: the locker counts it sent, nobody receives it
    await eventually(lambda: _async(journal.sent_seq), closed_seq)
    site.locker.enter_code("0000")  # CodeEntered arrives with a gap before it

    await site.wait_state("REC-3", "ready_for_pickup", timeout=10)
    assert await settled(site) == closed_seq + 1
    replays = received_commands(site, "ReplayEvents")
    assert replays
    assert replays[0]["payload"] == {"afterSeq": closed_seq - 1}
    assert f"event {closed_seq + 1} arrived after {closed_seq - 1}" in caplog.text
    # The deposit counted once; the replayed DoorClosed kept its id and number.
    assert (await history(site, "REC-3")).count("ready_for_pickup") == 1
    closed = sent(site, "DoorClosed")
    assert [m["eventSeq"] for m in closed] == [closed_seq]  # on the wire once: by the replay
    item = (await compartment(site.gateway, door)).item.value
    assert item == "present"


# ---- the crash window: lost after PUBACK, recovered from the heartbeat ------------------------


async def test_an_event_acknowledged_but_never_committed_comes_back(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The gateway PUBACKed a DoorClosed and then could neither apply nor park it (the
    database was down for all its retries, as if the gateway had died before its commit): the
    mark did not move, so the next Heartbeat's lastEventSeq brings the event back."""
    caplog.set_level(logging.INFO, logger="gateway.service.event_order")
    async with heartbeat_site(database_url, tmp_path) as site:
        door = await open_door(site, "REC-4")
        processed = await mark(site.gateway)
        side = site.gateway.locker_side
        failures: list[str] = []

        async def database_down(tx: Any, event: Any) -> None:
            failures.append(event.event_id)
            raise Unavailable("the database is down")

        async def parking_down(*_args: Any, **_kwargs: Any) -> bool:
            raise Unavailable("the database is down")

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(side.doors, "closed", database_down)
            patch.setattr(ParkedEventRepository, "park", parking_down)
            site.locker.deposit(door)
            await eventually(lambda: _async(side.pipeline.counts.unparked), 1, timeout=15)
            assert await mark(site.gateway) == processed  # rolled back with the event
            assert await site.state("REC-4") == "reserved"

        await site.wait_state("REC-4", "ready_for_pickup", timeout=3 * HEARTBEAT_S)
        assert await mark(site.gateway) == site.locker.model.journal.last_seq
        assert (await history(site, "REC-4")).count("ready_for_pickup") == 1
        replays = received_commands(site, "ReplayEvents")
        assert replays
        assert replays[0]["payload"] == {"afterSeq": processed}
        assert "asking for a replay" in caplog.text
        # Every attempt was of the very message that failed; the replay applied it.
        assert set(failures) == {sent(site, "DoorClosed")[-1]["id"]}
        assert len(failures) == side.pipeline.counts.retries + 1


async def test_a_boot_that_reports_unprocessed_events_brings_them_back(site: Site) -> None:
    """No Heartbeat comes within this test (60 s): the Boot after a reconnect reports it."""
    door = await open_door(site, "REC-6")
    journal = site.locker.model.journal
    site.locker.lose_next_events(1)
    site.locker.deposit(door)
    await eventually(lambda: _async(journal.sent_seq), journal.last_seq)
    # It never went on the wire (the locker's log says so), and only journaled events move a
    # parcel (a State snapshot does not): there is nothing the gateway could have applied.
    lost = [e for e in site.locker.log_entries() if e["direction"] == "not-sent"]
    assert [e["envelope"]["eventSeq"] for e in lost] == [journal.last_seq], lost
    assert await mark(site.gateway) == journal.last_seq - 1
    assert await site.state("REC-6") == "reserved"

    site.locker.go_offline(0.3)
    await site.wait_state("REC-6", "ready_for_pickup", timeout=15)
    assert await settled(site) == journal.last_seq
    assert received_commands(site, "ReplayEvents")


async def test_a_journal_that_lost_the_events_reconciles_from_state(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="gateway.service.event_order")
    async with heartbeat_site(database_url, tmp_path) as site:
        door = await open_door(site, "REC-5")
        assert (await compartment(site.gateway, door)).door.value == "open"
        journal = site.locker.model.journal

        site.locker.lose_next_events(1)
        site.locker.deposit(door)  # the DoorClosed is lost...
        await eventually(lambda: _async(journal.sent_seq), journal.last_seq)
        site.locker.forget_journal(0)  # ...and so is the locker's copy of it
        lost = journal.last_seq

        # The next Heartbeat reports it; the replay finds nothing; the gateway moves on.
        await eventually(lambda: mark(site.gateway), lost, timeout=3 * HEARTBEAT_S)
        assert f"events {lost}..{lost} are no longer in its journal" in caplog.text

        # The mark moves first, then the door and item states are taken from State.
        async def sensed() -> tuple[str, str]:
            found = await compartment(site.gateway, door)
            return found.door.value, found.item.value

        await eventually(sensed, ("closed", "present"))
        # What the lost event would have decided stays undecided: no guessing about parcels.
        assert await site.state("REC-5") == "reserved"

        # Later events apply normally, with no further replays.
        replays = len(received_commands(site, "ReplayEvents"))
        site.locker.enter_code("0000")
        await eventually(lambda: mark(site.gateway), lost + 1)
        assert len(received_commands(site, "ReplayEvents")) == replays


async def _async(value: Any) -> Any:
    return value


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
