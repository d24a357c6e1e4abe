"""One carrier integration over several real networks: search all, book in any, redirects."""

from __future__ import annotations

import asyncio
import socket

import pytest

from gateway.app import Gateway
from gateway.client import (
    Account,
    CarrierApiError,
    CarrierClient,
    DiscoveryCache,
    NetworkParcel,
    Networks,
    NetworkUnreachable,
    SyncNetworks,
)
from gateway.domain.enums import ParcelAction, ParcelState
from tests.client.conftest import QUICK, NetworkFactory
from tests.http.conftest import FIXTURES
from tests.support.carriers import TestCarrier

CENTRALNA = (52.2288, 21.0032)  # WAW-CENTRAL-01 of network A
MOKOTOW = (52.1936, 21.0166)  # ~4 km south: WAW-MOKOTOW-01 of network B
MOKOTOW_LAYOUT = """
id: WAW-MOKOTOW-01
name: Mokotów 1
location: {lat: 52.1936, lon: 21.0166}
adapter: olp
features: [keypad]
compartments:
  - {code: M1, sizeClass: M}
  - {code: S1, sizeClass: S}
"""


def dead_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"  # closed again at once


async def test_search_book_and_redirect_across_networks(network_of: NetworkFactory) -> None:
    acme_a = TestCarrier.ed25519("acme", "net-a")
    acme_b = TestCarrier.ed25519("acme-pl", "net-b")  # another id, its own key, at network B
    layouts_a = [(FIXTURES / n).read_text() for n in ("waw-central.yaml", "krk-main.yaml")]
    async with (
        network_of("net-a", layouts_a, [acme_a]) as net_a,
        network_of("net-b", [MOKOTOW_LAYOUT], [acme_b]) as net_b,
    ):
        cache = DiscoveryCache()
        accounts = [
            Account(net_a.base_url, "acme", acme_a.private_key, acme_a.kid),
            Account(net_b.base_url, "acme-pl", acme_b.private_key, acme_b.kid),
        ]
        async with await Networks.connect(accounts, cache=cache, retry=QUICK) as networks:
            assert sorted(networks) == ["net-a", "net-b"]
            assert cache.fetches == 2

            # Nearest first across both networks, each measured by its own network.
            found = await networks.search_lockers(near=MOKOTOW, radius_m=20_000, size_class="M")
            assert [(f.network_id, f.locker.id) for f in found.lockers] == [
                ("net-b", "WAW-MOKOTOW-01"),
                ("net-a", "WAW-CENTRAL-01"),
            ]
            assert found.failures == {}

            # Book in any: the nearest with room, then the next once it is full.
            first = await networks.book_nearest("MULTI-1", near=MOKOTOW, size_class="M")
            assert (first.network_id, first.parcel.locker_id) == ("net-b", "WAW-MOKOTOW-01")
            second = await networks.book_nearest("MULTI-2", near=MOKOTOW, size_class="M")
            assert (second.network_id, second.parcel.locker_id) == ("net-a", "WAW-CENTRAL-01")
            with pytest.raises(CarrierApiError) as nowhere:
                await networks.book_nearest(
                    "MULTI-3", near=(54.35, 18.65), radius_m=20_000, size_class="M"
                )
            assert nowhere.value.code == "NoCompartmentAvailable"  # Gdańsk: no locker near

            # A redirect inside network A, followed.
            await networks.book("net-a", "MULTI-4", locker_id="WAW-CENTRAL-01", size_class="M")
            await deposit(net_a, "acme", "MULTI-4")
            moved = await networks.redirect(
                "net-a",
                "MULTI-4",
                to_network="net-a",
                locker_id="KRK-MAIN-01",
                new_parcel_id="MULTI-4-KRK",
            )
            assert moved.parcel.redirected_from == "MULTI-4"
            chain = await networks.follow("net-a", "MULTI-4")
            assert [(c.network_id, c.parcel.parcel_id) for c in chain] == [
                ("net-a", "MULTI-4"),
                ("net-a", "MULTI-4-KRK"),
            ]

            # Into network B: booked there like the original; asking twice books once.
            await networks.book(
                "net-a", "MULTI-5", locker_id="WAW-CENTRAL-01", size_class="S", reference="R5"
            )
            with pytest.raises(CarrierApiError) as early:
                await networks.redirect(
                    "net-a",
                    "MULTI-5",
                    to_network="net-b",
                    locker_id="WAW-MOKOTOW-01",
                    new_parcel_id="MULTI-5-B",
                )
            assert early.value.code == "IllegalTransition"  # not deposited yet
            await deposit(net_a, "acme", "MULTI-5")
            there = await networks.redirect(
                "net-a",
                "MULTI-5",
                to_network="net-b",
                locker_id="WAW-MOKOTOW-01",
                new_parcel_id="MULTI-5-B",
            )
            again = await networks.redirect(
                "net-a",
                "MULTI-5",
                to_network="net-b",
                locker_id="WAW-MOKOTOW-01",
                new_parcel_id="MULTI-5-B",
            )
            assert again == there
            assert (there.network_id, there.parcel.compartment_code) == ("net-b", "S1")
            assert there.parcel.requested.size_class == "S"
            assert there.parcel.reference == "R5"
            assert (await networks.find_parcel("MULTI-5-B", prefer="net-a")) == there
            assert await networks.find_parcel("NO-SUCH") is None
            stored = await net_b.parcels.get("acme-pl", "MULTI-5-B")
            assert stored.state is ParcelState.RESERVED

        # A network that does not answer is reported; the others still are searched.
        dead = CarrierClient(
            dead_url(),
            carrier_id="acme",
            private_key=acme_a.private_key,
            kid="k1",
            audience="net-dead",
            retry=QUICK,
        )
        alive = CarrierClient(
            net_a.base_url,
            carrier_id="acme",
            private_key=acme_a.private_key,
            kid="k1",
            audience="net-a",
            retry=QUICK,
        )
        async with Networks([dead, alive]) as partial:
            search = await partial.search_lockers()
            assert {f.locker.id for f in search.lockers} == {"WAW-CENTRAL-01", "KRK-MAIN-01"}
            assert isinstance(search.failures["net-dead"], NetworkUnreachable)
        with pytest.raises(ValueError, match="two clients"):
            Networks([alive, alive])


async def deposit(gateway: Gateway, carrier_id: str, parcel_id: str) -> None:
    stored = await gateway.parcels.get(carrier_id, parcel_id)
    await gateway.parcels.apply_action(stored.uid, ParcelAction.DEPOSIT)


async def test_the_blocking_networks_do_the_same(network_of: NetworkFactory) -> None:
    acme_a = TestCarrier.ed25519("acme", "net-a")
    acme_b = TestCarrier.p256("acme", "net-b")
    layouts_a = [(FIXTURES / n).read_text() for n in ("waw-central.yaml", "krk-main.yaml")]
    async with (
        network_of("net-a", layouts_a, [acme_a]) as net_a,
        network_of("net-b", [MOKOTOW_LAYOUT], [acme_b]) as net_b,
    ):
        accounts = [
            Account(net_a.base_url, "acme", acme_a.private_key, acme_a.kid),
            Account(net_b.base_url, "acme", acme_b.private_key, acme_b.kid),
        ]

        def carrier_script() -> tuple[list[str], str, str, str]:
            with SyncNetworks.connect(accounts, retry=QUICK) as networks:
                search = networks.search_lockers(near=MOKOTOW, radius_m=20_000)
                first = networks.book_nearest("SYNC-1", near=MOKOTOW, size_class="M")
                second = networks.book_nearest("SYNC-2", near=MOKOTOW, size_class="M")
                networks.book("net-a", "SYNC-3", locker_id="WAW-CENTRAL-01", size_class="S")
                return (
                    [f"{f.network_id}/{f.locker.id}" for f in search.lockers],
                    first.network_id,
                    second.network_id,
                    networks.follow("net-a", "SYNC-3")[-1].parcel.parcel_id,
                )

        # The gateways serve on this loop; the blocking calls run in a thread beside it.
        order, first, second, last = await asyncio.to_thread(carrier_script)
        assert order == ["net-b/WAW-MOKOTOW-01", "net-a/WAW-CENTRAL-01"]
        assert (first, second, last) == ("net-b", "net-a", "SYNC-3")

        await deposit(net_a, "acme", "SYNC-3")

        def redirect_twice() -> tuple[NetworkParcel, NetworkParcel]:
            with SyncNetworks.connect(accounts, retry=QUICK) as networks:
                ask = {"to_network": "net-b", "locker_id": "WAW-MOKOTOW-01"}
                once = networks.redirect("net-a", "SYNC-3", new_parcel_id="SYNC-3-B", **ask)
                twice = networks.redirect("net-a", "SYNC-3", new_parcel_id="SYNC-3-B", **ask)
                return once, twice

        once, twice = await asyncio.to_thread(redirect_twice)
        assert once == twice
        assert (once.network_id, once.parcel.compartment_code) == ("net-b", "S1")
