"""Hold-time policies: how long a parcel waits, when its recipient is reminded, and how far the
recipient may extend the wait, once.

A policy is set per network, per carrier and per locker; each field is taken from the most
specific scope that sets it (locker, then carrier, then network, then the `[parcels]`
settings). The outcome is fixed on the parcel at booking (`AppliedHold`), so a policy changed
later never moves a parcel already in the network, and the parcel's record says where each
value came from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from gateway.domain.errors import IllegalParcelTransition

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
MAX_HOLD_DAYS = 30
MAX_REMINDERS = 5
MAX_REMINDER_HOURS = 30 * 24
MAX_EXTENSION_DAYS = 14


class PolicyScope(StrEnum):
    NETWORK = "network"
    CARRIER = "carrier"
    LOCKER = "locker"


class HoldSource(StrEnum):
    """Where an applied value came from (the parcel's record shows it)."""

    SETTINGS = "settings"  # the `[parcels]` defaults: no policy row set it
    NETWORK = "network"
    CARRIER = "carrier"
    LOCKER = "locker"
    REQUEST = "request"  # the booking's own pickupWindowSeconds


@dataclass(frozen=True, slots=True)
class HoldPolicy:
    """One scope's policy; a None field leaves the value to the less specific scopes."""

    hold_days: int | None = None
    reminder_hours: tuple[int, ...] | None = None  # hours before the pickup deadline
    extension_days: int | None = None  # most a recipient may add, once; 0: no extension

    def __post_init__(self) -> None:
        if self.hold_days is not None and not 1 <= self.hold_days <= MAX_HOLD_DAYS:
            raise ValueError(f"holdDays must be 1..{MAX_HOLD_DAYS}")
        if self.reminder_hours is not None:
            hours = self.reminder_hours
            if len(hours) > MAX_REMINDERS or len(set(hours)) != len(hours):
                raise ValueError(f"reminderHours: at most {MAX_REMINDERS}, each once")
            if any(not 1 <= h <= MAX_REMINDER_HOURS for h in hours):
                raise ValueError(f"reminderHours must be 1..{MAX_REMINDER_HOURS}")
        if self.extension_days is not None and not 0 <= self.extension_days <= MAX_EXTENSION_DAYS:
            raise ValueError(f"extensionDays must be 0..{MAX_EXTENSION_DAYS}")

    @property
    def empty(self) -> bool:
        return (
            self.hold_days is None and self.reminder_hours is None and (self.extension_days is None)
        )


@dataclass(frozen=True, slots=True)
class HoldPolicyRecord:
    """A scope's policy as stored: who set it last, and when."""

    scope: PolicyScope
    scope_id: str
    policy: HoldPolicy
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True, slots=True)
class AppliedHold:
    """The policy a parcel was booked under: fixed at booking, shown in its record."""

    pickup_window: timedelta
    reminders: tuple[timedelta, ...]  # before the deadline, longest first
    extension: timedelta  # the most a recipient may add to the deadline, once; 0: none
    window_from: HoldSource = HoldSource.SETTINGS
    reminders_from: HoldSource = HoldSource.SETTINGS
    extension_from: HoldSource = HoldSource.SETTINGS

    def next_reminder(self, pickup_until: datetime, after: datetime) -> datetime | None:
        """The earliest reminder time for `pickup_until` strictly after `after`, if any.

        Called at the deposit (so a window no longer than a lead gets no reminder for it: the
        ready message named the deadline), at every extension and after each reminder.
        """
        times = [pickup_until - lead for lead in self.reminders]
        later = [t for t in times if after < t < pickup_until]
        return min(later) if later else None

    def to_json(self) -> dict[str, Any]:
        return {
            "pickupWindowS": int(self.pickup_window.total_seconds()),
            "remindersS": [int(r.total_seconds()) for r in self.reminders],
            "extensionS": int(self.extension.total_seconds()),
            "from": {
                "pickupWindow": self.window_from.value,
                "reminders": self.reminders_from.value,
                "extension": self.extension_from.value,
            },
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> AppliedHold:
        sources = value["from"]
        return cls(
            pickup_window=timedelta(seconds=value["pickupWindowS"]),
            reminders=tuple(timedelta(seconds=s) for s in value["remindersS"]),
            extension=timedelta(seconds=value["extensionS"]),
            window_from=HoldSource(sources["pickupWindow"]),
            reminders_from=HoldSource(sources["reminders"]),
            extension_from=HoldSource(sources["extension"]),
        )


def settings_hold(
    pickup_window: timedelta, reminder_lead: timedelta, extension: timedelta
) -> AppliedHold:
    """The `[parcels]` defaults as the bottom layer (a zero lead: no reminder)."""
    reminders = (reminder_lead,) if reminder_lead > timedelta(0) else ()
    return AppliedHold(pickup_window, reminders, extension)


def resolve(
    base: AppliedHold,
    layers: Sequence[tuple[PolicyScope, HoldPolicy | None]],
    *,
    requested_window: timedelta | None = None,
) -> AppliedHold:
    """Apply `layers` (least specific first) over `base`; a booking's own window wins last."""
    applied = base
    for scope, policy in layers:
        if policy is None:
            continue
        source = HoldSource(scope.value)
        if policy.hold_days is not None:
            applied = replace(applied, pickup_window=policy.hold_days * DAY, window_from=source)
        if policy.reminder_hours is not None:
            leads = tuple(sorted((h * HOUR for h in policy.reminder_hours), reverse=True))
            applied = replace(applied, reminders=leads, reminders_from=source)
        if policy.extension_days is not None:
            applied = replace(applied, extension=policy.extension_days * DAY, extension_from=source)
    if requested_window is not None:
        applied = replace(applied, pickup_window=requested_window, window_from=HoldSource.REQUEST)
    return applied


def recipient_deadline(
    hold: AppliedHold | None,
    pickup_until: datetime | None,
    *,
    extended_before: bool,
    days: int | None,
    now: datetime,
) -> datetime:
    """The new pickup deadline a recipient's one extension gives (`days` None: the most).

    IllegalParcelTransition with a machine-readable `reason` when the policy allows none, the
    recipient used it already, or the window has run out; ValueError for a `days` past the limit.
    """
    if hold is None or hold.extension <= timedelta(0):
        raise IllegalParcelTransition(
            "this parcel's hold policy allows no extension by the recipient",
            details={"reason": "extension_not_allowed"},
        )
    if extended_before:
        raise IllegalParcelTransition(
            "the recipient has extended this parcel's pickup window once already",
            details={"reason": "already_extended"},
        )
    if pickup_until is None or pickup_until <= now:
        raise IllegalParcelTransition(
            "the pickup window has ended", details={"reason": "window_ended"}
        )
    most = hold.extension // DAY
    chosen = most if days is None else days
    if not 1 <= chosen <= most:
        raise ValueError(f"days must be 1..{most} (this parcel's extension limit)")
    return pickup_until + chosen * DAY
