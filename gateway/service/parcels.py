"""Parcel flows: booking, carrier actions, locker-reported actions and timed expiry."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from gateway.clock import Clock, utc_now
from gateway.domain.compartment import Compartment, CompartmentEffect
from gateway.domain.enums import Direction, ParcelAction, ParcelState
from gateway.domain.hold_policy import HoldSource
from gateway.domain.parcel import Parcel, ParcelEvent, Transition, announce, transition
from gateway.domain.recipients import Recipient
from gateway.domain.s10 import looks_like_s10, s10_problem
from gateway.domain.sizes import SizeRequirement
from gateway.errors import (
    ConcurrentUpdate,
    FieldIssue,
    NoCompartmentAvailable,
    NotFound,
    ValidationFailed,
)
from gateway.service.bundle_events import record_bundle_pickup
from gateway.service.cursors import decode_cursor, encode_cursor
from gateway.service.hold_policies import HoldPolicies
from gateway.service.holds import (
    allocate_compartment,
    attach_hold,
    attached_hold,
    convert_hold,
    hold_for_booking,
    release_attached,
)
from gateway.service.idempotency import Answered, Idempotent, run_idempotent
from gateway.service.notifications import carrier_targets, record_parcel_event
from gateway.service.requirements import check_announcement, explain_no_compartment
from gateway.store import Store, UnitOfWork

# A mutation that lost an optimistic-locking race is retried from a fresh read this often.
MAX_ATTEMPTS = 5

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class NewParcel:
    """A carrier's booking request, already validated against the schema."""

    carrier_id: str
    parcel_id: str
    locker_id: str
    need: SizeRequirement
    direction: Direction = Direction.LAST_MILE
    reserve: bool = True
    reservation_ttl: timedelta | None = None
    pickup_window: timedelta | None = None
    reference: str | None = None
    recipient: Recipient | None = None  # personal data, for notifiers only
    hold_id: str | None = None  # a soft hold to book against (gateway/service/holds.py)
    # Details of the parcel's first history event (how it came in: a scan at the locker,
    # gateway/service/scan_queries.py); none for a carrier's announcement.
    announced_details: Mapping[str, Any] | None = None


class ParcelService:
    def __init__(
        self,
        *,
        store: Store,
        reservation_ttl: timedelta,
        pickup_window: timedelta,
        clock: Clock = utc_now,
        network_id: str = "openlocker-local",  # the settings' default; events carry it
        hold_policies: HoldPolicies | None = None,
    ) -> None:
        """`hold_policies`: applied to every new parcel (gateway/service/hold_policies.py);
        without it a parcel gets `pickup_window` and no policy, as before migration 0016."""
        self._store = store
        self._hold_policies = hold_policies
        self._network_id = network_id
        self._reservation_ttl = reservation_ttl
        self._pickup_window = pickup_window
        self._clock = clock

    # ---- carrier reads -------------------------------------------------------------------

    async def get(self, carrier_id: str, parcel_id: str) -> Parcel:
        async with self._store.transaction() as tx:
            return await _own(tx, carrier_id, parcel_id)

    async def page(
        self,
        carrier_id: str,
        *,
        state: ParcelState | None = None,
        locker_id: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> tuple[list[Parcel], str | None]:
        after = decode_cursor(cursor, "p") if cursor else None
        async with self._store.transaction() as tx:
            items, next_seq = await tx.parcels.list(
                carrier_id, state=state, locker_id=locker_id, after_seq=after, limit=limit
            )
        return items, encode_cursor("p", next_seq) if next_seq is not None else None

    async def events(self, carrier_id: str, parcel_id: str) -> list[ParcelEvent]:
        async with self._store.transaction() as tx:
            parcel = await _own(tx, carrier_id, parcel_id)
            return await tx.events.list(parcel.uid)

    # ---- carrier mutations (idempotent) --------------------------------------------------

    async def create(self, cmd: NewParcel, idem: Idempotent[Parcel]) -> Answered[Parcel]:
        _check_booking(cmd)

        async def work(tx: UnitOfWork, now: datetime) -> Parcel:
            return await self._book(tx, cmd, now)

        # A booking's effects are all in its transaction: its key is looked up only when the
        # first attempt fails (a replay books its parcel id again), one statement less.
        return await run_idempotent(
            self._store, self._clock, cmd.carrier_id, idem, work, subject="parcel", optimistic=True
        )

    async def book_in(self, tx: UnitOfWork, cmd: NewParcel, now: datetime) -> Parcel:
        """Book one parcel inside a caller's transaction, checked exactly as `create` checks
        it (a batch books each of its items through here, each in its own savepoint)."""
        _check_booking(cmd)
        return await self._book(tx, cmd, now)

    async def reserve(
        self, carrier_id: str, parcel_id: str, idem: Idempotent[Parcel]
    ) -> Answered[Parcel]:
        return await self._carrier_action(carrier_id, parcel_id, idem, ParcelAction.RESERVE)

    async def cancel(
        self,
        carrier_id: str,
        parcel_id: str,
        idem: Idempotent[Parcel],
        reason: str | None = None,
    ) -> Answered[Parcel]:
        details = {"reason": reason} if reason else {}
        return await self._carrier_action(
            carrier_id, parcel_id, idem, ParcelAction.CANCEL, details=details
        )

    async def extend(
        self, carrier_id: str, parcel_id: str, idem: Idempotent[Parcel], pickup_until: datetime
    ) -> Answered[Parcel]:
        return await self._carrier_action(
            carrier_id, parcel_id, idem, ParcelAction.EXTEND, pickup_until=pickup_until
        )

    async def redirect(
        self,
        carrier_id: str,
        parcel_id: str,
        idem: Idempotent[Parcel],
        *,
        locker_id: str,
        new_parcel_id: str,
    ) -> Answered[Parcel]:
        """Send a waiting parcel to another locker: the old one is redirected, a new one booked."""

        async def work(tx: UnitOfWork, now: datetime) -> Parcel:
            old = await _own(tx, carrier_id, parcel_id, for_update=True)
            cmd = NewParcel(
                carrier_id=carrier_id,
                parcel_id=new_parcel_id,
                locker_id=locker_id,
                need=old.need,
                reservation_ttl=old.reservation_ttl,
                # The new locker's hold policy applies, unless the carrier chose the window.
                pickup_window=_chosen_window(old),
                reference=old.reference,
                recipient=old.recipient,  # the same person collects it elsewhere
            )
            await self._apply(
                tx,
                old,
                ParcelAction.REDIRECT,
                now,
                redirect_to=new_parcel_id,
                details={"newParcelId": new_parcel_id},
            )
            return await self._book(tx, cmd, now, redirected_from=parcel_id)

        return await self._idempotent(carrier_id, idem, work)

    # ---- locker-reported actions and timers ----------------------------------------------

    async def apply_action(
        self,
        parcel_uid: str,
        action: ParcelAction,
        *,
        fault: bool = False,
        details: dict[str, Any] | None = None,
    ) -> Parcel:
        """A locker or operator moved the parcel on (deposit, pickup, collect, failures...)."""

        async def work(tx: UnitOfWork, now: datetime) -> Parcel:
            parcel = await tx.parcels.get_by_uid(parcel_uid, for_update=True)
            if parcel is None:
                raise NotFound(f"no parcel with uid {parcel_uid}")
            return await self._apply(tx, parcel, action, now, fault=fault, details=details)

        return await self._retrying(work)

    async def expire_due(self, limit: int = 100) -> int:
        """Expire reservations and pickup windows that have run out; returns how many."""
        now = self._clock()
        async with self._store.transaction() as tx:
            reservations = await tx.parcels.due_reservations(now, limit)
            pickups = await tx.parcels.due_pickups(now, limit)
        done = 0
        for parcel, action in [(p, ParcelAction.EXPIRE_RESERVATION) for p in reservations] + [
            (p, ParcelAction.EXPIRE) for p in pickups
        ]:
            if await self._expire_one(parcel.uid, action):
                done += 1
        return done

    async def _expire_one(self, uid: str, action: ParcelAction) -> bool:
        async def work(tx: UnitOfWork, now: datetime) -> Parcel | None:
            parcel = await tx.parcels.get_by_uid(uid, for_update=True)
            # Another instance, or the carrier, may have moved it on since the scan.
            if parcel is None or not _is_due(parcel, action, now):
                return None
            return await self._apply(tx, parcel, action, now)

        return await self._retrying(work) is not None

    # ---- the sequence shared by every flow -----------------------------------------------

    async def _book(
        self, tx: UnitOfWork, cmd: NewParcel, now: datetime, redirected_from: str | None = None
    ) -> Parcel:
        first_mile = cmd.direction is Direction.FIRST_MILE
        fresh = Parcel(
            uid=str(uuid.uuid4()),
            carrier_id=cmd.carrier_id,
            parcel_id=cmd.parcel_id,
            direction=cmd.direction,
            state=ParcelState.DROPOFF_ANNOUNCED if first_mile else ParcelState.ANNOUNCED,
            locker_id=cmd.locker_id,
            need=cmd.need,
            created_at=now,
            updated_at=now,
            reference=cmd.reference,
            reservation_ttl=cmd.reservation_ttl or self._reservation_ttl,
            pickup_window=cmd.pickup_window or self._pickup_window,
            redirected_from=redirected_from,
            recipient=cmd.recipient,
        )
        if self._hold_policies is not None:
            hold = await self._hold_policies.applied(
                tx,
                carrier_id=cmd.carrier_id,
                locker_id=cmd.locker_id,
                requested_window=cmd.pickup_window,
            )
            fresh = replace(fresh, hold=hold, pickup_window=hold.pickup_window)
        steps = [announce(fresh, now)]
        if cmd.announced_details:
            first = steps[0]
            steps[0] = replace(
                first, event=replace(first.event, details=dict(cmd.announced_details))
            )
        if cmd.reserve and not first_mile:
            steps.append(transition(steps[-1].parcel, ParcelAction.RESERVE, now))
        parcel = steps[-1].parcel
        soft_hold = None
        if cmd.hold_id is not None:
            soft_hold = await hold_for_booking(
                tx, cmd.carrier_id, cmd.locker_id, cmd.hold_id, fresh.uid, now
            )
        if any(step.effect is CompartmentEffect.RESERVE for step in steps):
            try:
                compartment = await allocate_compartment(
                    tx, cmd.locker_id, cmd.need, fresh.uid, now, hold=soft_hold
                )
            except NoCompartmentAvailable as full:
                # Only now tell a missing locker from a full one: a claimed compartment proves
                # the locker exists, which saves the hot path a query.
                await _known_locker(tx, cmd.locker_id)
                raise await explain_no_compartment(tx, cmd.locker_id, cmd.need, full) from None
            parcel = replace(parcel, compartment_code=compartment.code)
        else:
            await _known_locker(tx, cmd.locker_id)
            await check_announcement(tx, cmd.locker_id, cmd.need)
        stored = await tx.parcels.insert(parcel)
        if soft_hold is not None:
            # Reserved now: the hold became a hard reservation; else it waits for the door.
            settle_hold = convert_hold if stored.compartment_code else attach_hold
            await settle_hold(tx, soft_hold, stored.uid, stored.parcel_id, now)
        targets = await carrier_targets(tx, stored.carrier_id)  # once for both events
        # Both events in one statement (announced, reserved): one round trip, not two.
        await tx.events.append_all(stored.uid, [step.event for step in steps])
        for step in steps:
            await record_parcel_event(
                tx, stored, step.event, network_id=self._network_id, targets=targets
            )
        return stored

    async def apply_in(
        self,
        tx: UnitOfWork,
        parcel: Parcel,
        action: ParcelAction,
        **options: Any,
    ) -> Parcel:
        """Apply an action inside a caller's transaction (door events use their own).

        `compartment`: the parcel's compartment as read in `tx` and as the door left it (a
        door event's reading); written together with the parcel's effect, in one update.
        """
        return await self._apply(tx, parcel, action, self._clock(), **options)

    async def _apply(
        self,
        tx: UnitOfWork,
        parcel: Parcel,
        action: ParcelAction,
        now: datetime,
        *,
        compartment: tuple[Compartment, Compartment] | None = None,
        **options: Any,
    ) -> Parcel:
        step: Transition = transition(parcel, action, now, **options)
        after = step.parcel
        if compartment is not None and (
            step.effect is CompartmentEffect.RESERVE
            or (compartment[0].locker_id, compartment[0].code)
            != (parcel.locker_id, parcel.compartment_code)
        ):
            # Not the compartment the effect is about: the door's reading goes in on its own.
            if compartment[1] != compartment[0]:
                await tx.lockers.save_compartment(*compartment)
            compartment = None
        if step.effect is CompartmentEffect.RESERVE:
            # Announced with a soft hold (reserve false): the compartment comes from its class.
            announced = parcel.state is ParcelState.ANNOUNCED
            soft_hold = await attached_hold(tx, parcel.uid, now) if announced else None
            try:
                allocated = await allocate_compartment(
                    tx, parcel.locker_id, parcel.need, parcel.uid, now, hold=soft_hold
                )
            except NoCompartmentAvailable as full:
                raise await explain_no_compartment(
                    tx, parcel.locker_id, parcel.need, full
                ) from None
            after = replace(after, compartment_code=allocated.code)
            if soft_hold is not None:
                await convert_hold(tx, soft_hold, parcel.uid, parcel.parcel_id, now)
        elif action is ParcelAction.CANCEL and parcel.state is ParcelState.ANNOUNCED:
            await release_attached(tx, parcel.uid, now)
        elif compartment is not None:
            # Door reading and parcel effect in one update (the row was read in this tx).
            read, door = compartment
            written = door if step.effect is None else door.apply(step.effect, parcel.uid)
            if written != read:
                await tx.lockers.save_compartment(read, written)
        elif step.effect is not None and parcel.compartment_code is not None:
            before = await tx.lockers.compartment(parcel.locker_id, parcel.compartment_code)
            if before is not None:
                await tx.lockers.save_compartment(before, before.apply(step.effect, parcel.uid))
        stored = await tx.parcels.update(parcel, after)
        await tx.events.append(parcel.uid, step.event)
        await record_parcel_event(tx, stored, step.event, network_id=self._network_id)
        if action is ParcelAction.PICK_UP:
            # A bundle reports each pickup of its parcels (one lookup, pickups only).
            await record_bundle_pickup(tx, stored, at=now)
        return stored

    async def _carrier_action(
        self,
        carrier_id: str,
        parcel_id: str,
        idem: Idempotent[Parcel],
        action: ParcelAction,
        **options: Any,
    ) -> Answered[Parcel]:
        async def work(tx: UnitOfWork, now: datetime) -> Parcel:
            parcel = await _own(tx, carrier_id, parcel_id, for_update=True)
            return await self._apply(tx, parcel, action, now, **options)

        return await self._idempotent(carrier_id, idem, work)

    async def _idempotent(
        self,
        carrier_id: str,
        idem: Idempotent[Parcel],
        work: Callable[[UnitOfWork, datetime], Awaitable[Parcel]],
    ) -> Answered[Parcel]:
        """Run `work` once per key; the answer is the parcel as it leaves, as the edge
        renders it."""
        return await run_idempotent(
            self._store, self._clock, carrier_id, idem, work, subject="parcel"
        )

    async def _retrying(self, work: Callable[[UnitOfWork, datetime], Awaitable[T]]) -> T:
        for _ in range(MAX_ATTEMPTS):
            try:
                async with self._store.transaction() as tx:
                    return await work(tx, self._clock())
            except ConcurrentUpdate:
                continue
        raise ConcurrentUpdate("too much contention on this parcel; retry later")


def _check_booking(cmd: NewParcel) -> None:
    """What a booking is refused for before the database is asked."""
    problem = s10_problem(cmd.parcel_id) if looks_like_s10(cmd.parcel_id) else None
    if problem:
        raise ValidationFailed(
            f"parcelId claims to be a UPU S10 id but {problem}",
            issues=(FieldIssue("/parcelId", problem),),
        )
    if cmd.direction is Direction.FIRST_MILE and cmd.need.requirements.pickup_check:
        raise ValidationFailed(
            "a pickup check applies to last-mile parcels only (a courier collects a drop-off)",
            issues=(
                FieldIssue("/requirements/pickupCheck", "not allowed for direction first_mile"),
            ),
        )
    if cmd.direction is Direction.FIRST_MILE and not cmd.reserve:
        raise ValidationFailed(
            "a first-mile drop-off always reserves a compartment",
            issues=(FieldIssue("/reserve", "must be true for direction first_mile"),),
        )


def _chosen_window(parcel: Parcel) -> timedelta | None:
    """The pickup window a carrier chose for this parcel itself, if it did."""
    if parcel.hold is None:
        return parcel.pickup_window  # booked before hold-time policies: kept as it was
    return parcel.pickup_window if parcel.hold.window_from is HoldSource.REQUEST else None


def _is_due(parcel: Parcel, action: ParcelAction, now: datetime) -> bool:
    if action is ParcelAction.EXPIRE_RESERVATION:
        waiting = parcel.state in (ParcelState.RESERVED, ParcelState.DROPOFF_ANNOUNCED)
        return waiting and parcel.reserved_until is not None and parcel.reserved_until <= now
    return (
        parcel.state is ParcelState.READY_FOR_PICKUP
        and parcel.pickup_until is not None
        and parcel.pickup_until <= now
    )


async def _known_locker(tx: UnitOfWork, locker_id: str) -> None:
    if await tx.lockers.get(locker_id) is None:
        raise NotFound(f"no locker {locker_id!r}", details={"pointer": "/lockerId"})


async def _own(
    tx: UnitOfWork, carrier_id: str, parcel_id: str, *, for_update: bool = False
) -> Parcel:
    """The carrier's own parcel; another carrier's is reported as missing so ids do not leak."""
    parcel = await tx.parcels.get(carrier_id, parcel_id, for_update=for_update)
    if parcel is None:
        raise NotFound(f"no parcel {parcel_id!r}")
    return parcel
