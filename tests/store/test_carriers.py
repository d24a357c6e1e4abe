"""Carriers: round trip, duplicates, key rotation."""

from __future__ import annotations

import pytest

from gateway.errors import AlreadyExists, NotFound
from gateway.store import CarrierRecord, Store
from tests.store.builders import T0

JWKS = {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": "11qYAYKxCrfVS_7TyWQHOg"}]}


async def test_round_trip_and_listing(store: Store) -> None:
    globex = CarrierRecord("globex", "Globex", {"keys": []}, T0)
    acme = CarrierRecord("acme", "ACME Parcel", JWKS, T0)
    async with store.transaction() as uow:
        await uow.carriers.add(globex)
        await uow.carriers.add(acme)
    async with store.transaction() as uow:
        assert await uow.carriers.get("acme") == acme
        assert await uow.carriers.get("nobody") is None
        assert await uow.carriers.list() == [acme, globex]


async def test_a_duplicate_id_is_already_exists_and_the_transaction_goes_on(store: Store) -> None:
    async with store.transaction() as uow:
        await uow.carriers.add(CarrierRecord("acme", "ACME", JWKS, T0))
        with pytest.raises(AlreadyExists):
            await uow.carriers.add(CarrierRecord("acme", "Impostor", {"keys": []}, T0))
        # On PostgreSQL a failed INSERT would have aborted the transaction; ours did not fail.
        assert (await uow.carriers.list())[0].name == "ACME"
    async with store.transaction() as uow:
        stored = await uow.carriers.get("acme")
    assert stored is not None
    assert stored.name == "ACME"


async def test_set_jwks_replaces_the_keys(store: Store) -> None:
    async with store.transaction() as uow:
        await uow.carriers.add(CarrierRecord("acme", "ACME", {"keys": []}, T0))
        await uow.carriers.set_jwks("acme", JWKS)
    async with store.transaction() as uow:
        stored = await uow.carriers.get("acme")
    assert stored is not None
    assert stored.jwks == JWKS


async def test_set_jwks_of_an_unknown_carrier_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        async with store.transaction() as uow:
            await uow.carriers.set_jwks("nobody", JWKS)
