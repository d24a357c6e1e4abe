"""Pickup reminders: a `parcel.pickup_reminder` for the recipient's notifiers, once per deadline.

Not a state change, so not a parcel event: it is queued straight into the outbox, for the
carrier's active attachments whose connector notifies recipients and wants the type. The
parcel row records the `pickupUntil` it was queued for, claimed by a conditional update in
the same transaction as the rows, so N instances scanning at once queue it once; a carrier
that extends the window re-arms it for the new deadline. Parcels whose pickup window is no
longer than the lead get none (the ready message already named the deadline).
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


def reminder_event_id(parcel_uid: str, pickup_until: datetime) -> str:
    """One id per parcel and deadline, the same on every instance."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{parcel_uid}/reminder/{pickup_until.isoformat()}"))


class ReminderScheduler:
    def __init__(
        self,
        *,
        store: Store,
        lead: timedelta,
        network_id: str,
        batch: int = 100,
        clock: Clock = utc_now,
    ) -> None:
        if lead <= timedelta(0):
            raise ValueError("the reminder lead must be positive")
        self._store = store
        self._lead = lead
        self._network_id = network_id
        self._batch = batch
        self._clock = clock

    async def run_once(self) -> int:
        """Queue every reminder that is due; returns how many parcels got one."""
        now = self._clock()
        async with self._store.transaction() as tx:
            due = await tx.parcels.due_reminders(now, self._lead, self._batch)
        queued = 0
        for parcel in due:
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

    async def _queue(self, tx: UnitOfWork, parcel: Parcel, now: datetime) -> bool:
        assert parcel.pickup_until is not None  # due_reminders selects only those
        if not await tx.parcels.claim_reminder(parcel.uid, parcel.pickup_until):
            return False  # another instance queued it, or the parcel moved on
        recipient = connector_recipient(parcel)
        if recipient is None or recipient.opt_out:
            return True  # claimed all the same: nobody to remind, now or on the next pass
        targets = [
            a.id
            for a in await tx.connector_attachments.list_active_for(parcel.carrier_id)
            if a.wants(PICKUP_REMINDER) and connector_notifies(a.connector)
        ]
        if not targets:
            return True
        eid = reminder_event_id(parcel.uid, parcel.pickup_until)
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
        return True
