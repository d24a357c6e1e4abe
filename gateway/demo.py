"""`openlocker demo`: a whole site in one process — embedded broker, gateway on SQLite, an
emulated locker bank and a scripted carrier — narrating every lifecycle step and door event."""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
from cryptography.hazmat.primitives.asymmetric import ed25519
from jwt.algorithms import OKPAlgorithm

from gateway.app import Gateway
from gateway.client import CarrierClient
from gateway.sdk.lifetime import background
from gateway.service.layouts import parse_layout
from gateway.settings import (
    HousekeepingSettings,
    HttpSettings,
    LockerSettings,
    MqttSettings,
    Settings,
    StoreSettings,
)
from gateway.wire import ParcelOut

LOCKER = "DEMO-WAW-01"
LAYOUT = f"""
id: {LOCKER}
name: Demo locker, Warszawa Centralna
location: {{lat: 52.2288, lon: 21.0032}}
features: [keypad, display]
banks:
  - {{prefix: S, count: 2, sizeClass: S}}
  - {{prefix: M, count: 2, sizeClass: M}}
  - {{prefix: L, count: 1, sizeClass: L}}
"""


class DemoClock:
    """Real time that the demo can fast-forward (to let a pickup window run out)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


class Narrator:
    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write
        self._start = time.monotonic()

    def __call__(self, who: str, text: str) -> None:
        self._write(f"[{time.monotonic() - self._start:6.2f}s] {who:<9} {text}")


async def run_demo(write: Callable[[str], None] = print) -> int:
    try:
        from locker_emulator.bank import EmulatorBank
        from locker_emulator.layout import CompartmentConfig, LockerConfig
    except ImportError:
        write("the demo needs the hardware emulator: pip install -e hardware-emulator")
        return 2
    say = Narrator(write)
    clock = DemoClock()
    layout = parse_layout(LAYOUT)
    locker, doors = layout.to_domain()
    key = ed25519.Ed25519PrivateKey.generate()
    jwk = json.loads(OKPAlgorithm.to_jwk(key.public_key())) | {"kid": "demo-1", "alg": "EdDSA"}
    with tempfile.TemporaryDirectory(prefix="openlocker-demo-") as tmp:
        settings = Settings(
            network_id="openlocker-demo",
            store=StoreSettings(database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'demo.db'}"),
            http=HttpSettings(port=0),
            mqtt=MqttSettings(embedded_port=0),  # a free port, picked at bind time
            lockers=LockerSettings(open_timeout=timedelta(seconds=5)),
            housekeeping=HousekeepingSettings(interval=timedelta(hours=1)),
        )
        async with Gateway(settings=settings, clock=clock) as gateway:
            say("gateway", f"up: HTTP {gateway.base_url}, MQTT {gateway.mqtt_url}, SQLite")
            await gateway.lockers.provision(locker, doors)
            await gateway.carriers.register("demo-carrier", {"keys": [jwk]}, "Demo Carrier")
            say("operator", f"provisioned {LOCKER} ({len(doors)} doors); carrier registered")
            hardware = [
                LockerConfig(
                    locker_id=LOCKER,
                    compartments=tuple(
                        CompartmentConfig(d.code, d.size_class.value) for d in doors
                    ),
                )
            ]
            async with (
                _door_tap(gateway.mqtt_url, say),
                EmulatorBank(
                    mqtt_url=gateway.mqtt_url,
                    lockers=hardware,
                    mqtt_version="3.1.1",
                    # Provisioned with the locker: it installs only key sets this root signed.
                    root_key=gateway.root_key.public_jwk,
                ) as bank,
                CarrierClient(
                    gateway.base_url,
                    carrier_id="demo-carrier",
                    private_key=key,
                    kid="demo-1",
                    audience=settings.network_id,
                    clock=lambda: clock().timestamp(),
                ) as carrier,
            ):
                await asyncio.wait_for(bank.wait_all_booted(), 15)
                say("locker", f"{LOCKER} booted and accepted")
                script = Script(gateway, bank[LOCKER], carrier, clock, say)
                await script.keypad_delivery("DEMO-0001")
                await script.offline_grant_delivery("DEMO-0003")
                await script.remote_open_then_expiry("DEMO-0002")
    say(
        "demo",
        "done: three parcels delivered (one while the locker was offline), two picked up,"
        " one expired and collected",
    )
    return 0


def _door_of(parcel: ParcelOut) -> str:
    if parcel.compartment_code is None:
        raise RuntimeError(f"{parcel.parcel_id} was booked without a compartment")
    return parcel.compartment_code


class Script:
    """The scripted carrier, courier and recipient."""

    def __init__(
        self,
        gateway: Gateway,
        locker: Any,
        carrier: CarrierClient,
        clock: DemoClock,
        say: Narrator,
    ) -> None:
        self.gateway = gateway
        self.locker = locker
        self.carrier = carrier
        self.clock = clock
        self.say = say
        self._seen: dict[str, int] = {}

    async def keypad_delivery(self, parcel_id: str) -> None:
        parcel = await self.carrier.book(parcel_id, locker_id=LOCKER, size_class="S")
        door = _door_of(parcel)
        self.say("carrier", f"booked {parcel_id} -> compartment {door}")
        await self.lifecycle(parcel_id)
        await self.enter_code(parcel_id, "courier", door)
        self.say("courier", f"puts {parcel_id} into {door} and shuts the door")
        self.locker.deposit(door)
        await self.until(parcel_id, "ready_for_pickup")
        await self.enter_code(parcel_id, "recipient", door)
        self.say("recipient", f"takes {parcel_id} and shuts the door")
        self.locker.take(door)
        await self.until(parcel_id, "picked_up")

    async def offline_grant_delivery(self, parcel_id: str) -> None:
        """The locker loses its network; a courier still gets in with a signed grant."""
        parcel = await self.carrier.book(parcel_id, locker_id=LOCKER, size_class="S")
        door = _door_of(parcel)
        self.say("carrier", f"booked {parcel_id} -> compartment {door}")
        await self.lifecycle(parcel_id)
        async with asyncio.timeout(10):
            await self.locker.wait_until(lambda: self.locker.key_set_version is not None)
        self.say("locker", f"holds the network's key set v{self.locker.key_set_version}")
        grant = await self.carrier.grant(parcel_id)
        self.say(
            "carrier",
            f"sends the courier a signed grant for {parcel_id} ({grant.action} at "
            f"{grant.locker_id}/{grant.compartment_code}, QR of {len(grant.qr)} chars)",
        )
        self.locker.go_offline(2.0)
        async with asyncio.timeout(5):
            await self.locker.wait_until(lambda: not self.locker.online)
        self.say("locker", f"{LOCKER} loses its network")
        verdict = self.locker.present_grant(grant.qr)
        self.say("courier", f"scans the grant at the offline locker: {verdict.message}")
        async with asyncio.timeout(10):
            await self.locker.wait_door(door, "open")
        self.say("courier", f"puts {parcel_id} into {door} and shuts the door")
        self.locker.deposit(door)
        again = self.locker.present_grant(grant.qr)
        self.say("courier", f"scans the same grant again: {again.message}")
        self.say("locker", "back online: reports the door session it kept")
        await self.until(parcel_id, "ready_for_pickup")
        await self.enter_code(parcel_id, "recipient", door)
        self.say("recipient", f"takes {parcel_id} and shuts the door")
        self.locker.take(door)
        await self.until(parcel_id, "picked_up")

    async def remote_open_then_expiry(self, parcel_id: str) -> None:
        parcel = await self.carrier.book(parcel_id, locker_id=LOCKER, size_class="M")
        door = _door_of(parcel)
        self.say("carrier", f"booked {parcel_id} -> compartment {door}")
        await self.lifecycle(parcel_id)
        result = await self.carrier.open_door(parcel_id)
        self.say("carrier", f"remote open for the courier: {result.outcome}")
        await self.locker.wait_door(door, "open")
        self.say("courier", f"puts {parcel_id} into {door} and shuts the door")
        self.locker.deposit(door)
        await self.until(parcel_id, "ready_for_pickup")
        self.say("clock", "nobody comes: fast-forward 73 hours")
        self.clock.offset += timedelta(hours=73)
        # The locker's clock moves with the gateway's (the emulator's clock_skew): the
        # courier's code is typed "now" in the fast-forwarded world, so it is a live entry
        # (the gateway refuses keypad entries older than [keypad] entry_max_age).
        self.locker.update_faults({"clock_skew": int(self.clock.offset.total_seconds())})
        await self.gateway.parcels.expire_due()
        await self.until(parcel_id, "expired")
        await self.enter_code(parcel_id, "courier", door)
        self.say("courier", f"collects {parcel_id} and shuts the door")
        self.locker.take(door)
        await self.until(parcel_id, "collected")

    async def enter_code(self, parcel_id: str, who: str, door: str) -> None:
        code = (await self.carrier.code(parcel_id)).code
        self.say("carrier", f"sends the {who} code {code} for {parcel_id}")
        self.say(who, f"types {code} on the keypad of {LOCKER}")
        self.locker.enter_code(code)
        async with asyncio.timeout(10):
            await self.locker.wait_door(door, "open")

    async def until(self, parcel_id: str, state: str) -> None:
        async with asyncio.timeout(15):
            while await self.lifecycle(parcel_id) != state:  # noqa: ASYNC110 - polls the API
                await asyncio.sleep(0.05)

    async def lifecycle(self, parcel_id: str) -> str:
        """Print the parcel's new history entries; returns its current state."""
        history = (await self.carrier.events(parcel_id)).items
        for event in history[self._seen.get(parcel_id, 0) :]:
            self.say("parcel", f"{parcel_id}: {event.from_state or '-'} -> {event.to_state}")
        self._seen[parcel_id] = len(history)
        return str(history[-1].to_state) if history else ""


@contextlib.asynccontextmanager
async def _door_tap(mqtt_url: str, say: Narrator) -> AsyncIterator[None]:
    """Print every door event the lockers publish, as it passes through the broker."""
    host, port = mqtt_url.removeprefix("mqtt://").split(":")

    async def listen() -> None:
        # The broker going away (the demo ending) ends the tap, not the demo.
        with contextlib.suppress(aiomqtt.MqttError):
            async with aiomqtt.Client(host, int(port), identifier="demo-tap") as client:
                await client.subscribe("olp/v1/+/evt/#", qos=1)
                async for message in client.messages:
                    body = json.loads(message.payload) if isinstance(message.payload, bytes) else {}
                    payload = body.get("payload", {})
                    details = " ".join(f"{k}={v}" for k, v in payload.items() if k != "code")
                    head = f"{body.get('src')} {body.get('action')} seq={body.get('seq')}"
                    say("door", f"{head} {details}".rstrip())

    async with background(listen(), "demo-door-tap"):
        await asyncio.sleep(0.2)
        yield
