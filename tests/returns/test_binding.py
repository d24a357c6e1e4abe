"""Binding a label scanned at the locker inside the keypad's transaction: a lost race binds
nothing at all (neither the return nor the parcel's id) and the transaction goes on."""

from __future__ import annotations

from dataclasses import replace

from gateway.service.returns import bind_scanned_label
from tests.http.conftest import Site

WAW = "WAW-CENTRAL-01"


async def _announce(site: Site, reference: str) -> str:
    body = {"lockerId": WAW, "reference": reference, "sizeClass": "S"}
    response = await site.post("/v1/returns", body)
    assert response.status_code == 201, response.text
    return_id: str = response.json()["returnId"]
    return return_id


async def test_a_lost_race_binds_nothing_and_the_transaction_goes_on(site: Site) -> None:
    rid = await _announce(site, "RMA-RACE-1")
    async with site.gateway.store.transaction() as tx:
        ret = await tx.returns.get("acme", rid)
        assert ret is not None
        parcel = await tx.parcels.get_by_uid(ret.parcel_uid)
        assert parcel is not None
        # Another writer moved the parcel on since it was read.
        stale = replace(parcel, version=parcel.version - 1)
        assert await bind_scanned_label(tx, stale, "ACME-RACE-L1", site.clock()) is None
        again = await tx.returns.get("acme", rid)
        assert again is not None
        assert again.label is None  # the return's half was undone with the parcel's
        # The transaction is usable: the fresh parcel binds.
        bound = await bind_scanned_label(tx, parcel, "ACME-RACE-L1", site.clock())
        assert bound is not None
        assert bound.label == "ACME-RACE-L1"
    read = (await site.get(f"/v1/returns/{rid}")).json()
    assert (read["parcelId"], read["labelSource"]) == ("ACME-RACE-L1", "locker")


async def test_labels_the_locker_cannot_bind_leave_the_return_as_it_was(site: Site) -> None:
    rid = await _announce(site, "RMA-RACE-2")
    other = await _announce(site, "RMA-RACE-3")
    async with site.gateway.store.transaction() as tx:
        ret = await tx.returns.get("acme", rid)
        assert ret is not None
        parcel = await tx.parcels.get_by_uid(ret.parcel_uid)
        assert parcel is not None
        now = site.clock()
        assert await bind_scanned_label(tx, parcel, "RA123456784GB", now) is None  # bad S10
        assert await bind_scanned_label(tx, parcel, other, now) is None  # another parcel's id
    read = (await site.get(f"/v1/returns/{rid}")).json()
    assert (read["parcelId"], read["label"]) == (rid, None)
