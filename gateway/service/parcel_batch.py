"""Batch pre-advice: many bookings under one Idempotency-Key, each accepted or refused alone.

The whole batch is one transaction and each item a savepoint inside it: an item's refusal
(unknown locker, no compartment, a reused parcel id) undoes only that item, while the batch's
answer is stored with the accepted items' effects (parcels, events, outbox rows) in the same
commit, as `run_idempotent` does for a single booking. One transaction per item instead would
leave a crash mid-batch with half the items booked and no answer to replay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from gateway.clock import Clock, utc_now
from gateway.domain.parcel import Parcel
from gateway.errors import ConcurrentUpdate, OpenLockerError, OperationTimeout, Unavailable
from gateway.service.idempotency import Answered, Idempotent, run_idempotent
from gateway.service.parcels import NewParcel, ParcelService
from gateway.store import Store, UnitOfWork

# These say nothing about the item: the whole batch is retried (a lost race) or refused.
_NOT_THE_ITEMS_FAULT = (ConcurrentUpdate, Unavailable, OperationTimeout)


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """One item of a batch: the parcel booked, or why it was refused (exactly one is set)."""

    index: int
    parcel: Parcel | None = None
    refusal: OpenLockerError | None = None


BatchItem = NewParcel | OpenLockerError
"""A booking command, or the refusal of an item the edge could not read (wrong types)."""


class BatchBooking:
    """Books a batch through the single booking's own sequence (`ParcelService.book_in`)."""

    def __init__(self, *, store: Store, parcels: ParcelService, clock: Clock = utc_now) -> None:
        self._store = store
        self._parcels = parcels
        self._clock = clock

    async def book(
        self,
        carrier_id: str,
        items: Sequence[BatchItem],
        idem: Idempotent[tuple[ItemOutcome, ...]],
    ) -> Answered[tuple[ItemOutcome, ...]]:
        """Each item's outcome in order; a replay of the key answers the first outcomes."""

        async def work(tx: UnitOfWork, now: datetime) -> tuple[ItemOutcome, ...]:
            # In order, one at a time: the items share the transaction and its connection.
            return tuple([await self._one(tx, i, item, now) for i, item in enumerate(items)])

        return await run_idempotent(
            self._store, self._clock, carrier_id, idem, work, subject="batch"
        )

    async def _one(self, tx: UnitOfWork, index: int, item: BatchItem, now: datetime) -> ItemOutcome:
        if isinstance(item, OpenLockerError):
            return ItemOutcome(index, refusal=item)
        try:
            async with tx.savepoint():
                parcel = await self._parcels.book_in(tx, item, now)
        except _NOT_THE_ITEMS_FAULT:
            raise
        except OpenLockerError as err:
            return ItemOutcome(index, refusal=err)
        return ItemOutcome(index, parcel=parcel)
