"""Bus-owner election: a Modbus controller configured on two gateways is driven by exactly one.

Two real gateways share one database (SQLite file or PostgreSQL) and are both configured with
the same emulated Modbus TCP controller; the bus lease decides which one runs the adapter.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from locker_emulator.boards.modbus import Framing

from gateway.app import Gateway
from gateway.clock import utc_now
from gateway.errors import Unavailable
from gateway.service.bus_lease import BusOwner
from gateway.service.layouts import parse_layout
from gateway.settings import Settings
from gateway.store import Store
from tests.adapters.modbus_rig import ModbusRig
from tests.e2e.conftest import eventually
from tests.http.conftest import settings_for

LOCKER = ModbusRig.locker_id
BUS = "adapter:modbus"
LEASE_S = 6.0  # renewals every 2 s must land within 4.5 s even on a loaded CI host
LAYOUT = f"""
id: {LOCKER}
name: Modbus test locker
location: {{lat: 52.23, lon: 21.01, address: "Test 1, Warszawa"}}
adapter: modbus
compartments:
  - {{code: A01, sizeClass: M}}
  - {{code: A02, sizeClass: M}}
  - {{code: A03, sizeClass: M}}
"""


def settings(database_url: str, instance: str, rig: ModbusRig) -> Settings:
    config: dict[str, Any] = rig.config(boot_retry_s=0.2).model_dump(mode="json")
    return settings_for(
        database_url,
        instance=instance,
        adapters={"modbus": config},
        lockers={"bus_lease": LEASE_S, "open_timeout": 3},
    )


def drives(gateway: Gateway) -> bool:
    return gateway.bus_owners["modbus"].lease is not None and "modbus" in (gateway.adapters.running)


async def provision(gateway: Gateway) -> None:
    locker, doors = parse_layout(LAYOUT).to_domain()
    await gateway.lockers.provision(locker, doors)


async def test_exactly_one_instance_polls_and_another_takes_over_when_it_stops(
    database_url: str,
) -> None:
    loop = asyncio.get_running_loop()
    async with ModbusRig(framing=Framing.TCP) as rig, contextlib.AsyncExitStack() as first_up:
        first = await first_up.enter_async_context(
            Gateway(settings=settings(database_url, "gw-1", rig))
        )
        await provision(first)
        await eventually(lambda: _async(drives(first)), True, timeout=10)
        async with Gateway(settings=settings(database_url, "gw-2", rig)) as second:
            await eventually(lambda: first.locker_side.host.is_booted(LOCKER), True, timeout=15)
            # Several of gw-2's tries for the lease go by: none of them gets it.
            await asyncio.sleep(LEASE_S)
            assert drives(first)
            assert not drives(second)
            assert second.bus_owners["modbus"].takeovers == 0
            assert rig.bus.connections == 1  # one process on the bus, never two
            # An open that reaches gw-2 is refused as unavailable (try again), not as a locker
            # this network cannot serve.
            with pytest.raises(Unavailable, match="another gateway instance drives"):
                await second.adapters.for_locker(LOCKER)
            assert await first.adapters.for_locker(LOCKER) is first.adapters.running["modbus"]
            lease = first.bus_owners["modbus"].lease
            assert lease is not None
            assert (lease.owner, lease.token) == ("gw-1", 1)

            # The owner stops (a clean stop releases the lease): gw-2 takes over well within
            # the lease time and polls the controller itself.
            await first_up.aclose()
            stopped_at = loop.time()
            await eventually(lambda: _async(drives(second)), True, timeout=LEASE_S)
            assert loop.time() - stopped_at < LEASE_S
            assert rig.bus.connections == 2
            polled = rig.bus.bytes_received
            await eventually(lambda: _async(rig.bus.bytes_received > polled), True, timeout=2)
            taken = second.bus_owners["modbus"].lease
            assert taken is not None
            assert (taken.owner, taken.token) == ("gw-2", 2)


async def test_an_owner_whose_lease_was_taken_over_stops_driving_at_once(
    database_url: str,
) -> None:
    async with (
        ModbusRig(framing=Framing.TCP) as rig,
        Gateway(settings=settings(database_url, "gw-1", rig)) as gateway,
    ):
        await provision(gateway)
        await eventually(lambda: _async(drives(gateway)), True, timeout=10)
        owner = gateway.bus_owners["modbus"]
        lease = owner.lease
        assert lease is not None
        # gw-1 stalls (a long pause, a partition) and, as far as another instance's clock
        # says, its lease expired: that instance takes the bus over, with a new token.
        async with gateway.store.transaction() as tx:
            # Past any renewal gw-1 may have made meanwhile.
            later = utc_now() + timedelta(seconds=3 * LEASE_S)
            intruder = await tx.bus_leases.acquire(BUS, "gw-9", now=later, ttl=timedelta(hours=1))
        assert intruder is not None
        assert intruder.token == lease.token + 1
        # gw-1's next renewal is refused (fenced by the token): it stops driving at once.
        await eventually(lambda: _async(drives(gateway)), False, timeout=LEASE_S)
        await asyncio.sleep(0.2)  # a poll that was on the wire has come back
        polled = rig.bus.bytes_received
        await asyncio.sleep(0.5)
        assert rig.bus.bytes_received == polled  # gw-1 no longer polls
        async with gateway.store.transaction() as tx:
            assert await tx.bus_leases.get(BUS) == intruder  # and did not overwrite it


async def test_a_crashed_owner_is_replaced_once_its_lease_expires(database_url: str) -> None:
    loop = asyncio.get_running_loop()
    async with Store.connect(database_url) as store:
        await store.migrate()
        async with store.transaction() as tx:
            # gw-1 took the bus and died: nobody renews or releases its lease.
            crashed = await tx.bus_leases.acquire(
                BUS, "gw-1", now=utc_now(), ttl=timedelta(seconds=LEASE_S)
            )
    assert crashed is not None
    async with (
        ModbusRig(framing=Framing.TCP) as rig,
        Gateway(settings=settings(database_url, "gw-2", rig)) as gateway,
    ):
        await provision(gateway)
        await asyncio.sleep(crashed.expires_at.timestamp() - utc_now().timestamp() - 0.3)
        assert not drives(gateway)  # not while the crashed owner's lease runs
        assert rig.bus.connections == 0
        expired_at = loop.time() + 0.3
        await eventually(lambda: _async(drives(gateway)), True, timeout=LEASE_S)
        # It tries every third of the lease time: taken over well within a lease time.
        assert loop.time() - expired_at < LEASE_S
        taken = gateway.bus_owners["modbus"].lease
        assert taken is not None
        assert (taken.owner, taken.token) == ("gw-2", crashed.token + 1)
        await eventually(lambda: gateway.locker_side.host.is_booted(LOCKER), True, timeout=15)


async def test_an_instance_whose_adapter_cannot_start_leaves_the_bus_to_another(
    database_url: str,
) -> None:
    ttl = timedelta(seconds=1.5)
    driving = asyncio.Event()

    @contextlib.asynccontextmanager
    async def broken() -> AsyncIterator[None]:
        raise OSError("could not open port /dev/ttyUSB0")
        yield  # pragma: no cover

    @contextlib.asynccontextmanager
    async def working() -> AsyncIterator[None]:
        driving.set()
        yield

    async with Store.connect(database_url) as store:
        await store.migrate()
        async with BusOwner(store=store, bus=BUS, owner="gw-1", drive=broken, ttl=ttl) as one:
            await eventually(lambda: _async(one.takeovers), 1, timeout=5)
            # gw-1 released the lease when its adapter failed, and backs off before trying
            # again: gw-2, whose port works, drives the bus.
            async with BusOwner(store=store, bus=BUS, owner="gw-2", drive=working, ttl=ttl) as two:
                await asyncio.wait_for(driving.wait(), 10)
                assert two.lease is not None
                assert two.lease.owner == "gw-2"
                assert one.lease is None
        # Stopped cleanly: the lease was released, anyone may take it at once.
        async with store.transaction() as tx:
            assert await tx.bus_leases.acquire(BUS, "gw-3", now=utc_now(), ttl=ttl) is not None


async def _async(value: Any) -> Any:
    return value
