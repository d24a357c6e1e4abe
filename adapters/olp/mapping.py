"""Typed OLP messages to SDK events and boot information (pure translation, no I/O)."""

from __future__ import annotations

from gateway.sdk import (
    BootInfo,
    CodeEntered,
    CompartmentInfo,
    DoorClosed,
    DoorOpened,
    GrantUse,
    LockerEvent,
    LockerFault,
    OpenPurpose,
    PresenceChanged,
)
from gateway.sdk.olp_messages import (
    BootPayload,
    CodeEnteredEvent,
    DoorClosedEvent,
    DoorOpenedEvent,
    FaultEvent,
    OlpMessage,
    StatePayload,
    StatusEvent,
)


def event_from(locker_id: str, message: OlpMessage) -> LockerEvent | None:
    """The SDK event for an `evt/*` or `status` message; None for actions we do not model."""
    at, event_id, seq, event_seq = message.ts, message.id, message.seq, message.event_seq
    if isinstance(message, StatusEvent):
        return PresenceChanged(
            locker_id=locker_id,
            at=at,
            event_id=event_id,
            seq=seq,
            event_seq=event_seq,
            online=message.payload.online,
        )
    if isinstance(message, DoorOpenedEvent):
        grant = message.payload.grant
        used = (
            GrantUse(jti=grant.jti, purpose=OpenPurpose(grant.act.value), parcel_uid=grant.sub)
            if grant is not None
            else None
        )
        return DoorOpened(
            locker_id=locker_id,
            at=at,
            event_id=event_id,
            seq=seq,
            event_seq=event_seq,
            compartment_code=message.payload.compartment_code,
            grant=used,
        )
    if isinstance(message, DoorClosedEvent):
        return DoorClosed(
            locker_id=locker_id,
            at=at,
            event_id=event_id,
            seq=seq,
            event_seq=event_seq,
            compartment_code=message.payload.compartment_code,
            item=message.payload.item_sensor,
        )
    if isinstance(message, CodeEnteredEvent):
        return CodeEntered(
            locker_id=locker_id,
            at=at,
            event_id=event_id,
            seq=seq,
            event_seq=event_seq,
            code=message.payload.code,
            compartment_code=message.payload.compartment_code,
            label=message.payload.label,
        )
    if isinstance(message, FaultEvent):
        return LockerFault(
            locker_id=locker_id,
            at=at,
            event_id=event_id,
            seq=seq,
            event_seq=event_seq,
            fault=message.payload.fault,
            compartment_code=message.payload.compartment_code,
            description=message.payload.description,
            cleared=message.payload.cleared,
            temperature_c=message.payload.temperature_c,
        )
    return None


def boot_info(payload: BootPayload) -> BootInfo:
    return BootInfo(
        vendor=payload.vendor,
        model=payload.model,
        firmware=payload.firmware,
        serial_number=payload.serial_number,
        key_set_version=payload.key_set_version,
        features=frozenset(payload.features),
        compartments=tuple(
            CompartmentInfo(code=c.code, size_class=c.size_class) for c in payload.compartments
        ),
    )


def compartments_from_state(payload: StatePayload) -> tuple[CompartmentInfo, ...]:
    return tuple(
        CompartmentInfo(
            code=c.code,
            size_class=c.size_class,
            door=c.door,
            item=c.item_sensor,
            enabled=c.enabled,
        )
        for c in payload.compartments
    )
