"""What operators do through the admin API, each with a reason and an audit entry (who, what,
why) written in the transaction that makes the change.

The lifecycle stays the services' and the domain's: a parcel moves only through
ParcelService's transitions, a door opens only through Unlocks, a compartment changes only
through its own domain methods. This module adds who and why.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from gateway.clock import Clock, utc_now
from gateway.domain.audit import AuditAction
from gateway.domain.door import PURPOSE_FOR_STATE, OpenOutcome, OpenPurpose
from gateway.domain.enums import CompartmentState, ParcelAction, ParcelState
from gateway.domain.parcel import Parcel
from gateway.errors import ConcurrentUpdate, IllegalTransition, NotFound
from gateway.service.admin_views import CompartmentStatus
from gateway.service.availability import AvailabilitySync
from gateway.service.idempotency import (
    Answered,
    IdempotencyKey,
    Idempotent,
    JsonBody,
    run_idempotent,
)
from gateway.service.parcels import ParcelService
from gateway.service.unlocks import OpenResult, Unlocks
from gateway.store import Store, UnitOfWork

T = TypeVar("T")
MAX_ATTEMPTS = 5
# A parcel may move to another compartment only before it is inside one.
MOVABLE = frozenset({ParcelState.RESERVED, ParcelState.DROPOFF_ANNOUNCED})


@dataclass(frozen=True, slots=True)
class Why:
    """Who acts and why: every admin action carries both into the audit chain."""

    actor: str
    reason: str


@dataclass(frozen=True, slots=True)
class Reply(Generic[T]):
    """How the edge renders an action's result, and the request's Idempotency-Key if it sent
    one: with a key the action runs once per key and operator, and every retry is answered
    the first answer (stored with the action's effects)."""

    render: Callable[[T], JsonBody]
    key: IdempotencyKey | None = None


def no_answer(_: object) -> JsonBody:
    """The renderer of callers that answer with something else (the console's redirects)."""
    return {}


class AdminActions:
    def __init__(
        self,
        *,
        store: Store,
        parcels: ParcelService,
        unlocks: Unlocks,
        availability: AvailabilitySync | None = None,
        clock: Clock = utc_now,
    ) -> None:
        """`availability` tells the locker of a compartment taken out of service or back."""
        self._availability = availability
        self._clock = clock
        self._store = store
        self._parcels = parcels
        self._unlocks = unlocks

    # ---- compartments --------------------------------------------------------------------

    async def set_in_service(
        self,
        locker_id: str,
        code: str,
        in_service: bool,
        why: Why,
        reply: Reply[CompartmentStatus],
    ) -> Answered[CompartmentStatus]:
        """Take a compartment out of service (a parcel inside stays attached) or back."""

        async def work(tx: UnitOfWork) -> CompartmentStatus:
            before = await tx.lockers.compartment(locker_id, code)
            if before is None:
                raise NotFound(f"no compartment {code!r} at locker {locker_id!r}")
            if in_service:
                after = before.enable()
            elif before.state is CompartmentState.OUT_OF_SERVICE:
                raise IllegalTransition(f"compartment {code} is out of service already")
            else:
                after = before.disable()
            await tx.lockers.save_compartment(before, after)
            what = "compartment.in_service" if in_service else "compartment.out_of_service"
            await _audit(tx, why, f"{locker_id}/{code}", what, lockerId=locker_id, code=code)
            inside = after.parcel_uid and await tx.parcels.get_by_uid(after.parcel_uid)
            return CompartmentStatus(after, inside or None)

        answered = await self._once(work, why, reply, "compartment")
        if answered.result is not None and self._availability is not None:
            # After the commit, and only for the request that made the change (a replay did
            # nothing). Not confirmed now, the push is retried with back-off and made again
            # at the locker's next Boot; the answer says which.
            told = await self._availability.push(
                locker_id, code, available=in_service, reason=why.reason
            )
            answered = replace(answered, answer=answered.answer | {"atLocker": told.value})
            if reply.key is not None:
                # Replays answer the first answer, this too (stored with the change, before
                # the push: a replay during the push gets it without `atLocker`).
                async with self._store.transaction() as tx:
                    await tx.idempotency.replace(why.actor, reply.key.key, answered.answer)
        return answered

    # ---- parcels -------------------------------------------------------------------------

    async def force_expire(self, uid: str, why: Why, reply: Reply[Parcel]) -> Answered[Parcel]:
        """End a parcel's pickup window now (a courier then collects it): the lifecycle's own
        expiry, with the window's end moved to this moment."""
        return await self._transition(
            uid, ParcelAction.EXPIRE, "parcel.force_expire", why, reply, end_window=True
        )

    async def mark_picked_up(self, uid: str, why: Why, reply: Reply[Parcel]) -> Answered[Parcel]:
        """Record a pickup the locker could not report (a recipient helped on site)."""
        return await self._transition(
            uid, ParcelAction.PICK_UP, "parcel.mark_picked_up", why, reply
        )

    async def reassign(
        self, uid: str, locker_id: str, code: str, why: Why, reply: Reply[Parcel]
    ) -> Answered[Parcel]:
        """Move a parcel's reservation to another free compartment of its locker.

        Only a reservation moves: a parcel inside a compartment moves only in a courier's
        hands, and another locker is a new booking, which the carrier makes (redirect).
        """

        async def work(tx: UnitOfWork) -> Parcel:
            parcel = await _parcel(tx, uid)
            if locker_id != parcel.locker_id:
                raise IllegalTransition(
                    f"parcel {parcel.parcel_id} is booked at locker {parcel.locker_id}; moving "
                    "it to another locker is a new booking the carrier makes "
                    "(POST /v1/parcels/{parcelId}/redirect)",
                    details={"lockerId": parcel.locker_id},
                )
            if parcel.state not in MOVABLE or parcel.compartment_code is None:
                raise IllegalTransition(
                    f"parcel {parcel.parcel_id} is {parcel.state}: only a reserved parcel, not "
                    "yet deposited, can move to another compartment",
                    details={"state": str(parcel.state)},
                )
            if code == parcel.compartment_code:
                raise IllegalTransition(f"parcel {parcel.parcel_id} is in compartment {code}")
            target = await tx.lockers.compartment(locker_id, code)
            if target is None:
                raise NotFound(f"no compartment {code!r} at locker {locker_id!r}")
            if not parcel.need.accepts(target.size_class, target.inside, target.max_weight_g):
                raise IllegalTransition(
                    f"compartment {code} ({target.size_class}) does not fit parcel "
                    f"{parcel.parcel_id}",
                    details={"sizeClass": str(target.size_class)},
                )
            await tx.lockers.save_compartment(target, target.reserve(parcel.uid))  # checks free
            old = await tx.lockers.compartment(parcel.locker_id, parcel.compartment_code)
            if old is not None and old.parcel_uid == parcel.uid:
                await tx.lockers.save_compartment(old, old.release())
            moved = await tx.parcels.update(parcel, _with_compartment(parcel, code))
            await _audit(
                tx,
                why,
                parcel.uid,
                "parcel.reassign",
                parcelId=parcel.parcel_id,
                carrierId=parcel.carrier_id,
                fromCompartment=parcel.compartment_code,
                toCompartment=code,
            )
            return moved

        return await self._once(work, why, reply, "parcel")

    async def remote_open(
        self, uid: str, why: Why, reply: Reply[OpenResult]
    ) -> Answered[OpenResult]:
        """Open the parcel's door now; the intent and reason are audited before the command
        goes out, the locker's outcome after it (by Unlocks, with the operator as actor).

        With an Idempotency-Key the key is claimed, and the intent audited, in the
        transaction that starts the door session (Unlocks.open_once): a retry after a timeout
        gets the door's real outcome instead of opening it a second time."""

        async def intent(tx: UnitOfWork) -> tuple[Parcel, OpenPurpose]:
            parcel = await _parcel(tx, uid)
            purpose = PURPOSE_FOR_STATE.get(parcel.state)
            if purpose is None:
                raise IllegalTransition(
                    f"a parcel that is {parcel.state} has no door to open",
                    details={"state": str(parcel.state)},
                )
            await _audit(
                tx,
                why,
                parcel.uid,
                "door.remote_open",
                parcelId=parcel.parcel_id,
                lockerId=parcel.locker_id,
                compartment=parcel.compartment_code,
                purpose=purpose.value,
            )
            return parcel, purpose

        if reply.key is not None:
            once = Idempotent(reply.key, reply.render)
            return await self._unlocks.open_once(why.actor, why.actor, intent, once)
        async with self._store.transaction() as tx:
            parcel, purpose = await intent(tx)
        result = await self._unlocks.open_for(parcel, purpose, actor=why.actor)
        return Answered(result, reply.render(result))

    async def maintenance_open(self, locker_id: str, code: str, why: Why) -> OpenOutcome:
        """Open an empty compartment's door (inspection, cleaning, a found item); refused
        for one holding a parcel. The intent and reason are audited with the door session's
        start, the locker's outcome after it (by Unlocks, with the operator as actor)."""

        async def intent(tx: UnitOfWork) -> None:
            await _audit(
                tx,
                why,
                f"{locker_id}/{code}",
                "door.maintenance_open",
                lockerId=locker_id,
                code=code,
                purpose=OpenPurpose.SERVICE.value,
            )

        return await self._unlocks.open_empty(locker_id, code, why.actor, intent)

    async def _transition(
        self,
        uid: str,
        action: ParcelAction,
        what: str,
        why: Why,
        reply: Reply[Parcel],
        *,
        end_window: bool = False,
    ) -> Answered[Parcel]:
        async def work(tx: UnitOfWork) -> Parcel:
            now = self._clock()
            parcel = await _parcel(tx, uid, for_update=True)
            if end_window and parcel.state is ParcelState.READY_FOR_PICKUP:
                parcel = replace(parcel, pickup_until=min(parcel.pickup_until or now, now))
            # The carrier sees this in the parcel's history: the network acted, and why;
            # which operator did is in the audit trail.
            details = {"by": "operator", "reason": why.reason}
            after = await self._parcels.apply_in(tx, parcel, action, details=details)
            await _audit(tx, why, uid, what, parcelId=parcel.parcel_id, carrierId=parcel.carrier_id)
            return after

        return await self._once(work, why, reply, "parcel")

    async def _once(
        self,
        work: Callable[[UnitOfWork], Awaitable[T]],
        why: Why,
        reply: Reply[T],
        subject: str,
    ) -> Answered[T]:
        """`work` in one transaction, retried on contention; with a key, once per key in the
        operator's own key space (`operator:<id>`), its answer stored with its effects."""
        if reply.key is None:
            result = await self._retrying(work)
            return Answered(result, reply.render(result))

        async def keyed(tx: UnitOfWork, _now: object) -> T:
            return await work(tx)

        request = Idempotent(reply.key, reply.render)
        return await run_idempotent(
            self._store, self._clock, why.actor, request, keyed, subject=subject
        )

    async def _retrying(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        for _ in range(MAX_ATTEMPTS):
            try:
                async with self._store.transaction() as tx:
                    return await work(tx)
            except ConcurrentUpdate:
                continue  # another transaction moved the row first: read it afresh
        raise ConcurrentUpdate("too much contention on this row; retry later")


async def _parcel(tx: UnitOfWork, uid: str, *, for_update: bool = False) -> Parcel:
    parcel = await tx.parcels.get_by_uid(uid, for_update=for_update)
    if parcel is None:
        raise NotFound(f"no parcel with uid {uid!r}")
    return parcel


def _with_compartment(parcel: Parcel, code: str) -> Parcel:
    return replace(parcel, compartment_code=code)


async def _audit(tx: UnitOfWork, why: Why, subject: str, what: str, **details: Any) -> None:
    await tx.audit.append(
        AuditAction.ADMIN_ACTION,
        actor=why.actor,
        subject=subject,
        details={"what": what, "reason": why.reason, **details},
    )
