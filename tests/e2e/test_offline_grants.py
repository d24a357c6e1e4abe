"""Offline grants end to end: key sets pushed over MQTT, doors opened with the broker down.

Real Mosquitto, real gateway, real emulator: the gateway issues grants over HTTP, pushes its
key set with SetKeySet, and the emulated locker verifies grants with no gateway in reach.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from dataclasses import replace
from datetime import timedelta
from functools import partial
from pathlib import Path

import httpx
import pytest
from locker_emulator import parse_fault_flag
from locker_emulator.bank import EmulatorBank
from locker_emulator.grants import GrantVault, Refusal
from locker_emulator.olp_client import EmulatedLocker

from gateway.app import Gateway
from gateway.domain.audit import AuditAction
from gateway.domain.door import OpenPurpose
from gateway.domain.enums import ItemSensor
from gateway.sdk import AdapterProtocolError, DoorClosed, DoorOpened, GrantUse
from gateway.sdk.keys import KeySet, SupportsKeySet
from tests.e2e.conftest import (
    FAST,
    LOCKER,
    Site,
    emulated_lockers,
    eventually,
    site_hardware,
)
from tests.http.conftest import NETWORK, provision, settings_for
from tests.support.carriers import TestCarrier
from tests.support.grants import TestIssuer, tamper
from tests.support.mosquitto import Mosquitto


def jti_of(token: str) -> str:
    body = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return str(claims["jti"])


async def issue(site: Site, parcel_id: str) -> dict[str, object]:
    response = await site.post(f"/v1/parcels/{parcel_id}/grants")
    assert response.status_code == 201, response.text
    grant: dict[str, object] = response.json()
    return grant


async def stored_version(gateway: Gateway, locker_id: str = LOCKER) -> int | None:
    async with gateway.store.transaction() as tx:
        return await tx.sessions.key_set_version(locker_id)


async def keyed(site: Site) -> int:
    """Until the locker holds the network's current key set; returns its version."""
    version = site.gateway.network_keys.version
    await eventually(partial(held_version, site.locker), version, 15)
    await eventually(lambda: stored_version(site.gateway), version, 10)
    return version


async def held_version(locker: EmulatedLocker) -> int | None:
    return locker.key_set_version


async def broker_down(site: Site) -> None:
    site.broker.stop()
    await eventually(lambda: asyncio.sleep(0, site.locker.online), False, 15)


async def broker_up(site: Site) -> None:
    site.broker.start()
    await asyncio.wait_for(site.locker.wait_booted(), 20)


async def test_key_set_is_pushed_at_boot_and_again_after_a_rotation(site: Site) -> None:
    first = await keyed(site)
    async with site.gateway.store.transaction() as tx:
        pushed = await tx.audit.latest(10, action=AuditAction.KEY_SET_PUSHED, subject=LOCKER)
    assert pushed
    assert pushed[-1].details["version"] == first
    await site.gateway.network_keys.rotate(actor="operator")
    second = site.gateway.network_keys.version
    assert second > first
    assert await keyed(site) == second
    kids = {str(k["kid"]) for k in site.gateway.network_keys.key_set().keys}
    assert len(kids) == 2  # old and new key side by side during the rotation
    # The locker reports it: in its retained State, and in the Boot after a reconnect.
    state = site.locker.model.state_payload()
    assert state["keySetVersion"] == second
    assert site.locker.model.boot_payload()["keySetVersion"] == second


async def test_a_locker_that_lost_its_key_set_gets_it_again_right_after_boot(site: Site) -> None:
    version = await keyed(site)
    # A controller swapped for a spare: it boots with no key set at all. No rotation happens
    # and the periodic sweep is a minute away: only the accepted Boot can trigger this push.
    site.locker.model.grants = GrantVault()
    site.locker.go_offline(0.3)
    await eventually(partial(held_version, site.locker), None, 10)
    await asyncio.wait_for(site.locker.wait_booted(), 15)
    await eventually(partial(held_version, site.locker), version, 10)
    await eventually(lambda: stored_version(site.gateway), version, 10)


async def test_deposit_then_pickup_with_grants_while_the_broker_is_stopped(site: Site) -> None:
    await keyed(site)
    parcel = await site.book("OFF-GRANT-1", "S")
    code = str(parcel["compartmentCode"])
    deposit = await issue(site, "OFF-GRANT-1")
    assert deposit["action"] == "deposit"

    await broker_down(site)
    verdict = site.locker.present_grant(deposit["qr"])
    assert verdict.opened, verdict
    site.locker.deposit(code)
    assert await site.state("OFF-GRANT-1") == "reserved"  # the gateway has not heard yet
    await broker_up(site)
    await site.wait_state("OFF-GRANT-1", "ready_for_pickup", 20)

    pickup = await issue(site, "OFF-GRANT-1")
    assert pickup["action"] == "pickup"
    await broker_down(site)
    assert site.locker.present_grant(pickup["token"]).opened
    site.locker.take(code)
    await broker_up(site)
    await site.wait_state("OFF-GRANT-1", "picked_up", 20)

    async with site.gateway.store.transaction() as tx:
        for grant in (deposit, pickup):
            record = await tx.grants.get(jti_of(str(grant["token"])))
            assert record is not None
            assert record.redeemed_at is not None
    # Used once: presenting the deposit grant again opens nothing, even back online.
    again = site.locker.present_grant(deposit["token"])
    assert (again.accepted, again.reason) == (False, Refusal.REPLAYED)


async def test_an_issued_grant_for_the_wrong_door_or_action_opens_nothing(site: Site) -> None:
    await keyed(site)
    parcel = await site.book("OFF-GRANT-2", "S")
    grant = await issue(site, "OFF-GRANT-2")
    code = str(parcel["compartmentCode"])
    # Something sits in its compartment already (left behind): a deposit no longer fits.
    site.locker.model.compartments[code] = replace(site.locker.compartment(code), item_inside=True)
    refused = site.locker.present_grant(grant["token"])
    assert (refused.accepted, refused.reason) == (False, Refusal.WRONG_ACTION)
    assert site.locker.compartment(code).door == "closed"
    other = next(c for c in site.locker.model.compartments if c != code)
    moved = site.locker.present_grant(tamper(str(grant["token"]), cmp=other))
    assert (moved.accepted, moved.reason) == (False, Refusal.BAD_SIGNATURE)
    assert await site.state("OFF-GRANT-2") == "reserved"


async def test_a_forged_grant_report_changes_no_parcel_and_is_audited(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    version = await keyed(site)
    parcel = await site.book("OFF-FORGED", "S")
    code = str(parcel["compartmentCode"])
    # A tampered locker that trusts a key the network never published.
    forger = TestIssuer(issuer=NETWORK)
    accepted, _ = site.locker.model.grants.install(version + 100, NETWORK, [forger.jwk])
    assert accepted
    token = forger.grant(locker=LOCKER, cmp=code, act="deposit", sub="uid-forged")
    caplog.set_level(logging.WARNING, logger="gateway.service.grant_doors")
    assert site.locker.present_grant(token).opened
    site.locker.deposit(code)

    async def refused() -> int:
        async with site.gateway.store.transaction() as tx:
            entries = await tx.audit.latest(5, action=AuditAction.GRANT_REFUSED)
        return len([e for e in entries if e.details.get("jti") == jti_of(token)])

    await eventually(refused, 1, 15)
    await site.processed()  # the DoorClosed too: every event the locker numbered
    assert await site.state("OFF-FORGED") == "reserved"
    assert any("SecurityEvent" in r.getMessage() for r in caplog.records)


async def test_a_grant_for_one_locker_never_opens_another(
    database_url: str, tmp_path: Path
) -> None:
    carrier = TestCarrier.ed25519("acme", NETWORK)
    krakow = site_hardware("krk-main.yaml")
    with Mosquitto(tmp_path / "mqtt") as broker:
        settings = settings_for(database_url, mqtt_url=broker.url, open_timeout_s=3.0)
        async with Gateway(settings=settings) as gateway:
            await gateway.carriers.register("acme", carrier.jwks)
            await provision(gateway, "waw-central.yaml", "krk-main.yaml")
            hardware = [*emulated_lockers(), krakow]
            async with (
                EmulatorBank(
                    mqtt_url=broker.url,
                    lockers=hardware,
                    timing=FAST,
                    root_key=gateway.root_key.public_jwk,
                ) as bank,
                httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client,
            ):
                await asyncio.wait_for(bank.wait_all_booted(), 15)
                version = gateway.network_keys.version
                for locker in bank:
                    await eventually(partial(held_version, locker), version, 15)
                body = {"parcelId": "AB-1", "lockerId": LOCKER, "sizeClass": "M"}
                headers = carrier.auth() | {"Idempotency-Key": "book-AB-1"}
                booked = await client.post("/v1/parcels", json=body, headers=headers)
                assert booked.status_code == 201, booked.text
                issued = await client.post(
                    "/v1/parcels/AB-1/grants", json={}, headers=carrier.auth()
                )
                assert issued.status_code == 201, issued.text
                token = issued.json()["token"]
                other = bank["KRK-MAIN-01"].present_grant(token)
                assert (other.accepted, other.reason) == (False, Refusal.WRONG_AUDIENCE)
                doors = bank["KRK-MAIN-01"].model.compartments.values()
                assert all(c.door == "closed" for c in doors)
                own = bank[LOCKER].present_grant(token)
                assert own.opened


async def test_grant_reports_are_idempotent_and_bound_to_their_door(site: Site) -> None:
    """The gateway side alone, fed the events an adapter delivers: duplicates change nothing,
    a second use or a use at another door is refused, the closing moves the parcel."""
    parcel = await site.book("OFF-IDEM", "S")
    code = str(parcel["compartmentCode"])
    jti = jti_of(str((await issue(site, "OFF-IDEM"))["token"]))
    async with site.gateway.store.transaction() as tx:
        record = await tx.grants.get(jti)
    assert record is not None
    use = GrantUse(jti=jti, purpose=OpenPurpose.DEPOSIT, parcel_uid=record.parcel_uid)
    now = site.clock()
    other = next(c for c in site.locker.model.compartments if c != code)

    def opened(event_id: str, door: str = code) -> DoorOpened:
        return DoorOpened(
            locker_id=LOCKER, at=now, event_id=event_id, compartment_code=door, grant=use
        )

    await site.gateway.locker_side.host.locker_event(
        opened("evt-elsewhere", other)
    )  # wrong door: refused
    await site.gateway.locker_side.host.locker_event(opened("evt-1"))
    await site.gateway.locker_side.host.locker_event(opened("evt-1"))  # redelivered: deduplicated
    await site.gateway.locker_side.host.locker_event(
        opened("evt-2")
    )  # the same grant again: refused
    async with site.gateway.store.transaction() as tx:
        session = await tx.doors.live(LOCKER, code)
        elsewhere = await tx.doors.live(LOCKER, other)
        refusals = await tx.audit.latest(10, action=AuditAction.GRANT_REFUSED)
        redeemed = await tx.audit.latest(10, action=AuditAction.GRANT_REDEEMED)
    assert session is not None
    assert session.parcel_uid == record.parcel_uid
    assert session.purpose is OpenPurpose.DEPOSIT
    assert elsewhere is None
    reasons = [e.details["reason"] for e in refusals if e.details.get("jti") == jti]
    assert len(reasons) == 2
    assert "is for" in reasons[0]
    assert "redeemed already" in reasons[1]
    assert len([e for e in redeemed if e.details.get("jti") == jti]) == 1
    closed = DoorClosed(
        locker_id=LOCKER, at=now, event_id="evt-3", compartment_code=code, item=ItemSensor.PRESENT
    )
    await site.gateway.locker_side.host.locker_event(closed)
    assert await site.state("OFF-IDEM") == "ready_for_pickup"


async def test_the_adapter_never_sends_a_private_key_and_reports_a_refused_set(site: Site) -> None:
    version = await keyed(site)
    adapter = site.gateway.adapters.running["olp"]
    assert isinstance(adapter, SupportsKeySet)
    deadline = site.clock() + timedelta(seconds=5)
    leaked = KeySet(version=version + 1, issuer=NETWORK, keys=(TestIssuer().private_jwk,))
    with pytest.raises(AdapterProtocolError, match="non-public"):
        await adapter.push_key_set(LOCKER, leaked, deadline)
    older = KeySet(version=version - 1, issuer=NETWORK, keys=(TestIssuer().jwk,))
    with pytest.raises(AdapterProtocolError, match="not signed"):
        await adapter.push_key_set(LOCKER, older, deadline)  # never sent: lockers refuse it
    older = site.gateway.root_key.sign_key_set(older, LOCKER)
    with pytest.raises(AdapterProtocolError, match="rejected"):
        await adapter.push_key_set(LOCKER, older, deadline)
    assert site.locker.key_set_version == version
    secret = str(leaked.keys[0]["d"])
    assert all(secret not in str(entry) for entry in site.locker.log_entries())


async def test_a_push_that_found_no_answer_is_retried_by_the_sweep(
    database_url: str, tmp_path: Path
) -> None:
    with Mosquitto(tmp_path / "mqtt") as broker:
        settings = settings_for(
            database_url,
            mqtt_url=broker.url,
            key_push_interval_s=0.5,
            key_push_timeout_s=1.0,
        )
        async with Gateway(settings=settings) as gateway:
            await provision(gateway, "waw-central.yaml")
            slow = [parse_fault_flag(f"{LOCKER}:slow_replies=3")]
            async with EmulatorBank(
                mqtt_url=broker.url,
                lockers=emulated_lockers(),
                timing=FAST,
                faults=slow,
                root_key=gateway.root_key.public_jwk,
            ) as bank:
                await asyncio.wait_for(bank.wait_all_booted(), 15)
                locker = bank[LOCKER]

                # Every push expires while the locker is busy: it drops it unperformed (its
                # log says so) and installs nothing.
                def dropped_push() -> bool:
                    return any(
                        e.get("envelope", {}).get("action") == "SetKeySet"
                        and str(e.get("note", "")).startswith("dropped")
                        for e in locker.log_entries()
                    )

                async with asyncio.timeout(15):
                    await locker.wait_until(dropped_push)
                assert locker.key_set_version is None
                assert await stored_version(gateway) is None
                locker.update_faults({"slow_replies": 0})
                version = gateway.network_keys.version
                await eventually(partial(held_version, locker), version, 15)
                await eventually(lambda: stored_version(gateway), version, 10)
