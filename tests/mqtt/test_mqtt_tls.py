"""TLS and mutual TLS to a real Mosquitto; a whole site over mTLS; `src` checked by the gateway."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest
from locker_emulator.bank import EmulatorBank
from locker_emulator.cli import main as emulator
from locker_emulator.transport import TlsOptions

from gateway.app import Gateway
from gateway.mqtt.tls import TlsFiles, client_context
from gateway.sdk import AdapterConfigError
from tests.e2e.conftest import FAST, LOCKER, emulated_lockers, eventually
from tests.http.conftest import NETWORK, provision, settings_for
from tests.mqtt.conftest import GW, LOCK_A, LOCK_B, Access, client, received_until
from tests.support.carriers import TestCarrier
from tests.support.clock import MovableClock
from tests.support.mosquitto import Mosquitto
from tests.support.pki import TestCa


async def test_mutual_tls_needs_a_certificate_signed_by_the_ca(
    access: Access, tmp_path: Path
) -> None:
    ca = access.ca
    device = ca.client(LOCK_A)
    stranger = TestCa(tmp_path / "other-pki", name="Someone Else's CA").client(LOCK_A)
    no_cert = client_context(TlsFiles(ca_file=ca.ca_file))
    foreign_cert = client_context(
        TlsFiles(ca_file=ca.ca_file, cert_file=stranger.cert_file, key_file=stranger.key_file)
    )
    good = TlsOptions(ca_file=ca.ca_file, cert_file=device.cert_file, key_file=device.key_file)
    gw_cert = ca.client(GW)
    gw_tls = TlsFiles(ca_file=ca.ca_file, cert_file=gw_cert.cert_file, key_file=gw_cert.key_file)
    with access.broker(tmp_path / "mqtt", tls=True, mutual=True) as broker:
        password = access.secrets[LOCK_A]
        # The broker drops these during the TLS handshake; aiomqtt only sees no CONNACK come,
        # so the broker's log says why each was refused.
        for context, reason in [
            (no_cert, "peer did not return a certificate"),
            (foreign_cert, "certificate verify failed"),
            (None, "wrong version number"),  # plain TCP to the TLS listener
        ]:
            with pytest.raises(aiomqtt.MqttError):
                async with client(broker, LOCK_A, password, tls=context, timeout=2):
                    pass
            await eventually(partial(_logged, broker, reason), True)
        async with client(broker, LOCK_A, password, tls=good.context()) as a:
            await a.subscribe("olp/v1/LOCK-A/res", qos=1)
            async with client(broker, GW, access.secrets[GW], tls=client_context(gw_tls)) as gw:
                await gw.publish("olp/v1/LOCK-A/res", b"hello over mTLS", qos=1)
            assert await received_until(a, "olp/v1/LOCK-A/res") == ["olp/v1/LOCK-A/res"]


async def _logged(broker: Mosquitto, fragment: str) -> bool:
    return fragment in broker.log_path.read_text(errors="replace")


@dataclass
class TlsSite:
    gateway: Gateway
    bank: EmulatorBank
    http: httpx.AsyncClient
    carrier: TestCarrier
    clock: MovableClock
    broker: Mosquitto

    async def post(self, path: str, body: Any, key: str) -> httpx.Response:
        headers = self.carrier.auth(iat=self.clock().timestamp()) | {"Idempotency-Key": key}
        return await self.http.post(path, json=body, headers=headers)

    async def state(self, parcel_id: str) -> str:
        headers = self.carrier.auth(iat=self.clock().timestamp())
        parcel = (await self.http.get(f"/v1/parcels/{parcel_id}", headers=headers)).json()
        return str(parcel["state"])


@pytest.fixture
async def tls_site(access: Access, tmp_path: Path) -> AsyncIterator[TlsSite]:
    """A gateway and one emulated locker over mutual TLS, each with its own MQTT user."""
    carrier = TestCarrier.ed25519("acme", NETWORK)
    clock = MovableClock()
    gw_cert, locker_cert = access.ca.client(GW), access.ca.client(LOCKER)
    with access.broker(tmp_path / "mqtt", tls=True, mutual=True) as broker:
        settings = settings_for(
            f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}",
            mqtt_url=broker.url,
            mqtt_username=GW,
            mqtt_password=access.secrets[GW],
            mqtt_tls_ca_file=access.ca.ca_file,
            mqtt_tls_cert_file=gw_cert.cert_file,
            mqtt_tls_key_file=gw_cert.key_file,
            open_timeout_s=3.0,
        )
        async with Gateway(settings=settings, clock=clock) as gateway:
            await gateway.carriers.register("acme", carrier.jwks)
            await provision(gateway, "waw-central.yaml")
            tls = TlsOptions(
                ca_file=access.ca.ca_file,
                cert_file=locker_cert.cert_file,
                key_file=locker_cert.key_file,
            )
            async with EmulatorBank(
                mqtt_url=broker.url,
                lockers=emulated_lockers(),
                timing=FAST,
                passwords={LOCKER: access.secrets[LOCKER]},
                tls=tls,
                root_key=gateway.root_key.public_jwk,  # pinned at provisioning (SPEC §9)
            ) as bank:
                await asyncio.wait_for(bank.wait_all_booted(), 15)
                async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as http:
                    yield TlsSite(gateway, bank, http, carrier, clock, broker)


def _message(kind: str, action: str, src: str, payload: dict[str, Any], n: int) -> bytes:
    body = {
        "olp": "1.0",
        "id": f"forged-{n}",
        "kind": kind,
        "action": action,
        "ts": "2026-11-21T10:00:00Z",
        "src": src,
        "seq": 1000 + n,
        "payload": payload,
    }
    return json.dumps(body).encode()


async def test_boot_and_remote_open_over_mutual_tls_and_src_is_checked(
    tls_site: TlsSite, access: Access
) -> None:
    site = tls_site
    booking = {"parcelId": "TLS-1", "lockerId": LOCKER, "sizeClass": "S"}
    parcel = (await site.post("/v1/parcels", booking, "book-tls-1")).json()
    door = parcel["compartmentCode"]
    opened = await site.post("/v1/parcels/TLS-1/open", {}, "open-tls-1")
    assert opened.status_code == 200, opened.text
    assert opened.json()["outcome"] == "Unlocked"
    locker = site.bank[LOCKER]
    assert locker.compartment(door).door.value == "open"

    # The locker's own credentials (the ACL lets it write its own topics) with someone else's
    # `src`: the gateway answers the call with SecurityError and applies nothing.
    tls = client_context(
        TlsFiles(
            ca_file=access.ca.ca_file,
            cert_file=access.ca.client("probe").cert_file,
            key_file=access.ca.folder / "probe-key.pem",
        )
    )
    async with client(
        site.broker, LOCKER, access.secrets[LOCKER], identifier="probe", tls=tls
    ) as probe:
        await probe.subscribe(f"olp/v1/{LOCKER}/res", qos=1)
        closed = {"compartmentCode": door, "itemSensor": "present"}
        await probe.publish(
            f"olp/v1/{LOCKER}/evt/DoorClosed", _message("event", "DoorClosed", LOCK_B, closed, 1)
        )
        await probe.publish(
            f"olp/v1/{LOCKER}/req/Heartbeat", _message("call", "Heartbeat", LOCK_B, {}, 2)
        )

        async def refusal() -> dict[str, Any]:
            async for message in probe.messages:
                assert isinstance(message.payload, bytes)
                reply: dict[str, Any] = json.loads(message.payload)
                if reply.get("corr") == "forged-2":
                    return reply
            raise AssertionError("subscription ended")

        reply = await asyncio.wait_for(refusal(), 10)
    assert reply["kind"] == "error"
    assert reply["error"]["code"] == "SecurityError"
    # Events and calls of a locker are handled in order: the forged DoorClosed came first.
    assert await site.state("TLS-1") == "reserved"

    locker.deposit(door)
    await eventually(lambda: site.state("TLS-1"), "ready_for_pickup")


async def test_bad_tls_settings_fail_at_start_up_with_the_reason(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-ca.pem"
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    db = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
    for extra, reason in [
        ({"mqtt_tls_ca_file": missing}, f"MQTT TLS CA file {missing}: No such file"),
        ({"mqtt_tls_ca_file": garbage}, f"MQTT TLS CA file {garbage}: not a PEM CA"),
        ({"mqtt_tls_cert_file": garbage}, f"client certificate {garbage}"),
        ({"mqtt_tls_key_file": garbage}, "a client key file needs its certificate file too"),
    ]:
        settings = settings_for(db, mqtt_url="mqtts://127.0.0.1:1", **extra)
        with pytest.raises(AdapterConfigError) as failed:
            async with Gateway(settings=settings):
                pass
        assert reason in str(failed.value)
    plain = settings_for(db, mqtt_url="mqtt://127.0.0.1:1", mqtt_tls_ca_file=garbage)
    with pytest.raises(ValueError, match="need an mqtts:// broker URL"):
        async with Gateway(settings=plain):
            pass

    # The emulator says the same before any locker starts.
    with pytest.raises(ValueError, match="does not exist"):
        EmulatorBank(mqtt_url="mqtts://127.0.0.1:1", tls=TlsOptions(ca_file=missing))
    with pytest.raises(ValueError, match="cannot be loaded"):
        EmulatorBank(mqtt_url="mqtts://127.0.0.1:1", tls=TlsOptions(ca_file=garbage))
    with pytest.raises(ValueError, match="not mqtts://"):
        EmulatorBank(mqtt_url="mqtt://127.0.0.1:1", tls=TlsOptions(insecure=True))


def test_emulator_cli_reports_bad_tls_and_secrets_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing-ca.pem"
    run = ["run", "--mqtt-url", "mqtts://127.0.0.1:1", "--no-control"]
    assert emulator([*run, "--mqtt-ca", str(missing)]) == 2
    assert f"TLS CA file {missing} does not exist" in capsys.readouterr().err
    assert emulator([*run, "--mqtt-key", str(missing)]) == 2
    assert "a client key needs its client certificate" in capsys.readouterr().err
    plain = ["run", "--mqtt-url", "mqtt://127.0.0.1:1", "--no-control", "--mqtt-tls-insecure"]
    assert emulator(plain) == 2
    assert "is not mqtts://" in capsys.readouterr().err
    secrets = tmp_path / "secrets"
    secrets.write_text("EMU-001:good\nEMU-002 no colon\n")
    assert emulator([*run, "--mqtt-secrets", str(secrets)]) == 2
    assert f"{secrets}:2: expected LOCKER_ID:PASSWORD" in capsys.readouterr().err
