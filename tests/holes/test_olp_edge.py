"""What a forged or broken locker message does to a running gateway (issue 12, known holes).

A real Mosquitto, a real gateway on SQLite and PostgreSQL and the emulated locker; the attack
is published raw on the locker's own event topic, as a compromised locker could. Each must be
refused at the edge as a FormatViolation with one warning line: no traceback, no database
error, no parked event, and the locker keeps working.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import aiomqtt
import pytest

from gateway.sdk.mqtt import topics
from tests.e2e.conftest import LOCKER, Site, eventually

INT64_MAX = 2**63 - 1


def door_closed(**envelope: Any) -> bytes:
    message = {
        "olp": "1.0",
        "id": str(uuid.uuid4()),
        "kind": "event",
        "action": "DoorClosed",
        "ts": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "src": LOCKER,
        "seq": 7,
        "payload": {"compartmentCode": "S01", "itemSensor": "empty"},
        "eventSeq": 1,
    }
    return json.dumps(message | envelope).encode()


async def publish(site: Site, action: str, raw: bytes) -> None:
    async with aiomqtt.Client("127.0.0.1", site.broker.port, identifier="forger") as client:
        await client.publish(topics.event(LOCKER, action), raw, qos=1)


async def refused(site: Site, caplog: pytest.LogCaptureFixture, needle: str) -> None:
    """Wait for the adapter's one warning line naming `needle`, then check nothing worse."""

    def refusals() -> bool:
        return any(
            r.levelno == logging.WARNING
            and "refusing" in r.getMessage()
            and needle in r.getMessage()
            for r in caplog.records
        )

    async def probe() -> bool:
        return refusals()

    await eventually(probe, True, timeout=10)
    worse = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not worse, [(r.name, r.getMessage()) for r in worse]
    caplog.clear()  # the next attack must be refused by a line of its own
    async with site.gateway.store.transaction() as tx:
        assert await tx.parked_events.page() == []


async def still_works(site: Site, parcel_id: str) -> None:
    """A deposit through the real locker after the attack: its events are still applied."""
    door = (await site.book(parcel_id))["compartmentCode"]
    site.locker.enter_code(await site.code(parcel_id))
    await asyncio.wait_for(site.locker.wait_door(door, "open"), 10)
    site.locker.deposit(door)
    await site.wait_state(parcel_id, "ready_for_pickup")


@pytest.mark.parametrize("depth", [30_000, 995])
async def test_deeply_nested_event_is_a_format_violation(
    site: Site, caplog: pytest.LogCaptureFixture, depth: int
) -> None:
    caplog.set_level(logging.WARNING)
    await publish(site, "DoorClosed", b"[" * depth + b"]" * depth)
    await refused(site, caplog, "nested")
    nested_payload = door_closed(payload={"compartmentCode": [[[[[[]]]]]], "itemSensor": "empty"})
    await publish(site, "DoorClosed", nested_payload)
    await refused(site, caplog, "compartmentCode")
    await still_works(site, "EDGE-NEST")


@pytest.mark.parametrize("member", ["eventSeq", "seq"])
async def test_sequence_numbers_past_int64_are_a_format_violation(
    site: Site, caplog: pytest.LogCaptureFixture, member: str
) -> None:
    caplog.set_level(logging.WARNING)
    await publish(site, "DoorClosed", door_closed(**{member: 2**70}))
    await refused(site, caplog, member)
    await publish(site, "DoorClosed", door_closed(**{member: INT64_MAX + 1}))
    await refused(site, caplog, member)
    await still_works(site, f"EDGE-{member}")


async def test_a_boot_with_an_oversized_key_set_version_is_answered_format_violation(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    boot = {
        "olp": "1.0",
        "id": str(uuid.uuid4()),
        "kind": "call",
        "action": "Boot",
        "ts": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "src": LOCKER,
        "seq": 0,
        "payload": {
            "vendor": "Forged",
            "model": "F-1",
            "firmware": "1.0",
            "keySetVersion": 2**70,
            "lastEventSeq": 0,
            "features": [],
            "compartments": [{"code": "S01", "sizeClass": "S"}],
        },
    }
    async with aiomqtt.Client("127.0.0.1", site.broker.port, identifier="forger") as client:
        await client.subscribe(topics.locker_reply(LOCKER), qos=1)
        await client.publish(topics.request(LOCKER, "Boot"), json.dumps(boot).encode(), qos=1)
        async with asyncio.timeout(10):
            async for message in client.messages:
                reply = json.loads(bytes(message.payload))
                if reply.get("corr") == boot["id"]:
                    break
    assert reply["kind"] == "error", reply
    assert reply["error"]["code"] == "FormatViolation", reply
    await refused(site, caplog, "keySetVersion")
