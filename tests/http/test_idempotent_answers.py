"""Idempotent service calls: typed results out; the edge's rendered answer kept with the effect."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.domain.enums import ParcelState, SizeClass
from gateway.domain.parcel import Parcel
from gateway.domain.sizes import SizeRequirement
from gateway.http import render
from gateway.service.idempotency import IdempotencyKey, Idempotent
from gateway.service.parcels import NewParcel
from tests.http.conftest import Site


def booking(parcel_id: str) -> NewParcel:
    return NewParcel(
        carrier_id="acme",
        parcel_id=parcel_id,
        locker_id="WAW-CENTRAL-01",
        need=SizeRequirement(size_class=SizeClass.S),
    )


async def test_first_call_returns_the_typed_result_and_a_replay_the_stored_answer(
    site: Site,
) -> None:
    rendered: list[Parcel] = []

    def counting(parcel: Parcel) -> dict[str, Any]:
        rendered.append(parcel)
        return render.parcel(parcel)

    idem = Idempotent(IdempotencyKey("typed-0001", "f1"), counting)
    first = await site.gateway.parcels.create(booking("TY-1"), idem)
    assert isinstance(first.result, Parcel)
    assert first.result.state is ParcelState.RESERVED
    assert not first.replayed
    assert first.answer == render.parcel(first.result)

    again = await site.gateway.parcels.create(booking("TY-1"), idem)
    assert again.replayed
    assert again.result is None
    assert again.answer == first.answer
    assert len(rendered) == 1  # a replay renders nothing: it is the stored first answer

    # Over HTTP the same key answers the same stored body.
    assert (await site.get("/v1/parcels/TY-1")).json() == first.answer


async def test_an_answer_that_cannot_be_rendered_leaves_no_effect(site: Site) -> None:
    def broken(parcel: Parcel) -> dict[str, Any]:
        raise RuntimeError("renderer failed")

    with pytest.raises(RuntimeError, match="renderer failed"):
        await site.gateway.parcels.create(
            booking("TY-2"), Idempotent(IdempotencyKey("typed-0002", "f2"), broken)
        )
    # The booking and its answer share one transaction: neither was kept, so a retry books.
    assert (await site.get("/v1/parcels/TY-2")).status_code == 404
    retry = Idempotent(IdempotencyKey("typed-0002", "f2"), render.parcel)
    assert not (await site.gateway.parcels.create(booking("TY-2"), retry)).replayed
