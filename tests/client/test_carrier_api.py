"""Every carrier endpoint through the client, against a real gateway on each database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from gateway.client import OPERATIONS, CarrierApiError, CarrierClient, SyncCarrierClient
from gateway.domain.enums import ParcelAction, ParcelState
from gateway.spec import DEFAULT_SPEC_DIR
from gateway.wire import ParcelOut
from tests.client.conftest import QUICK, client_for
from tests.http.conftest import NETWORK, Site
from tests.webhooks.conftest import FakeCarrier


async def deposit(site: Site, parcel_id: str) -> None:
    stored = await site.gateway.parcels.get("acme", parcel_id)
    await site.gateway.parcels.apply_action(stored.uid, ParcelAction.DEPOSIT)


async def test_a_parcel_s_whole_carrier_side_through_the_client(
    site: Site, acme: CarrierClient
) -> None:
    lockers = await acme.list_lockers(near=(52.2297, 21.0122), radius_m=20_000, size_class="M")
    assert [locker.id for locker in lockers.items] == ["WAW-CENTRAL-01"]
    assert lockers.items[0].distance_m is not None
    krk = await acme.locker("KRK-MAIN-01")
    assert krk.name == "Kraków Główny 1"

    parcel = await acme.book("CLI-1", locker_id="WAW-CENTRAL-01", size_class="S")
    assert isinstance(parcel, ParcelOut)
    assert parcel.state is ParcelState.RESERVED
    assert parcel.compartment_code is not None
    by_dims = await acme.book(
        "CLI-2",
        locker_id="WAW-CENTRAL-01",
        dimensionsMm={"length": 300, "width": 200, "height": 80},
        weight_g=900,
        reserve=False,
    )
    assert by_dims.state is ParcelState.ANNOUNCED
    assert by_dims.requested.weight_g == 900
    reserved = await acme.reserve("CLI-2")
    assert reserved.state is ParcelState.RESERVED
    cancelled = await acme.cancel("CLI-2", reason="customer changed their mind")
    assert cancelled.state is ParcelState.CANCELLED

    code = await acme.code("CLI-1")
    assert code.code.isdigit()
    assert code.locker_id == "WAW-CENTRAL-01"
    grant = await acme.grant("CLI-1")
    assert grant.compartment_code == parcel.compartment_code
    assert grant.qr

    await deposit(site, "CLI-1")
    later = datetime.now(UTC) + timedelta(days=9)
    extended = await acme.extend("CLI-1", pickup_until=later)
    assert extended.pickup_until is not None
    assert extended.pickup_until > later - timedelta(1)
    moved = await acme.redirect("CLI-1", locker_id="KRK-MAIN-01", new_parcel_id="CLI-1-KRK")
    assert (moved.parcel_id, moved.redirected_from) == ("CLI-1-KRK", "CLI-1")
    assert (await acme.parcel("CLI-1")).redirected_to == "CLI-1-KRK"
    history = await acme.events("CLI-1")
    assert [e.to_state for e in history.items][-1] is ParcelState.REDIRECTED

    # The locker is not connected: the gateway answers 503 Unavailable (retried, then raised).
    with pytest.raises(CarrierApiError) as offline:
        await acme.open_door("CLI-1-KRK")
    assert (offline.value.status, offline.value.code) == (503, "Unavailable")
    assert offline.value.attempts == QUICK.attempts

    # Pages follow each other through the cursor.
    first = await acme.list_parcels(limit=2)
    assert len(first.items) == 2
    assert first.next_cursor is not None
    every = [p.parcel_id async for p in acme.iter_parcels()]
    assert every == ["CLI-1", "CLI-2", "CLI-1-KRK"]
    assert [p.parcel_id async for p in acme.iter_parcels(state="cancelled")] == ["CLI-2"]

    # Another carrier's parcel does not exist for globex.
    async with client_for(site, site.globex) as globex:
        with pytest.raises(CarrierApiError) as hidden:
            await globex.parcel("CLI-1")
        assert (hidden.value.status, hidden.value.code) == (404, "NotFound")
        assert hidden.value.attempts == 1  # a 404 is never retried


async def test_idempotency_keys_are_built_in(acme: CarrierClient) -> None:
    first = await acme.book(
        "IDEM-1", locker_id="WAW-CENTRAL-01", size_class="S", idempotency_key="idem-key-1"
    )
    again = await acme.book(
        "IDEM-1", locker_id="WAW-CENTRAL-01", size_class="S", idempotency_key="idem-key-1"
    )
    assert again == first  # the stored answer, not a second booking
    with pytest.raises(CarrierApiError) as conflict:
        await acme.book(
            "IDEM-2", locker_id="WAW-CENTRAL-01", size_class="S", idempotency_key="idem-key-1"
        )
    assert conflict.value.code == "IdempotencyConflict"
    # Without a key of yours, each call gets its own: a second booking of the id is refused.
    with pytest.raises(CarrierApiError) as twice:
        await acme.book("IDEM-1", locker_id="WAW-CENTRAL-01", size_class="S")
    assert twice.value.code == "AlreadyExists"
    # Bad input is refused by the models before anything is sent.
    with pytest.raises(ValueError, match="sizeClass, dimensionsMm"):
        await acme.book("IDEM-3", locker_id="WAW-CENTRAL-01")


async def test_batches_webhooks_deliveries_and_public_documents(
    site: Site, acme: CarrierClient
) -> None:
    batch = await acme.book_batch(
        [
            {"parcelId": "B-1", "lockerId": "WAW-CENTRAL-01", "sizeClass": "XS"},
            {"parcelId": "B-2", "lockerId": "NOWHERE-1", "sizeClass": "XS"},
        ],
        idempotency_key="batch-key-1",
    )
    assert (batch.accepted, batch.refused) == (1, 1)
    assert batch.items[1].problem is not None
    assert batch.items[1].problem.code == "NotFound"

    async with FakeCarrier() as receiver:
        hook = await acme.subscribe(receiver.url(), events=["parcel.cancelled"])
        assert [h.id for h in (await acme.webhooks()).items] == [hook.id]
        assert (await acme.webhook(hook.id)).active
        assert (await acme.webhook_deliveries(hook.id)).items == []
        await acme.cancel("B-1")
        await receiver.wait_for(1)
        await acme.unsubscribe(hook.id)
        await acme.unsubscribe(hook.id)  # idempotent
        assert not (await acme.webhook(hook.id)).active
    delivered = (await acme.deliveries(target=hook.id)).items
    assert [d.type for d in delivered] == ["parcel.cancelled"]
    assert [d.id async for d in acme.iter_deliveries(target=hook.id)] == [delivered[0].id]
    assert [d.event_id async for d in acme.iter_webhook_deliveries(hook.id)] == [
        delivered[0].event_id
    ]
    with pytest.raises(CarrierApiError) as not_dead:
        await acme.replay_delivery(delivered[0].id)
    assert not_dead.value.code == "IllegalTransition"
    with pytest.raises(CarrierApiError) as gone:
        await acme.retry_webhook_delivery(hook.id, delivered[0].id)
    assert gone.value.status == 409

    config = await acme.configuration()
    assert config.network_id == NETWORK
    assert config.supports("webhooks")
    assert (await acme.network_keys())["keys"]
    openapi = yaml.safe_load(await acme.spec_file("openapi.yaml"))
    assert openapi["openapi"].startswith("3.1")
    with pytest.raises(CarrierApiError) as no_attachment:
        await acme.connector_status("att-none", "B-1")
    assert no_attachment.value.status == 404
    with pytest.raises(CarrierApiError) as no_inbound:
        await acme.connector_preadvice("att-none", {"shipment": {}})
    assert no_inbound.value.status == 404


async def test_the_blocking_client_makes_the_same_calls(site: Site) -> None:
    def carrier_script() -> tuple[str, str, int]:
        with SyncCarrierClient.discover(
            site.gateway.base_url,
            carrier_id="acme",
            private_key=site.acme.private_key,
            kid=site.acme.kid,
            retry=QUICK,
        ) as client:
            parcel = client.book("SYNC-1", locker_id="WAW-CENTRAL-01", size_class="M")
            code = client.code(parcel.parcel_id)
            lockers = list(client.iter_lockers())
            with pytest.raises(CarrierApiError):
                client.parcel("SYNC-404")
            return parcel.state, code.locker_id, len(lockers)

    # The gateway serves on this loop; the blocking client runs in a thread beside it.
    state, locker_id, count = await asyncio.to_thread(carrier_script)
    assert (state, locker_id, count) == ("reserved", "WAW-CENTRAL-01", 2)


def carrier_operations() -> set[str]:
    """The operationIds of openapi.yaml a carrier calls: signed with a carrier token (the
    default) or public; not the admin API, the probes, or the recipients' link pages."""
    document = yaml.safe_load((DEFAULT_SPEC_DIR / "openapi.yaml").read_text())
    found = set()
    for item in document["paths"].values():
        for method, op in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            schemes = {name for need in op.get("security", [{"carrierJwt": []}]) for name in need}
            public = op.get("security") == []
            if set(op.get("tags", [])) & {"admin", "operations"}:
                continue
            if public or "carrierJwt" in schemes:
                found.add(op["operationId"])
    return found


def test_every_carrier_operation_has_a_method_on_both_clients() -> None:
    operations = carrier_operations()
    assert operations - set(OPERATIONS) == set(), "endpoints without a client method"
    assert set(OPERATIONS) - operations == set(), "client methods for no endpoint"
    for method in OPERATIONS.values():
        assert callable(getattr(CarrierClient, method)), method
        assert callable(getattr(SyncCarrierClient, method)), method
