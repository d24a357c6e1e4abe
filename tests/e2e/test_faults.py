"""Faults between gateway and locker: broker restarts, bad MQTT input, boot gating."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiomqtt
import httpx
from locker_emulator.bank import EmulatorBank

from gateway.app import Gateway
from tests.e2e.conftest import FAST, LOCKER, Site, emulated_lockers, eventually
from tests.http.conftest import NETWORK, provision, settings_for
from tests.support.carriers import TestCarrier
from tests.support.mosquitto import Mosquitto


async def raw_client(site: Site, client_id: str) -> aiomqtt.Client:
    return aiomqtt.Client("127.0.0.1", site.broker.port, identifier=client_id)


async def test_broker_restart_mid_flow_loses_nothing(site: Site) -> None:
    parcel = await site.book("FLT-1")
    door = parcel["compartmentCode"]
    response = await site.post("/v1/parcels/FLT-1/open", key="open-flt-1")
    assert response.json()["outcome"] == "Unlocked"

    site.broker.restart()  # the door is open; the courier deposits while the broker is down
    site.locker.deposit(door)
    await site.wait_state("FLT-1", "ready_for_pickup", timeout=20)

    # Exactly one door session opened, and it ended with the deposit.
    history = (await site.get("/v1/parcels/FLT-1/events")).json()["items"]
    assert [e["toState"] for e in history].count("ready_for_pickup") == 1
    sent = [e.get("envelope", {}) for e in site.locker.log_entries() if e["direction"] == "sent"]
    opened = [m for m in sent if m.get("action") == "DoorOpened"]
    assert len({m["id"] for m in opened}) == 1


async def test_an_open_sent_while_the_broker_is_down_never_runs_late(site: Site) -> None:
    parcel = await site.book("FLT-2")
    door = parcel["compartmentCode"]
    site.broker.stop()
    response = await site.post("/v1/parcels/FLT-2/open", key="open-flt-2")
    assert response.status_code in (503, 504)
    site.broker.start()
    await asyncio.wait_for(site.locker.wait_booted(), 20)
    # The parcel is still bookable and the door opens on a fresh request. Commands reach the
    # locker in order: had the first one been queued and performed, the retry would find the
    # door open already, and the locker would count two lock releases.
    retry = await site.post("/v1/parcels/FLT-2/open", key="open-flt-2b")
    assert retry.json()["outcome"] == "Unlocked"
    assert site.locker.unlock_count(door) == 1
    opens = [
        e for e in site.locker.log_entries()
        if e["direction"] == "received" and e.get("envelope", {}).get("action") == "OpenCompartment"
    ]  # fmt: skip
    dropped = {e["envelope"]["id"] for e in opens if str(e.get("note", "")).startswith("dropped")}
    assert len({e["envelope"]["id"] for e in opens} - dropped) == 1, opens


async def test_bad_mqtt_input_gets_errors_and_changes_nothing(site: Site) -> None:
    parcel = await site.book("FLT-3")
    replies: list[dict[str, object]] = []
    async with aiomqtt.Client("127.0.0.1", site.broker.port, identifier="intruder") as mqtt:
        await mqtt.subscribe(f"olp/v1/{LOCKER}/res", qos=1)
        bad_call = {
            "olp": "1.0",
            "id": "bad-1",
            "kind": "call",
            "action": "Heartbeat",
            "ts": "not-a-time",
            "src": LOCKER,
            "seq": 1,
            "payload": {},
        }
        wrong_src = {
            "olp": "1.0",
            "id": "bad-2",
            "kind": "call",
            "action": "Heartbeat",
            "ts": "2026-11-21T10:00:00Z",
            "src": "SOMEONE-ELSE",
            "seq": 2,
            "payload": {},
        }
        forged_close = {
            "olp": "1.0",
            "id": "bad-3",
            "kind": "event",
            "action": "DoorClosed",
            "ts": "2026-11-21T10:00:00Z",
            "src": "SOMEONE-ELSE",
            "seq": 3,
            "payload": {"compartmentCode": parcel["compartmentCode"], "itemSensor": "present"},
        }
        for topic, payload in [
            (f"olp/v1/{LOCKER}/req/Heartbeat", b"{not json"),
            (f"olp/v1/{LOCKER}/req/Heartbeat", json.dumps(bad_call).encode()),
            (f"olp/v1/{LOCKER}/req/Heartbeat", json.dumps(wrong_src).encode()),
            (f"olp/v1/{LOCKER}/evt/DoorClosed", json.dumps(forged_close).encode()),
            (f"olp/v1/{LOCKER}/req/Boot", b"x" * (70 * 1024)),
            ("olp/v1/../../etc/req/Boot", b"{}"),
            (f"olp/v1/{LOCKER}/evt/lowercase", b"{}"),
        ]:
            await mqtt.publish(topic, payload, qos=1)

        async def collect() -> None:
            async for message in mqtt.messages:
                assert isinstance(message.payload, bytes)
                replies.append(json.loads(message.payload))
                if len(replies) >= 2:
                    return

        await asyncio.wait_for(collect(), 10)
    codes = {r["error"]["code"] for r in replies if r.get("kind") == "error"}  # type: ignore[index]
    assert {"FormatViolation", "SecurityError"} <= codes
    assert {r["corr"] for r in replies} == {"bad-1", "bad-2"}
    # The forged DoorClosed did not deposit anything; the gateway still serves.
    assert await site.state("FLT-3") == "reserved"
    assert (await site.client.get("/healthz")).status_code == 200
    ok = await site.post("/v1/parcels/FLT-3/open", key="open-flt-3")
    assert ok.json()["outcome"] == "Unlocked"


async def test_unknown_locker_is_rejected_at_boot(site: Site) -> None:
    async with EmulatorBank(
        mqtt_url=site.broker.url,
        lockers=emulated_lockers("NOT-PROVISIONED"),
        timing=FAST,
        root_key=site.gateway.root_key.public_jwk,
    ) as bank:
        stranger = bank["NOT-PROVISIONED"]
        await asyncio.wait_for(stranger.wait_until(lambda: stranger.boot_status is not None), 10)
        assert stranger.boot_status == "Rejected"
        assert not stranger.booted


async def test_presence_follows_the_last_will(site: Site) -> None:
    async def online() -> bool:
        async with site.gateway.store.transaction() as tx:
            session = await tx.sessions.get(LOCKER)
        return session is not None and session.online

    await eventually(online, True)
    site.locker.go_offline(2)
    await eventually(online, False)
    await eventually(online, True, timeout=15)


async def test_mqtt_311_lockers_and_two_gateways_sharing_events(
    database_url: str, tmp_path: Path
) -> None:
    """Two instances share events ($share); an MQTT 3.1.1 locker works the same."""
    carrier = TestCarrier.ed25519("acme", NETWORK)
    with Mosquitto(tmp_path / "mqtt") as broker:
        first_settings = settings_for(database_url, mqtt_url=broker.url, instance="gw-a")
        second_settings = settings_for(database_url, mqtt_url=broker.url, instance="gw-b")
        async with Gateway(settings=first_settings) as first:
            await first.carriers.register("acme", carrier.jwks)
            await provision(first, "waw-central.yaml")
            async with (
                Gateway(settings=second_settings) as second,
                EmulatorBank(
                    mqtt_url=broker.url,
                    lockers=emulated_lockers(),
                    timing=FAST,
                    mqtt_version="3.1.1",
                    root_key=second.root_key.public_jwk,
                ) as bank,
                httpx.AsyncClient(base_url=second.base_url, timeout=30) as client,
            ):
                await asyncio.wait_for(bank.wait_all_booted(), 15)
                headers = carrier.auth() | {"Idempotency-Key": "two-gw-book"}
                body = {"parcelId": "TWO-1", "lockerId": LOCKER, "sizeClass": "S"}
                booked = (await client.post("/v1/parcels", json=body, headers=headers)).json()
                door = booked["compartmentCode"]
                headers = carrier.auth() | {"Idempotency-Key": "two-gw-open"}
                opened = await client.post("/v1/parcels/TWO-1/open", json={}, headers=headers)
                assert opened.json()["outcome"] == "Unlocked", opened.text
                bank[LOCKER].deposit(door)

                async def state() -> str:
                    parcel = await first.parcels.get("acme", "TWO-1")
                    return parcel.state.value

                # Two instances pass the door session between them through the database; under
                # a loaded CI start (both workers booting) that once took longer than 10 s.
                await eventually(state, "ready_for_pickup", timeout=30)
                events = await first.parcels.events("acme", "TWO-1")
                assert [e.to_state.value for e in events].count("ready_for_pickup") == 1
