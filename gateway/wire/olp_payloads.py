"""Payloads of the MQTT binding's calls, results and events (schemas/v1/olp-<action>.json)."""

from __future__ import annotations

from pydantic import Field, model_validator

from gateway.domain.enums import DoorState, ItemSensor, SizeClass
from gateway.wire.base import UtcDateTime, WireModel
from gateway.wire.common import InsideMm
from gateway.wire.olp_enums import (
    BootStatus,
    DisplayMessage,
    FaultKind,
    OpenOutcome,
    OpenPurpose,
)


class BootCompartment(WireModel):
    code: str
    size_class: SizeClass = Field(alias="sizeClass")
    inside_mm: InsideMm | None = Field(default=None, alias="insideMm")


class BootPayload(WireModel):
    """olp-boot.json: what the locker is and which compartments it has."""

    vendor: str
    model: str
    firmware: str
    serial_number: str | None = Field(default=None, alias="serialNumber")
    features: list[str]
    compartments: list[BootCompartment]


class BootResultPayload(WireModel):
    """olp-boot-result.json; the interval is the heartbeat period, or the Boot retry delay."""

    status: BootStatus
    heartbeat_interval_seconds: int = Field(alias="heartbeatIntervalSeconds")
    current_time: UtcDateTime = Field(alias="currentTime")
    reason: str | None = None


class HeartbeatPayload(WireModel):
    """olp-heartbeat.json: empty."""


class HeartbeatResultPayload(WireModel):
    """olp-heartbeat-result.json."""

    current_time: UtcDateTime = Field(alias="currentTime")


class OpenCompartmentPayload(WireModel):
    """olp-open-compartment.json."""

    compartment_code: str = Field(alias="compartmentCode")
    purpose: OpenPurpose


class OpenCompartmentResultPayload(WireModel):
    """olp-open-compartment-result.json: the business outcome of the unlock."""

    compartment_code: str = Field(alias="compartmentCode")
    outcome: OpenOutcome


class SetAvailabilityPayload(WireModel):
    """olp-set-availability.json."""

    compartment_code: str = Field(alias="compartmentCode")
    available: bool
    reason: str | None = None


class SetAvailabilityResultPayload(WireModel):
    """olp-set-availability-result.json."""

    compartment_code: str = Field(alias="compartmentCode")
    available: bool


class DisplayPayload(WireModel):
    """olp-display.json."""

    message: DisplayMessage
    text: str | None = None

    @model_validator(mode="after")
    def _info_needs_text(self) -> DisplayPayload:
        # olp-display.json says this with if/then; repeated so built commands obey too.
        if self.message is DisplayMessage.INFO and self.text is None:
            raise ValueError("an Info message needs text")
        return self


class DisplayResultPayload(WireModel):
    """olp-display-result.json: empty."""


class StatusPayload(WireModel):
    """olp-status.json: retained presence, also the locker's last will."""

    online: bool
    session_id: str | None = Field(default=None, alias="sessionId")


class StateCompartment(WireModel):
    code: str
    size_class: SizeClass = Field(alias="sizeClass")
    door: DoorState
    item_sensor: ItemSensor = Field(alias="itemSensor")
    enabled: bool


class StatePayload(WireModel):
    """olp-state.json: the retained snapshot a locker reports of itself."""

    firmware: str
    key_set_version: int | None = Field(alias="keySetVersion")
    compartments: list[StateCompartment]


class DoorOpenedPayload(WireModel):
    """olp-door-opened.json."""

    compartment_code: str = Field(alias="compartmentCode")


class DoorClosedPayload(WireModel):
    """olp-door-closed.json."""

    compartment_code: str = Field(alias="compartmentCode")
    item_sensor: ItemSensor = Field(alias="itemSensor")


class CodeEnteredPayload(WireModel):
    """olp-code-entered.json."""

    code: str
    compartment_code: str | None = Field(default=None, alias="compartmentCode")


class FaultPayload(WireModel):
    """olp-fault.json; no compartment code for a fault of the whole locker."""

    compartment_code: str | None = Field(default=None, alias="compartmentCode")
    fault: FaultKind
    description: str | None = None
    cleared: bool = False
