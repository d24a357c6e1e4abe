"""Key distribution to a fleet: a bounded pool of pushers, never a task per locker.

Real Mosquitto, real gateway, a bank of real emulated lockers that boot together with no key
set: every one of them gets the network's key set, the database records each confirmation
(with an audit line), and while the sweep runs the gateway never holds more pushers than
`MAX_CONCURRENT_PUSHES` nor any task per locker.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from locker_emulator.bank import EmulatorBank
from locker_emulator.layout import preset_lockers

from gateway.app import Gateway
from gateway.domain.audit import AuditAction
from gateway.domain.compartment import Compartment
from gateway.domain.enums import SizeClass
from gateway.domain.locker import Location, Locker
from gateway.domain.sizes import STANDARD_SIZES
from gateway.service import key_distribution
from tests.e2e.conftest import FAST
from tests.http.conftest import settings_for
from tests.support.mosquitto import Mosquitto

LOCKERS = 12
POOL = 3


async def provision_bank(gateway: Gateway, count: int) -> list[str]:
    configs = preset_lockers(count, "small", id_prefix="KEYS")
    async with gateway.store.transaction() as tx:
        for config in configs:
            doors = []
            for comp in config.compartments:
                size = SizeClass(comp.size_class)
                spec = STANDARD_SIZES[size]
                doors.append(
                    Compartment(config.locker_id, comp.code, size, spec.inside, spec.max_weight_g)
                )
            await tx.lockers.add(Locker(config.locker_id, "Key test", Location(52, 21)), doors)
    return [config.locker_id for config in configs]


class PusherWatch:
    """The most key-distribution tasks the event loop ran at once during the sweep."""

    def __init__(self) -> None:
        self.most_pushers = 0

    async def run_forever(self) -> None:
        while True:
            names = [task.get_name() for task in asyncio.all_tasks()]
            pushers = sum(1 for name in names if name.startswith("key-set"))
            self.most_pushers = max(self.most_pushers, pushers)
            await asyncio.sleep(0.005)


async def test_a_fleet_gets_its_key_sets_from_a_bounded_pool(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(key_distribution, "MAX_CONCURRENT_PUSHES", POOL)
    monkeypatch.setattr(key_distribution, "RECORD_BATCH", 5)
    with Mosquitto(tmp_path / "mqtt") as broker:
        settings = settings_for(database_url, mqtt_url=broker.url, key_push_timeout_s=5.0)
        async with Gateway(settings=settings) as gateway:
            ids = await provision_bank(gateway, LOCKERS)
            watch = PusherWatch()
            watcher = asyncio.get_running_loop().create_task(watch.run_forever())
            try:
                async with EmulatorBank(
                    mqtt_url=broker.url,
                    lockers=preset_lockers(LOCKERS, "small", id_prefix="KEYS"),
                    timing=FAST,
                    root_key=gateway.root_key.public_jwk,
                ) as bank:
                    version = gateway.network_keys.version
                    async with asyncio.timeout(30):
                        await bank.wait_all_booted()
                        while any(locker.key_set_version != version for locker in bank):
                            await asyncio.sleep(0.05)
                        while await stored_versions(gateway, ids) != {version}:
                            await asyncio.sleep(0.05)
            finally:
                watcher.cancel()
            async with gateway.store.transaction() as tx:
                audit = await tx.audit.latest(100, action=AuditAction.KEY_SET_PUSHED)
    # 12 lockers behind, 3 pushers: a task per locker would have shown up to 12 at once.
    assert 1 <= watch.most_pushers <= POOL
    assert sorted(entry.subject for entry in audit) == sorted(ids)


async def stored_versions(gateway: Gateway, ids: list[str]) -> set[int | None]:
    async with gateway.store.transaction() as tx:
        return {await tx.sessions.key_set_version(locker_id) for locker_id in ids}
