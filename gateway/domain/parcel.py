"""The parcel state machine: a transition returns the new parcel, its event and the door effect."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from gateway.domain.compartment import CompartmentEffect
from gateway.domain.enums import Direction, ParcelAction, ParcelState
from gateway.domain.errors import IllegalParcelTransition
from gateway.domain.hold_policy import AppliedHold
from gateway.domain.recipients import Recipient
from gateway.domain.self_service import RecipientRequests
from gateway.domain.sizes import SizeRequirement

S = ParcelState
A = ParcelAction
E = CompartmentEffect

# The whole lifecycle of DESIGN.md as (state, action) -> (next state, compartment effect).
# FAIL_DEPOSIT and FAIL_PICKUP act on the compartment depending on the cause (a door fault
# or not): `transition` decides their effect; the table shows the usual case.
TRANSITIONS: dict[
    tuple[ParcelState, ParcelAction], tuple[ParcelState, CompartmentEffect | None]
] = {
    (S.ANNOUNCED, A.RESERVE): (S.RESERVED, E.RESERVE),
    (S.ANNOUNCED, A.CANCEL): (S.CANCELLED, None),
    (S.RESERVED, A.CANCEL): (S.CANCELLED, E.RELEASE),
    (S.RESERVED, A.EXPIRE_RESERVATION): (S.RESERVATION_EXPIRED, E.RELEASE),
    (S.RESERVED, A.DEPOSIT): (S.READY_FOR_PICKUP, E.OCCUPY),
    (S.RESERVED, A.FAIL_DEPOSIT): (S.DEPOSIT_FAILED, E.RELEASE),
    (S.DEPOSIT_FAILED, A.RESERVE): (S.RESERVED, E.RESERVE),
    (S.DEPOSIT_FAILED, A.CANCEL): (S.CANCELLED, None),
    (S.READY_FOR_PICKUP, A.PICK_UP): (S.PICKED_UP, E.RELEASE),
    (S.READY_FOR_PICKUP, A.FAIL_PICKUP): (S.PICKUP_FAILED, E.DISABLE),
    (S.READY_FOR_PICKUP, A.EXTEND): (S.READY_FOR_PICKUP, None),
    (S.READY_FOR_PICKUP, A.EXPIRE): (S.EXPIRED, None),
    (S.READY_FOR_PICKUP, A.REDIRECT): (S.REDIRECTED, None),
    (S.PICKUP_FAILED, A.PICK_UP): (S.PICKED_UP, E.RELEASE),
    (S.PICKUP_FAILED, A.COLLECT): (S.COLLECTED, E.RELEASE),
    (S.EXPIRED, A.EXTEND): (S.READY_FOR_PICKUP, None),
    (S.EXPIRED, A.COLLECT): (S.COLLECTED, E.RELEASE),
    (S.REDIRECTED, A.COLLECT): (S.COLLECTED, E.RELEASE),
    (S.COLLECTED, A.RETURN): (S.RETURNED, None),
    (S.DROPOFF_ANNOUNCED, A.DROP_OFF): (S.DROPPED_OFF, E.OCCUPY),
    (S.DROPOFF_ANNOUNCED, A.CANCEL): (S.CANCELLED, E.RELEASE),
    (S.DROPOFF_ANNOUNCED, A.EXPIRE_RESERVATION): (S.RESERVATION_EXPIRED, E.RELEASE),
    (S.DROPOFF_ANNOUNCED, A.FAIL_DEPOSIT): (S.DEPOSIT_FAILED, E.RELEASE),
    (S.DROPPED_OFF, A.COLLECT): (S.COLLECTED, E.RELEASE),
}

# A first-mile parcel whose drop-off failed is booked again for a drop-off: through the
# last-mile RESERVED it would end up ready_for_pickup for a recipient who does not exist.
FIRST_MILE_TRANSITIONS: dict[
    tuple[ParcelState, ParcelAction], tuple[ParcelState, CompartmentEffect | None]
] = {
    (S.DEPOSIT_FAILED, A.RESERVE): (S.DROPOFF_ANNOUNCED, E.RESERVE),
}

TERMINAL_STATES = frozenset({S.CANCELLED, S.RESERVATION_EXPIRED, S.PICKED_UP, S.RETURNED})
# States in which the parcel holds a compartment (reserved, or physically inside).
HOLDS_COMPARTMENT = frozenset(
    {
        S.RESERVED,
        S.READY_FOR_PICKUP,
        S.PICKUP_FAILED,
        S.EXPIRED,
        S.REDIRECTED,
        S.DROPOFF_ANNOUNCED,
        S.DROPPED_OFF,
    }
)


def allowed_actions(state: ParcelState) -> frozenset[ParcelAction]:
    return frozenset(action for (s, action) in TRANSITIONS if s is state)


@dataclass(frozen=True, slots=True)
class ParcelEvent:
    """One entry of a parcel's history; `seq` counts from 1 per parcel."""

    seq: int
    type: str
    from_state: ParcelState | None
    to_state: ParcelState
    at: datetime
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Parcel:
    uid: str
    carrier_id: str
    parcel_id: str
    direction: Direction
    state: ParcelState
    locker_id: str
    need: SizeRequirement
    created_at: datetime
    updated_at: datetime
    compartment_code: str | None = None
    reference: str | None = None
    reserved_until: datetime | None = None
    pickup_until: datetime | None = None
    pickup_window: timedelta = timedelta(hours=72)
    reservation_ttl: timedelta = timedelta(hours=24)
    redirected_from: str | None = None
    redirected_to: str | None = None
    version: int = 0
    last_seq: int = 0
    # Personal data for notifiers, when the carrier sent it; never in parcel responses.
    recipient: Recipient | None = None
    # Hold-time policy (migration 0016): fixed at booking; the next reminder it calls for;
    # what the recipient asked for through the self-service link.
    hold: AppliedHold | None = None
    next_reminder_at: datetime | None = None
    recipient_requests: RecipientRequests = field(default_factory=RecipientRequests)


@dataclass(frozen=True, slots=True)
class Transition:
    """The outcome of one action: the new parcel, the event to append, the compartment effect."""

    parcel: Parcel
    event: ParcelEvent
    effect: CompartmentEffect | None


def announce(parcel: Parcel, now: datetime) -> Transition:
    """The first event of a new parcel (its `state` is announced or dropoff_announced)."""
    if parcel.state not in (S.ANNOUNCED, S.DROPOFF_ANNOUNCED) or parcel.last_seq:
        raise IllegalParcelTransition(f"a new parcel starts announced, not {parcel.state}")
    expected = S.DROPOFF_ANNOUNCED if parcel.direction is Direction.FIRST_MILE else S.ANNOUNCED
    if parcel.state is not expected:
        raise IllegalParcelTransition(f"a {parcel.direction} parcel starts {expected}")
    effect = E.RESERVE if parcel.state is S.DROPOFF_ANNOUNCED else None
    reserved_until = now + parcel.reservation_ttl if effect else None
    new = replace(parcel, last_seq=1, reserved_until=reserved_until, updated_at=now)
    event = ParcelEvent(1, f"parcel.{parcel.state}", None, parcel.state, now)
    return Transition(new, event, effect)


def transition(
    parcel: Parcel,
    action: ParcelAction,
    now: datetime,
    *,
    fault: bool = False,
    pickup_until: datetime | None = None,
    redirect_to: str | None = None,
    details: dict[str, Any] | None = None,
) -> Transition:
    """Apply `action` to `parcel` at `now`.

    `fault` marks a failed deposit or pickup caused by the door (jammed, not an empty close):
    the compartment is then taken out of service instead of released. `pickup_until` is the
    new end of the pickup window for EXTEND; `redirect_to` the new parcel id for REDIRECT.
    """
    try:
        target, effect = TRANSITIONS[(parcel.state, action)]
    except KeyError:
        allowed = ", ".join(sorted(allowed_actions(parcel.state))) or "none"
        raise IllegalParcelTransition(
            f"cannot {action} a parcel that is {parcel.state} (allowed: {allowed})",
            details={"state": str(parcel.state), "action": str(action)},
        ) from None
    if parcel.direction is Direction.FIRST_MILE:
        target, effect = FIRST_MILE_TRANSITIONS.get((parcel.state, action), (target, effect))
    _check_guards(parcel, action, now, pickup_until)
    if action is A.FAIL_DEPOSIT:
        effect = E.DISABLE_EMPTY if fault else E.RELEASE
    elif action is A.FAIL_PICKUP:
        # A jammed door keeps the parcel locked in; an operator's verdict leaves the box as is.
        effect = E.DISABLE if fault else None
    changes: dict[str, Any] = {"state": target, "updated_at": now, "last_seq": parcel.last_seq + 1}
    changes.update(_timers(parcel, action, now, pickup_until))
    if action is A.REDIRECT:
        if not redirect_to:
            raise IllegalParcelTransition("a redirect names the new parcel id")
        changes["redirected_to"] = redirect_to
    if effect in (E.RELEASE, E.DISABLE_EMPTY):
        changes["compartment_code"] = None
    new = replace(parcel, **changes)
    event_details = dict(details or {})
    if fault:
        event_details["fault"] = True
    event = ParcelEvent(new.last_seq, f"parcel.{target}", parcel.state, target, now, event_details)
    return Transition(new, event, effect)


def _check_guards(
    parcel: Parcel, action: ParcelAction, now: datetime, pickup_until: datetime | None
) -> None:
    if action is A.EXPIRE_RESERVATION and (
        parcel.reserved_until is None or now < parcel.reserved_until
    ):
        raise IllegalParcelTransition("the reservation has not expired yet")
    if action is A.EXPIRE and (parcel.pickup_until is None or now < parcel.pickup_until):
        raise IllegalParcelTransition("the pickup window has not ended yet")
    if action is A.EXTEND:
        if pickup_until is None or pickup_until <= now:
            raise IllegalParcelTransition("the new pickup deadline must lie in the future")
        if parcel.pickup_until is not None and pickup_until <= parcel.pickup_until:
            raise IllegalParcelTransition("an extension must move the pickup deadline later")


def _timers(
    parcel: Parcel, action: ParcelAction, now: datetime, pickup_until: datetime | None
) -> dict[str, Any]:
    if action is A.RESERVE:
        return {"reserved_until": now + parcel.reservation_ttl}
    if action in (A.DEPOSIT, A.DROP_OFF):
        until = now + parcel.pickup_window if action is A.DEPOSIT else None
        return {
            "reserved_until": None,
            "pickup_until": until,
            "next_reminder_at": _next_reminder(parcel, until, now),
        }
    if action is A.EXTEND:
        return {
            "pickup_until": pickup_until,
            "next_reminder_at": _next_reminder(parcel, pickup_until, now),
        }
    return {}


def _next_reminder(parcel: Parcel, pickup_until: datetime | None, now: datetime) -> datetime | None:
    """The first reminder the parcel's hold policy calls for before this deadline."""
    if parcel.hold is None or pickup_until is None:
        return None
    return parcel.hold.next_reminder(pickup_until, now)
