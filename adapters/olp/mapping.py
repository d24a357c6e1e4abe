"""OLP messages to SDK events and boot information (pure translation, no I/O)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.sdk import (
    BootInfo,
    CodeEntered,
    CompartmentInfo,
    DoorClosed,
    DoorOpened,
    FaultKind,
    GrantUse,
    LockerEvent,
    LockerFault,
    OpenPurpose,
    PresenceChanged,
)
from gateway.sdk.domain import DoorState, ItemSensor, SizeClass


def timestamp(message: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(message["ts"]).replace("Z", "+00:00"))


def event_from(locker_id: str, message: dict[str, Any]) -> LockerEvent | None:
    """The SDK event for an `evt/*` or `status` message; None for actions we do not model."""
    payload: dict[str, Any] = message.get("payload", {})
    common: dict[str, Any] = {
        "locker_id": locker_id,
        "at": timestamp(message),
        "event_id": message["id"],
        "seq": message.get("seq"),
        "event_seq": message.get("eventSeq"),
    }
    action = message["action"]
    if action == "Status":
        return PresenceChanged(online=bool(payload["online"]), **common)
    if action == "DoorOpened":
        grant = payload.get("grant")
        used = (
            GrantUse(jti=grant["jti"], purpose=OpenPurpose(grant["act"]), parcel_uid=grant["sub"])
            if grant is not None
            else None
        )
        return DoorOpened(compartment_code=payload["compartmentCode"], grant=used, **common)
    if action == "DoorClosed":
        return DoorClosed(
            compartment_code=payload["compartmentCode"],
            item=ItemSensor(payload["itemSensor"]),
            **common,
        )
    if action == "CodeEntered":
        return CodeEntered(
            code=payload["code"], compartment_code=payload.get("compartmentCode"), **common
        )
    if action == "Fault":
        return LockerFault(
            fault=FaultKind(payload["fault"]),
            compartment_code=payload.get("compartmentCode"),
            description=payload.get("description"),
            cleared=bool(payload.get("cleared", False)),
            **common,
        )
    return None


def boot_info(payload: dict[str, Any]) -> BootInfo:
    return BootInfo(
        vendor=payload["vendor"],
        model=payload["model"],
        firmware=payload["firmware"],
        serial_number=payload.get("serialNumber"),
        key_set_version=payload.get("keySetVersion"),
        features=frozenset(payload.get("features", [])),
        compartments=tuple(
            CompartmentInfo(code=c["code"], size_class=SizeClass(c["sizeClass"]))
            for c in payload.get("compartments", [])
        ),
    )


def compartments_from_state(payload: dict[str, Any]) -> tuple[CompartmentInfo, ...]:
    return tuple(
        CompartmentInfo(
            code=c["code"],
            size_class=SizeClass(c["sizeClass"]),
            door=DoorState(c["door"]),
            item=ItemSensor(c["itemSensor"]),
            enabled=bool(c.get("enabled", True)),
        )
        for c in payload.get("compartments", [])
    )
