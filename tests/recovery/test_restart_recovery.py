"""A gateway SIGKILLed with work in flight finishes or reconciles it when it starts again.

Real parts: a gateway process (`openlocker serve`) on its own PostgreSQL database, a private
Mosquitto, the emulated locker (in this process, so the test counts its physical opens) and,
for deliveries, a carrier's webhook receiver (a real aiohttp server). Nothing is replayed by
a carrier here: what finishes, the restarted gateway finishes on its own, and says so (the
log, the audit trail), as docs/operations.md "After a crash" tells an operator.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from locker_emulator.bank import EmulatorBank

from gateway.service.carriers import CarrierService
from gateway.service.layouts import parse_layout
from gateway.service.lockers import LockerService
from gateway.store import Store
from tests.e2e.conftest import FAST, LOCKER, emulated_lockers
from tests.recovery.test_killed_open import (
    LAYOUT,
    NETWORK,
    OPEN_TIMEOUT_S,
    ROOT,
    GatewayProcess,
    Site,
    database,
)
from tests.support.carriers import TestCarrier
from tests.support.mosquitto import Mosquitto
from tests.webhooks.conftest import FakeCarrier

pytestmark = pytest.mark.postgres
__all__ = ["database"]  # the fixture, imported for this module's tests

WEBHOOK_LEASE_S = 3.0


@pytest.fixture
async def receiver() -> AsyncIterator[FakeCarrier]:
    async with FakeCarrier() as carrier:
        yield carrier


@pytest.fixture
async def site(database: str, tmp_path: Path) -> AsyncIterator[Site]:
    """As tests/recovery/test_killed_open.py's, with webhooks allowed to this host and a
    short delivery lease (a killed gateway's row in flight is retried once it ends)."""
    carrier = TestCarrier.ed25519("acme", NETWORK)
    async with Store.connect(database) as store:
        await store.migrate()
        await CarrierService(store=store).register("acme", carrier.jwks)
        locker, doors = parse_layout(LAYOUT.read_text()).to_domain()
        await LockerService(store=store).provision(locker, doors)
    with Mosquitto(tmp_path / "mqtt") as broker:
        env = {
            "OPENLOCKER_DATABASE_URL": database,
            "OPENLOCKER_MQTT_URL": broker.url,
            "OPENLOCKER_HTTP_PORT": "0",
            "OPENLOCKER_NETWORK_ID": NETWORK,
            "OPENLOCKER_INSTANCE": "gw-1",
            "OPENLOCKER_LOCKERS__OPEN_TIMEOUT": str(OPEN_TIMEOUT_S),
            "OPENLOCKER_WEBHOOKS__ALLOW_PRIVATE_TARGETS": '["127.0.0.0/8"]',
            "OPENLOCKER_WEBHOOKS__TIMEOUT": "2",
            "OPENLOCKER_WEBHOOKS__LEASE": str(WEBHOOK_LEASE_S),
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'hardware-emulator'}",
            "PYTHONUNBUFFERED": "1",
        }
        gateway = GatewayProcess(env, tmp_path)
        try:
            url = await gateway.start()
            async with EmulatorBank(
                mqtt_url=broker.url, lockers=emulated_lockers(), timing=FAST
            ) as bank:
                await asyncio.wait_for(bank.wait_all_booted(), 15)
                yield Site(gateway, bank, carrier, database, url)
        finally:
            gateway.stop()


async def fetch(site: Site, query: str, *args: Any) -> list[Any]:
    conn = await asyncpg.connect(site.database_url)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def until(site: Site, query: str, wanted: Any, within: float, *args: Any) -> None:
    """Poll the database until `query`'s first value is `wanted` (bounded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last = None
    while loop.time() < deadline:
        rows = await fetch(site, query, *args)
        last = rows[0][0] if rows else None
        if last == wanted:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{query}: still {last!r} after {within} s, wanted {wanted!r}")


async def test_an_unlock_in_flight_at_the_kill_is_ended_unperformed_at_restart(
    site: Site,
) -> None:
    locker = site.bank[LOCKER]
    door = await site.book("REC-UNLOCK-1")
    # The locker is busy past the command's exp: it drops the command and never opens.
    locker.update_faults({"slow_replies": OPEN_TIMEOUT_S + 1.0})
    first = asyncio.create_task(site.post("/v1/parcels/REC-UNLOCK-1/open", key="rec-open-1"))
    await site.kill_once_requested(first)
    [(session_id,)] = await fetch(site, "SELECT id FROM door_sessions WHERE state = 'requested'")
    await site.restart()
    locker.update_faults({"slow_replies": 0.0})

    # No carrier asks again: the restarted gateway ends the session once its deadline passed.
    state = "SELECT state FROM door_sessions WHERE id = $1"
    await until(site, state, "failed", OPEN_TIMEOUT_S + 15, session_id)
    entries = await fetch(
        site, "SELECT actor, details FROM audit_log WHERE action = 'recovery.reconciled'"
    )
    assert len(entries) == 1, entries
    actor, details = entries[0]
    assert actor == "gateway:gw-1"
    assert '"outcome": "ended-unperformed"' in details, details
    assert f'"doorSession": {session_id}' in details, details
    log = site.gateway.log_text()
    assert "recovery at start: 1 door session(s) in flight" in log, log[-3000:]
    assert f"recovery: door session {session_id} ({LOCKER}/{door}" in log
    assert locker.unlock_count(door) == 0
    # The door's next open is the carrier's fresh request, not a leftover of the old one.
    again = await site.post("/v1/parcels/REC-UNLOCK-1/open", key="rec-open-2")
    assert again.json()["outcome"] == "Unlocked", again.text
    assert locker.unlock_count(door) == 1


async def test_a_door_used_while_the_gateway_was_dead_moves_its_parcel_at_restart(
    site: Site,
) -> None:
    locker = site.bank[LOCKER]
    door = await site.book("REC-DEPOSIT-1")
    locker.update_faults({"slow_replies": 1.0})  # acts within the deadline, answers late
    first = asyncio.create_task(site.post("/v1/parcels/REC-DEPOSIT-1/open", key="rec-dep-1"))
    await site.kill_once_requested(first)
    # The locker opens while no gateway listens; the courier deposits and shuts the door.
    async with asyncio.timeout(10):
        await locker.wait_door(door, "open")
    locker.deposit(door)
    await site.restart()

    # The restarted gateway applies what the locker did (its journal), without a Heartbeat
    # and without a replay by the carrier: the parcel is ready for pickup.
    parcel_state = "SELECT state FROM parcels WHERE parcel_id = 'REC-DEPOSIT-1'"
    await until(site, parcel_state, "ready_for_pickup", 20)
    sessions = await fetch(site, "SELECT state FROM door_sessions ORDER BY id")
    assert [s for (s,) in sessions] == ["closed"]
    assert locker.unlock_count(door) == 1


async def test_a_delivery_in_flight_at_the_kill_is_sent_again_after_restart(
    site: Site, receiver: FakeCarrier
) -> None:
    headers = site.carrier.auth() | {"Idempotency-Key": "rec-sub-1"}
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as client:
        created = await client.post("/v1/webhooks", json={"url": receiver.url()}, headers=headers)
    assert created.status_code == 201, created.text
    receiver.on().delay_s = 30.0  # an attempt hangs in the receiver
    body = {"parcelId": "REC-HOOK-1", "lockerId": LOCKER, "sizeClass": "S", "reserve": False}
    booked = await site.post("/v1/parcels", key="book-rec-hook-1", body=body)
    assert booked.status_code == 201, booked.text
    # Claimed (its lease taken, the request on its way): in flight. Killed before its answer.
    attempts = "SELECT attempts FROM outbox WHERE carrier_id = 'acme'"
    await until(site, attempts, 1, 15)
    site.gateway.kill()
    receiver.on().delay_s = 0.0
    await site.restart()

    # Sent again once the dead process's lease ends: at least once, with the same event id.
    state = "SELECT state FROM outbox WHERE carrier_id = 'acme'"
    await until(site, state, "delivered", WEBHOOK_LEASE_S + 20)
    [(event_id, tries)] = await fetch(
        site, "SELECT event_id, attempts FROM outbox WHERE carrier_id = 'acme'"
    )
    assert tries == 2, "the killed attempt counts; the retry came after its lease"
    assert event_id in {r.event_id for r in receiver.delivered()}


async def test_a_door_closed_whose_event_is_gone_for_good_is_finished_from_the_state(
    site: Site,
) -> None:
    locker = site.bank[LOCKER]
    door = await site.book("REC-STATE-1")
    opened = await site.post("/v1/parcels/REC-STATE-1/open", key="rec-state-open")
    assert opened.json()["outcome"] == "Unlocked", opened.text
    session_state = "SELECT state FROM door_sessions WHERE parcel_uid IS NOT NULL"
    await until(site, session_state, "open", 10)
    site.gateway.kill()
    # The courier deposits while no gateway listens; that DoorClosed is lost on the wire and
    # the locker's journal is wiped: only its retained State still says the door is shut.
    locker.lose_next_events(1)
    locker.deposit(door)
    locker.forget_journal(0)
    await site.restart()

    parcel_state = "SELECT state FROM parcels WHERE parcel_id = 'REC-STATE-1'"
    await until(site, parcel_state, "ready_for_pickup", 20)
    await until(site, session_state, "closed", 5)
    entries = await fetch(
        site, "SELECT details FROM audit_log WHERE action = 'recovery.reconciled'"
    )
    assert len(entries) == 1, entries
    assert "closed-from-state" in entries[0][0], entries
    log = site.gateway.log_text()
    assert "its State decides" in log, log[-3000:]
    assert locker.unlock_count(door) == 1
