"""Recipient data: stored with the parcel, handed to notifiers only, never shown or echoed."""

from __future__ import annotations

from dataclasses import replace

from gateway.domain.recipients import Recipient
from gateway.store import Store
from gateway.wire import dump, parcel_to_wire
from gateway.wire.recipients import RecipientWire
from tests.connectors.notify_support import EMAIL, NAME, PERSONAL, PHONE
from tests.store.builders import parcel

WHO = Recipient(name=NAME, email=EMAIL, phone=PHONE, language="pl-PL", opt_out=True)


def test_repr_hides_every_value() -> None:
    shown = repr(replace(parcel(), recipient=WHO))
    assert "opt_out=True" in shown
    assert not any(item in shown for item in PERSONAL)


def test_json_round_trip() -> None:
    assert Recipient.from_json(WHO.to_json()) == WHO
    assert Recipient.from_json({"email": EMAIL}) == Recipient(email=EMAIL)


def test_the_wire_model_maps_onto_the_domain() -> None:
    wire = RecipientWire.model_validate({"name": NAME, "phone": PHONE, "optOut": True})
    assert wire.to_domain() == Recipient(name=NAME, phone=PHONE, opt_out=True)
    assert RecipientWire.from_domain(WHO).to_domain() == WHO


def test_one_model_for_the_announcement_and_the_connector_event() -> None:
    from gateway.sdk.connectors import Recipient as SdkRecipient
    from gateway.wire import CreateParcelIn

    assert SdkRecipient is RecipientWire
    assert CreateParcelIn.model_fields["recipient"].annotation == RecipientWire | None
    shown = repr(RecipientWire.from_domain(WHO))
    assert not any(item in shown for item in PERSONAL)


async def test_stored_and_read_back_but_not_in_the_parcel_body(store: Store) -> None:
    from gateway.domain.enums import SizeClass
    from tests.store.builders import compartments, locker

    async with store.transaction() as tx:
        await tx.lockers.add(locker("WAW-001"), compartments("WAW-001", [SizeClass.S]))
        await tx.parcels.insert(replace(parcel("R-1"), recipient=WHO))
        await tx.parcels.insert(parcel("R-2"))
    async with store.transaction() as tx:
        with_one = await tx.parcels.get("acme", "R-1")
        without = await tx.parcels.get("acme", "R-2")
    assert with_one is not None
    assert with_one.recipient == WHO
    assert without is not None
    assert without.recipient is None
    body = str(dump(parcel_to_wire(with_one)))
    assert not any(item in body for item in PERSONAL)
