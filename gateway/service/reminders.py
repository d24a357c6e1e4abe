"""Pickup reminders: a `parcel.pickup_reminder` for the recipient's notifiers, at the times
the parcel's hold-time policy names (hours before the deadline), once each.

Not a state change, so not a parcel event: it is queued straight into the outbox, for the
carrier's active attachments whose connector notifies recipients and wants the type. The
parcel row records the `pickupUntil` it was queued for, claimed by a conditional update in
the same transaction as the rows, so N instances scanning at once queue it once; a carrier
that extends the window re-arms it for the new deadline. Parcels whose pickup window is no
longer than the lead get none (the ready message already named the deadline).

A parcel booked under a hold-time policy (gateway/domain/hold_policy.py) carries its next
reminder time (`next_reminder_at`), set at the deposit and at each extension; taking a reminder
arms the following one in the same conditional update. Parcels booked before policies existed
(migration 0016) get the one reminder `lead` ahead of the deadline, as before.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timedelta

from gateway.clock import Clock, utc_now
from gateway.domain.delivery import TargetKind
from gateway.domain.parcel import Parcel
from gateway.errors import OpenLockerError
from gateway.sdk.connectors import (
    PICKUP_REMINDER,
    ConnectorEvent,
)
from gateway.service.notifications import EVENT_ID_NAMESPACE, locker_info
from gateway.service.recipients import connector_notifies, connector_recipient
from gateway.store import NewDelivery, Store, UnitOfWork
from gateway.wire import dump, event_to_wire, parcel_to_wire

__all__ = ["ReminderScheduler", "reminder_event_id"]

log = logging.getLogger(__name__)


def reminder_event_id(
    parcel_uid: str, pickup_until: datetime, due_at: datetime | None = None
) -> str:
    """One id per parcel, deadline (and reminder time, for policy reminders), the same on
    every instance."""
    name = f"{parcel_uid}/reminder/{pickup_until.isoformat()}"
    if due_at is not None:
        name += f"/{due_at.isoformat()}"
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, name))


class ReminderScheduler:
    def __init__(
        self,
        *,
        store: Store,
        lead: timedelta | None,
        network_id: str,
        batch: int = 100,
        clock: Clock = utc_now,
    ) -> None:
        if lead is not None and lead <= timedelta(0):
            raise ValueError("the reminder lead must be positive (None: no legacy reminders)")
        self._store = store
        self._lead = lead
        self._network_id = network_id
        self._batch = batch
        self._clock = clock

    async def run_once(self) -> int:
        """Queue every reminder that is due; returns how many parcels got one."""
        now = self._clock()
        async with self._store.transaction() as tx:
            due = await tx.parcels.due_policy_reminders(now, self._batch)
            legacy = []
            if self._lead is not None:
                legacy = await tx.parcels.due_reminders(now, self._lead, self._batch)
        queued = 0
        for parcel in due:
            async with self._store.transaction() as tx:
                if await self._queue_policy(tx, parcel, now):
                    queued += 1
        for parcel in legacy:
            async with self._store.transaction() as tx:
                if await self._queue(tx, parcel, now):
                    queued += 1
        return queued

    async def run_forever(self, interval_s: float) -> None:
        while True:
            try:
                count = await self.run_once()
                if count:
                    log.info("queued pickup reminders for %d parcel(s)", count)
            except OpenLockerError as err:
                # A database hiccup must not end the loop; the next pass catches up.
                log.warning("pickup reminder pass failed: %s", err)
            except Exception:
                # Nor may anything else (a row no code path can read): this runs in the
                # gateway's TaskSet, where an escaping error would stop the whole gateway.
                log.exception("pickup reminder pass failed; trying again in %g s", interval_s)
            await asyncio.sleep(interval_s)

    async def _queue_policy(self, tx: UnitOfWork, parcel: Parcel, now: datetime) -> bool:
        # due_policy_reminders selects only parcels with a deadline and a reminder time.
        assert parcel.pickup_until is not None
        assert parcel.next_reminder_at is not None
        due_at = parcel.next_reminder_at
        # Reminders missed while no instance ran are not sent late one by one: the latest
        # one due goes out and the next future one is armed.
        following = parcel.hold.next_reminder(parcel.pickup_until, now) if parcel.hold else None
        if not await tx.parcels.claim_policy_reminder(
            parcel.uid, due_at, parcel.pickup_until, following
        ):
            return False  # another instance queued it, or the parcel moved on
        eid = reminder_event_id(parcel.uid, parcel.pickup_until, due_at)
        await self._send(tx, parcel, now, eid)
        return True

    async def _queue(self, tx: UnitOfWork, parcel: Parcel, now: datetime) -> bool:
        assert parcel.pickup_until is not None  # due_reminders selects only those
        if not await tx.parcels.claim_reminder(parcel.uid, parcel.pickup_until):
            return False  # another instance queued it, or the parcel moved on
        await self._send(tx, parcel, now, reminder_event_id(parcel.uid, parcel.pickup_until))
        return True

    async def _send(self, tx: UnitOfWork, parcel: Parcel, now: datetime, eid: str) -> None:
        """The reminder's outbox rows, one per notifying attachment of the carrier."""
        recipient = connector_recipient(parcel)
        if recipient is None or recipient.opt_out:
            return  # claimed all the same: nobody to remind, now or on the next pass
        targets = [
            a.id
            for a in await tx.connector_attachments.list_active_for(parcel.carrier_id)
            if a.wants(PICKUP_REMINDER) and connector_notifies(a.connector)
        ]
        if not targets:
            return
        # Not a state change: `event` is the one that made (or kept) the parcel ready, as the
        # SDK's samples show it; the deadline is the parcel's `pickupUntil`.
        latest = (await tx.events.list(parcel.uid))[-1]
        body = dump(
            ConnectorEvent(
                event_id=eid,
                type=PICKUP_REMINDER,
                occurred_at=now,
                network_id=self._network_id,
                carrier_id=parcel.carrier_id,
                parcel=parcel_to_wire(parcel),
                event=event_to_wire(latest),
                locker=await locker_info(tx, parcel.locker_id),
                recipient=recipient,
            )
        )
        for target_id in targets:
            delivery = NewDelivery(
                event_id=eid,
                target_id=target_id,
                carrier_id=parcel.carrier_id,
                parcel_uid=parcel.uid,
                # After the event that made it ready (its rows go first), and never holding up
                # the parcel's next real event, which has this same number.
                parcel_seq=parcel.last_seq + 1,
                type=PICKUP_REMINDER,
                body=body,
                target_kind=TargetKind.CONNECTOR,
            )
            await tx.outbox.enqueue(delivery, at=now)
