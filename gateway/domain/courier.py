"""Courier rounds: the collection manifest (what to take back from a locker) and the courier
session (one code opens, one door per entry, every door of the carrier's round there)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from gateway.domain.enums import Direction, ParcelState
from gateway.domain.parcel import Parcel

S = ParcelState

# How long a session's code works unless the carrier asks for less or more (within bounds).
SESSION_TTL_DEFAULT = timedelta(hours=4)
SESSION_TTL_MIN = timedelta(minutes=5)
SESSION_TTL_MAX = timedelta(hours=12)
# A session code is longer than any parcel code (8 digits): it can never be mistaken for one.
SESSION_CODE_DIGITS = 10


class CollectReason(StrEnum):
    """Why a parcel is on the collection manifest."""

    EXPIRED = "expired"  # the pickup window ran out: take it back
    OVERDUE = "overdue"  # the window ran out, its expiry is not recorded yet
    REDIRECTED = "redirected"  # the recipient sent it to another locker
    PICKUP_FAILED = "pickup_failed"  # an operator's verdict: it cannot be picked up
    DROPPED_OFF = "dropped_off"  # first mile: a sender dropped it off for the carrier


class CourierTask(StrEnum):
    DEPOSIT = "deposit"
    COLLECT = "collect"


class SessionState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    EXPIRED = "expired"  # never closed, its code stopped working at expiresAt


class ItemStatus(StrEnum):
    """One parcel of a round: not opened yet, opened, done (deposited or collected), failed."""

    PENDING = "pending"
    OPENED = "opened"
    DONE = "done"
    FAILED = "failed"


# States whose parcel is inside and waits for the carrier to take it back.
_COLLECT_REASONS = {
    S.EXPIRED: CollectReason.EXPIRED,
    S.REDIRECTED: CollectReason.REDIRECTED,
    S.PICKUP_FAILED: CollectReason.PICKUP_FAILED,
    S.DROPPED_OFF: CollectReason.DROPPED_OFF,
}
COLLECT_STATES = tuple(_COLLECT_REASONS)
# States of a parcel that may be overdue: ready for pickup with its window run out.
OVERDUE_STATES = (S.READY_FOR_PICKUP,)
# A collected parcel is done; one picked up meanwhile left the round another way.
_COLLECTED = frozenset({S.COLLECTED, S.RETURNED})
_DEPOSITED = frozenset({S.READY_FOR_PICKUP, S.PICKED_UP, S.EXPIRED, S.PICKUP_FAILED})


def collect_reason(parcel: Parcel, now: datetime) -> CollectReason | None:
    """Why the carrier should take `parcel` back from its locker now; None if it should not."""
    if parcel.compartment_code is None:
        return None  # nothing inside to collect
    reason = _COLLECT_REASONS.get(parcel.state)
    if reason is not None:
        return reason
    if (
        parcel.state is S.READY_FOR_PICKUP
        and parcel.pickup_until is not None
        and parcel.pickup_until <= now
    ):
        return CollectReason.OVERDUE
    return None


def task_for(parcel: Parcel) -> CourierTask | None:
    """The door a courier's round opens for `parcel`: a deposit into its reserved compartment,
    a collection of a parcel that waits to be taken back; None for anything else (an overdue
    parcel is collected once its expiry is recorded, as the recipient may still come)."""
    if parcel.compartment_code is None:
        return None
    if parcel.state is S.RESERVED and parcel.direction is Direction.LAST_MILE:
        return CourierTask.DEPOSIT
    if parcel.state in _COLLECT_REASONS:
        return CourierTask.COLLECT
    return None


def item_status(task: CourierTask, state: ParcelState) -> ItemStatus:
    """How far a parcel whose door the round opened has come, from its state now."""
    if task is CourierTask.DEPOSIT:
        if state is S.RESERVED:
            return ItemStatus.OPENED  # the door is open, or closed before the event came
        return ItemStatus.DONE if state in _DEPOSITED else ItemStatus.FAILED
    if state in _COLLECTED:
        return ItemStatus.DONE
    return ItemStatus.OPENED if state in _COLLECT_REASONS else ItemStatus.FAILED


def session_ttl(requested: timedelta | None) -> timedelta:
    """The session's lifetime: the default, or the carrier's within the bounds."""
    ttl = SESSION_TTL_DEFAULT if requested is None else requested
    if not SESSION_TTL_MIN <= ttl <= SESSION_TTL_MAX:
        raise ValueError(
            f"a courier session lasts {int(SESSION_TTL_MIN.total_seconds())} to "
            f"{int(SESSION_TTL_MAX.total_seconds())} seconds"
        )
    return ttl


@dataclass(frozen=True, slots=True)
class ManifestLine:
    """One parcel to take back: where it is and why."""

    parcel: Parcel
    reason: CollectReason


def manifest_lines(parcels: Iterable[Parcel], now: datetime) -> list[ManifestLine]:
    """The parcels to collect among `parcels`, by locker then compartment (a courier's walk)."""
    lines = []
    for parcel in parcels:
        reason = collect_reason(parcel, now)
        if reason is not None:
            lines.append(ManifestLine(parcel, reason))
    lines.sort(key=lambda line: (line.parcel.locker_id, line.parcel.compartment_code or ""))
    return lines


@dataclass(frozen=True, slots=True)
class CourierSession:
    id: str
    carrier_id: str
    locker_id: str
    opened_at: datetime
    expires_at: datetime
    courier_ref: str | None = None
    closed_at: datetime | None = None

    def state(self, now: datetime) -> SessionState:
        if self.closed_at is not None:
            return SessionState.CLOSED
        return SessionState.OPEN if now < self.expires_at else SessionState.EXPIRED


@dataclass(frozen=True, slots=True)
class SessionDoor:
    """A door the round opened (or is opening) for one parcel."""

    session_id: str
    parcel_uid: str
    task: CourierTask
    compartment_code: str
    opened_at: datetime


@dataclass(frozen=True, slots=True)
class RoundItem:
    """One parcel of a round as the carrier reads it."""

    parcel: Parcel
    task: CourierTask
    status: ItemStatus
    compartment_code: str
    opened_at: datetime | None = None


def round_items(
    work: Iterable[Parcel], opened: Iterable[tuple[SessionDoor, Parcel | None]]
) -> list[RoundItem]:
    """The round: every door it opened (with how far its parcel came), then what is left to
    open in the order the code will open it."""
    items: list[RoundItem] = []
    seen: set[str] = set()
    for door, parcel in opened:
        seen.add(door.parcel_uid)
        if parcel is None:
            continue  # purged since
        status = item_status(door.task, parcel.state)
        items.append(RoundItem(parcel, door.task, status, door.compartment_code, door.opened_at))
    for parcel in next_in_order(work, seen):
        task = task_for(parcel)
        if task is not None and parcel.compartment_code is not None:
            items.append(RoundItem(parcel, task, ItemStatus.PENDING, parcel.compartment_code))
    return items


def next_in_order(work: Iterable[Parcel], skip: set[str]) -> list[Parcel]:
    """What the code opens next, in order: deposits first (the courier arrives with them),
    then collections, each by compartment; each parcel once per session (`skip`)."""
    todo = [p for p in work if p.uid not in skip and task_for(p) is not None]
    todo.sort(key=lambda p: (task_for(p) is not CourierTask.DEPOSIT, p.compartment_code or ""))
    return todo
