"""Hold-time policy bodies: the admin API's policy per scope, and the policy a parcel carries."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import Field

from gateway.domain.hold_policy import AppliedHold, HoldPolicyRecord, HoldSource, PolicyScope
from gateway.domain.self_service import RecipientRequests
from gateway.wire.base import UtcDateTime, WireModel


class SetHoldPolicyIn(WireModel):
    hold_days: int | None = Field(default=None, alias="holdDays")
    reminder_hours: list[int] | None = Field(default=None, alias="reminderHours")
    extension_days: int | None = Field(default=None, alias="extensionDays")
    reason: str | None = None


class HoldPolicyOut(WireModel):
    scope: PolicyScope
    scope_id: str = Field(alias="scopeId")
    hold_days: int | None = Field(alias="holdDays")
    reminder_hours: list[int] | None = Field(alias="reminderHours")
    extension_days: int | None = Field(alias="extensionDays")
    updated_at: UtcDateTime = Field(alias="updatedAt")
    updated_by: str = Field(alias="updatedBy")


class HoldPolicyListOut(WireModel):
    items: list[HoldPolicyOut]


class HoldSourcesOut(WireModel):
    pickup_window: HoldSource = Field(alias="pickupWindow")
    reminders: HoldSource
    extension: HoldSource


class AppliedHoldOut(WireModel):
    """The hold-time policy fixed on a parcel at its booking."""

    pickup_window_seconds: int = Field(alias="pickupWindowSeconds")
    reminders_seconds_before: list[int] = Field(alias="remindersSecondsBefore")
    extension_days: int = Field(alias="extensionDays")
    sources: HoldSourcesOut
    next_reminder_at: UtcDateTime | None = Field(alias="nextReminderAt")


class RecipientRequestsOut(WireModel):
    """What the recipient asked for through the self-service link."""

    extended_at: UtcDateTime | None = Field(alias="extendedAt")
    codes_issued: int = Field(alias="codesIssued")
    redirect_locker_id: str | None = Field(alias="redirectLockerId")
    redirect_requested_at: UtcDateTime | None = Field(alias="redirectRequestedAt")


def _seconds(delta: timedelta) -> int:
    return int(delta.total_seconds())


def applied_hold_to_wire(hold: AppliedHold, next_reminder_at: datetime | None) -> AppliedHoldOut:
    return AppliedHoldOut(
        pickup_window_seconds=_seconds(hold.pickup_window),
        reminders_seconds_before=[_seconds(r) for r in hold.reminders],
        extension_days=hold.extension // timedelta(days=1),
        sources=HoldSourcesOut(
            pickup_window=hold.window_from,
            reminders=hold.reminders_from,
            extension=hold.extension_from,
        ),
        next_reminder_at=next_reminder_at,
    )


def recipient_requests_to_wire(requests: RecipientRequests) -> RecipientRequestsOut:
    return RecipientRequestsOut(
        extended_at=requests.extended_at,
        codes_issued=requests.codes_issued,
        redirect_locker_id=requests.redirect_locker_id,
        redirect_requested_at=requests.redirect_requested_at,
    )


def hold_policy_to_wire(record: HoldPolicyRecord) -> HoldPolicyOut:
    hours = record.policy.reminder_hours
    return HoldPolicyOut(
        scope=record.scope,
        scope_id=record.scope_id,
        hold_days=record.policy.hold_days,
        reminder_hours=None if hours is None else list(hours),
        extension_days=record.policy.extension_days,
        updated_at=record.updated_at,
        updated_by=record.updated_by,
    )
