"""The OLP adapter answers a locker's ScanParcel call (query on scan, SPEC section 17): with
the host's decision, or with an error reply the locker can act on, never silence."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiomqtt

from gateway.errors import Unavailable
from tests.adapters.test_olp_overload import (
    FLOOD,
    JournalHost,
    adapter_for,
    broker,  # noqa: F401 - the fixture
    envelope,
    raw_locker,  # noqa: F401 - the fixture
)
from tests.support.mosquitto import Mosquitto


async def ask(client: aiomqtt.Client, payload: dict[str, Any], seq: int) -> dict[str, Any]:
    """Send one ScanParcel call as the locker and return the gateway's reply to it."""
    body = envelope("call", "ScanParcel", payload, seq)
    call_id = json.loads(body)["id"]
    await client.publish(f"olp/v1/{FLOOD}/req/ScanParcel", body, qos=1)

    async def read() -> dict[str, Any]:
        async for message in client.messages:
            assert isinstance(message.payload, bytes)
            reply: dict[str, Any] = json.loads(message.payload)
            if reply.get("corr") == call_id:
                return reply
        raise AssertionError("the subscription ended")

    return await asyncio.wait_for(read(), 10)


async def test_the_hosts_decision_is_the_result(
    broker: Mosquitto,  # noqa: F811
    raw_locker: aiomqtt.Client,  # noqa: F811
) -> None:
    host = JournalHost(booted={FLOOD})
    async with adapter_for(broker, host):
        await raw_locker.subscribe(f"olp/v1/{FLOOD}/res", qos=1)
        reply = await ask(raw_locker, {"parcelId": "JJD0001", "sizeClass": "M"}, 1)
    assert (reply["kind"], reply["action"]) == ("result", "ScanParcel")
    assert reply["payload"] == {
        "parcelId": "JJD0001",
        "decision": "Accepted",
        "compartmentCode": "A01",
        "unadvised": True,
    }
    (query,) = host.scans
    assert (query.locker_id, query.parcel_id, str(query.size_class)) == (FLOOD, "JJD0001", "M")


async def test_a_scan_the_gateway_cannot_decide_now_is_answered_unavailable(
    broker: Mosquitto,  # noqa: F811
    raw_locker: aiomqtt.Client,  # noqa: F811
) -> None:
    host = JournalHost(booted={FLOOD}, scan_error=Unavailable("the database is unreachable"))
    async with adapter_for(broker, host):
        await raw_locker.subscribe(f"olp/v1/{FLOOD}/res", qos=1)
        reply = await ask(raw_locker, {"parcelId": "JJD0002"}, 1)
    assert (reply["kind"], reply["error"]["code"]) == ("error", "Unavailable")
    assert "database" in reply["error"]["description"]


async def test_a_bad_scan_and_a_scan_before_boot_are_refused(
    broker: Mosquitto,  # noqa: F811
    raw_locker: aiomqtt.Client,  # noqa: F811
) -> None:
    host = JournalHost()  # not booted
    async with adapter_for(broker, host):
        await raw_locker.subscribe(f"olp/v1/{FLOOD}/res", qos=1)
        early = await ask(raw_locker, {"parcelId": "JJD0003"}, 1)
        assert (early["kind"], early["error"]["code"]) == ("error", "SecurityError")
        host.booted.add(FLOOD)
        bad = await ask(raw_locker, {"parcelId": "not a parcel id"}, 2)
        assert (bad["kind"], bad["error"]["code"]) == ("error", "FormatViolation")
        size = await ask(raw_locker, {"parcelId": "JJD0004", "sizeClass": "XXL"}, 3)
        assert (size["kind"], size["error"]["code"]) == ("error", "FormatViolation")
    assert host.scans == []  # none of them reached the gateway's decision
