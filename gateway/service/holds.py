"""Pre-check, soft holds and their part in every compartment allocation.

A soft hold counts against its size class at its locker while it is active and unexpired:
every allocation without the hold leaves `held` free compartments of the class alone, and the
parcel booked with the hold takes a compartment of exactly that class (the hold then becomes a
hard reservation: `hold.converted`). Announced without a compartment (`reserve: false`), the
parcel keeps the hold until it is reserved, at the latest when the courier opens its door.

Race-freedom (DESIGN.md): on SQLite BEGIN IMMEDIATE serialises holds and bookings. On
PostgreSQL a new hold locks the locker's free compartment rows before counting them, and a
booking, which claims a row with a conditional UPDATE, counts the holds again after its claim
and gives up its transaction (ConcurrentUpdate: retried) if it took a held compartment.
"""

from __future__ import annotations

import base64
import binascii
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.clock import Clock, utc_now
from gateway.domain.compartment import Compartment
from gateway.domain.enums import SizeClass
from gateway.domain.holds import Hold, HoldState, Precheck, class_capacity, precheck
from gateway.domain.sizes import SizeRequirement
from gateway.domain.webhooks import WebhookEventType
from gateway.errors import (
    ConcurrentUpdate,
    FieldIssue,
    NoCompartmentAvailable,
    NotFound,
    ValidationFailed,
)
from gateway.service.idempotency import Answered, Idempotent, run_idempotent
from gateway.service.named_events import queue_named
from gateway.service.notifications import event_id as notification_event_id
from gateway.store import Store, UnitOfWork
from gateway.wire import WebhookHoldEventOut, dump, hold_to_wire

log = logging.getLogger(__name__)

# How far ahead a pre-check may look, and how far behind its `at` may lie (clock skew).
PRECHECK_HORIZON = timedelta(days=7)
PRECHECK_SKEW = timedelta(minutes=5)
# Holds ended per expiry pass at most (the next pass takes the rest).
EXPIRY_BATCH = 100


@dataclass(frozen=True, slots=True)
class NewHold:
    """A carrier's hold request, already validated against the schema."""

    carrier_id: str
    locker_id: str
    need: SizeRequirement
    ttl: timedelta | None = None
    reference: str | None = None


class HoldService:
    def __init__(self, *, store: Store, default_ttl: timedelta, clock: Clock = utc_now) -> None:
        self._store = store
        self._default_ttl = default_ttl
        self._clock = clock

    async def precheck(
        self, locker_id: str, need: SizeRequirement, at: datetime | None = None
    ) -> Precheck:
        """Could `locker_id` take such a parcel at `at` (now when None)? Books nothing."""
        now = self._clock()
        when = now if at is None else at
        if when < now - PRECHECK_SKEW:
            raise ValidationFailed(
                "at lies in the past: a pre-check looks at now or later",
                issues=(FieldIssue("/query/at", "must not lie in the past"),),
            )
        if when > now + PRECHECK_HORIZON:
            raise ValidationFailed(
                f"at lies more than {PRECHECK_HORIZON.days} days ahead",
                issues=(FieldIssue("/query/at", f"at most {PRECHECK_HORIZON.days} days ahead"),),
            )
        when = max(when, now)
        async with self._store.transaction() as tx:
            await _known_locker(tx, locker_id)
            compartments = await tx.lockers.compartments(locker_id)
            held = await tx.holds.held(locker_id, when)
        return precheck(locker_id, compartments, need, held, when)

    async def create(self, cmd: NewHold, idem: Idempotent[Hold]) -> Answered[Hold]:
        async def work(tx: UnitOfWork, now: datetime) -> Hold:
            await _known_locker(tx, cmd.locker_id)
            await tx.holds.lock_free_compartments(cmd.locker_id)
            compartments = await tx.lockers.compartments(cmd.locker_id)
            held = await tx.holds.held(cmd.locker_id, now)
            classes = class_capacity(compartments, cmd.need, held)
            chosen = next((c for c in classes if c.spare > 0), None)
            if chosen is None:
                raise _no_capacity(cmd.locker_id, fits=bool(classes), held=held)
            hold = Hold(
                hold_id=str(uuid.uuid4()),
                carrier_id=cmd.carrier_id,
                locker_id=cmd.locker_id,
                size_class=chosen.size_class,
                need=cmd.need,
                state=HoldState.ACTIVE,
                created_at=now,
                expires_at=now + (cmd.ttl or self._default_ttl),
                updated_at=now,
                reference=cmd.reference,
            )
            await tx.holds.insert(hold)
            return hold

        return await run_idempotent(
            self._store, self._clock, cmd.carrier_id, idem, work, subject="hold"
        )

    async def get(self, carrier_id: str, hold_id: str) -> Hold:
        async with self._store.transaction() as tx:
            return await _own(tx, carrier_id, hold_id)

    async def page(
        self,
        carrier_id: str,
        *,
        state: HoldState | None = None,
        locker_id: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> tuple[list[Hold], str | None]:
        """One page of the carrier's holds, newest first, and the cursor of the next."""
        after = _decode_cursor(cursor) if cursor else None
        async with self._store.transaction() as tx:
            # One more than asked tells whether another page follows.
            items = await tx.holds.page(
                carrier_id, state=state, locker_id=locker_id, after=after, limit=limit + 1
            )
        if len(items) <= limit:
            return items, None
        last = items[limit - 1]
        return items[:limit], _encode_cursor(last.created_at, last.hold_id)

    async def release(
        self, carrier_id: str, hold_id: str, idem: Idempotent[Hold]
    ) -> Answered[Hold]:
        async def work(tx: UnitOfWork, now: datetime) -> Hold:
            hold = await _own(tx, carrier_id, hold_id, for_update=True)
            return await end_hold(tx, hold, hold.release(now), now)

        return await run_idempotent(
            self._store, self._clock, carrier_id, idem, work, subject="hold"
        )

    async def expire_due(self, limit: int = EXPIRY_BATCH) -> int:
        """End the holds whose time ran out (each with its `hold.expired`); how many."""
        now = self._clock()
        async with self._store.transaction() as tx:
            due = await tx.holds.due(now, limit)
        done = 0
        for candidate in due:
            try:
                async with self._store.transaction() as tx:
                    hold = await tx.holds.get(candidate.hold_id, for_update=True)
                    # Converted or released since the scan, or expired by another instance.
                    if hold is None or hold.state is not HoldState.ACTIVE:
                        continue
                    await end_hold(tx, hold, hold.expire(now), now)
                    done += 1
            except ConcurrentUpdate:
                continue  # another instance ended it first
        return done


# ---- inside a booking's transaction (gateway/service/parcels.py) ---------------------------------


async def hold_for_booking(
    tx: UnitOfWork, carrier_id: str, locker_id: str, hold_id: str, parcel_uid: str, now: datetime
) -> Hold:
    """The hold a new parcel names in `holdId`, checked: the carrier's own, active, at the
    parcel's locker, not attached to another parcel."""
    hold = await tx.holds.get(hold_id, for_update=True)
    if hold is None or hold.carrier_id != carrier_id:
        raise NotFound(f"no hold {hold_id!r}", details={"pointer": "/holdId"})
    if hold.locker_id != locker_id:
        raise ValidationFailed(
            f"hold {hold_id} is for locker {hold.locker_id}, not {locker_id}",
            issues=(FieldIssue("/holdId", f"holds capacity at {hold.locker_id}"),),
        )
    return hold.usable_by(parcel_uid, now)


async def attached_hold(tx: UnitOfWork, parcel_uid: str, now: datetime) -> Hold | None:
    """The still usable hold a parcel was announced with (reserve false), if any."""
    hold = await tx.holds.attached_to(parcel_uid)
    return hold if hold is not None and hold.holds_capacity(now) else None


async def allocate_compartment(
    tx: UnitOfWork,
    locker_id: str,
    need: SizeRequirement,
    parcel_uid: str,
    now: datetime,
    *,
    hold: Hold | None = None,
) -> Compartment:
    """Claim a compartment for a parcel, keeping the soft holds' capacity: with `hold`, one
    of its class; without, one of a class that holds leave room in."""
    if hold is not None:
        try:
            return await tx.lockers.allocate(
                locker_id, need, parcel_uid, only=tx.holds.of_class(hold.size_class)
            )
        except NoCompartmentAvailable:
            await _explain_held_miss(tx, hold, need)
            raise
    try:
        compartment = await tx.lockers.allocate(
            locker_id, need, parcel_uid, only=tx.holds.not_fully_held(locker_id, now)
        )
    except NoCompartmentAvailable as err:
        held = await tx.holds.held(locker_id, now)  # the refusal's path only: say why
        if not held:
            raise
        raise NoCompartmentAvailable(
            f"no free compartment at locker {locker_id} fits the parcel, or the free ones of "
            f"the fitting classes are held by soft holds ({_held_text(held)})",
            details={"lockerId": locker_id, "held": {str(k): v for k, v in held.items()}},
        ) from err
    if tx.holds.recheck_after_claim and await tx.holds.over_held(
        locker_id, compartment.size_class, now
    ):
        # PostgreSQL: a hold committed between our statement's snapshot and our claim may
        # have counted the row we claimed; give the claim up and start over (retried).
        raise ConcurrentUpdate(
            f"a soft hold took the last free {compartment.size_class} compartment of "
            f"{locker_id} meanwhile; retry"
        )
    return compartment


async def convert_hold(
    tx: UnitOfWork, hold: Hold, parcel_uid: str, parcel_id: str, now: datetime
) -> None:
    """The parcel took its compartment: the hold became a hard reservation."""
    await end_hold(tx, hold, hold.convert(parcel_uid, parcel_id, now), now)


async def attach_hold(
    tx: UnitOfWork, hold: Hold, parcel_uid: str, parcel_id: str, now: datetime
) -> None:
    """The parcel waits for its compartment (reserve false): the hold goes on counting."""
    await tx.holds.save(hold, hold.attach(parcel_uid, parcel_id, now))


async def release_attached(tx: UnitOfWork, parcel_uid: str, now: datetime) -> None:
    """A parcel cancelled before it took a compartment gives its hold back."""
    hold = await tx.holds.attached_to(parcel_uid)
    if hold is not None and hold.holds_capacity(now):
        await end_hold(tx, hold, hold.release(now), now)


async def end_hold(tx: UnitOfWork, before: Hold, after: Hold, at: datetime) -> Hold:
    """Write the hold's end and queue its event for the carrier's subscriptions naming it."""
    await tx.holds.save(before, after)
    await record_hold_event(tx, after, at)
    return after


_EVENT_OF = {
    HoldState.CONVERTED: WebhookEventType.HOLD_CONVERTED,
    HoldState.RELEASED: WebhookEventType.HOLD_RELEASED,
    HoldState.EXPIRED: WebhookEventType.HOLD_EXPIRED,
}


def hold_subject(hold_id: str) -> str:
    """The outbox's ordering key of a hold's event (never a parcel uid)."""
    return f"hold:{hold_id}"


async def record_hold_event(tx: UnitOfWork, hold: Hold, at: datetime) -> int:
    """Queue the hold's end (one event per hold) for every subscription of its carrier that
    names the type; how many rows."""
    kind = _EVENT_OF[hold.state]
    # A hold ends once, so its one event is number 1 of its subject.
    event_id = notification_event_id(hold_subject(hold.hold_id), 1)
    body = dump(
        WebhookHoldEventOut(
            event_id=event_id,
            type=kind,
            occurred_at=at,
            carrier_id=hold.carrier_id,
            hold=hold_to_wire(hold),
        )
    )
    return await queue_named(
        tx,
        hold.carrier_id,
        kind,
        event_id=event_id,
        subject=hold_subject(hold.hold_id),
        seq=1,
        body=body,
        at=at,
    )


async def _explain_held_miss(tx: UnitOfWork, hold: Hold, need: SizeRequirement) -> None:
    """A parcel that no compartment of the held class takes gets a 422 naming the hold."""
    compartments = await tx.lockers.compartments(hold.locker_id)
    held_class = [c for c in compartments if c.size_class is hold.size_class]
    if not any(need.accepts(c.size_class, c.inside, c.max_weight_g) for c in held_class):
        raise ValidationFailed(
            f"the parcel does not fit the size class {hold.size_class} that hold "
            f"{hold.hold_id} holds: book it without the hold, or hold a larger class",
            issues=(FieldIssue("/holdId", f"holds {hold.size_class}, too small"),),
        )


def _no_capacity(locker_id: str, *, fits: bool, held: Mapping[SizeClass, int]) -> Exception:
    if not fits:
        return NoCompartmentAvailable(
            f"no compartment at locker {locker_id} takes such a parcel (too large or too heavy)",
            details={"lockerId": locker_id, "verdict": "does_not_fit"},
        )
    return NoCompartmentAvailable(
        f"the locker {locker_id} is full for such a parcel: every compartment that takes it "
        f"is taken or held ({_held_text(held)})",
        details={
            "lockerId": locker_id,
            "verdict": "full",
            "held": {str(k): v for k, v in held.items()},
        },
    )


def _encode_cursor(created_at: datetime, hold_id: str) -> str:
    raw = f"h:{created_at.isoformat()}|{hold_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        tag, _, rest = base64.urlsafe_b64decode(padded).decode().partition(":")
        at, _, hold_id = rest.partition("|")
        when = datetime.fromisoformat(at)
        if tag != "h" or not hold_id or when.tzinfo is None:
            raise ValueError(cursor)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValidationFailed(
            "cursor is not one this API handed out",
            issues=(FieldIssue("/query/cursor", "invalid cursor"),),
        ) from None
    return when, hold_id


def _held_text(held: Mapping[SizeClass, int]) -> str:
    if not held:
        return "none held"
    return ", ".join(f"{n} {size} held" for size, n in sorted(held.items(), key=_rank))


def _rank(item: tuple[SizeClass, int]) -> int:
    return item[0].rank


async def _known_locker(tx: UnitOfWork, locker_id: str) -> None:
    if await tx.lockers.get(locker_id) is None:
        raise NotFound(f"no locker {locker_id!r}", details={"pointer": "/lockerId"})


async def _own(tx: UnitOfWork, carrier_id: str, hold_id: str, *, for_update: bool = False) -> Hold:
    """The carrier's own hold; another carrier's is reported as missing so ids do not leak."""
    hold = await tx.holds.get(hold_id, for_update=for_update)
    if hold is None or hold.carrier_id != carrier_id:
        raise NotFound(f"no hold {hold_id!r}")
    return hold
