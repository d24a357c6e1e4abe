"""Payloads of the MQTT binding's calls, results and events (schemas/v1/olp-<action>.json)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from gateway.domain.enums import DoorState, ItemSensor, SizeClass
from gateway.wire.base import UtcDateTime, WireModel
from gateway.wire.common import InsideMm
from gateway.wire.olp_enums import (
    BootStatus,
    DisplayMessage,
    FaultKind,
    GrantAction,
    KeySetStatus,
    OpenOutcome,
    OpenPurpose,
)
from gateway.wire.requirements import PickupCheckWire


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
    last_event_seq: int | None = Field(default=None, alias="lastEventSeq")
    key_set_version: int | None = Field(default=None, alias="keySetVersion")
    features: list[str]
    compartments: list[BootCompartment]


class BootResultPayload(WireModel):
    """olp-boot-result.json; the interval is the heartbeat period, or the Boot retry delay."""

    status: BootStatus
    heartbeat_interval_seconds: int = Field(alias="heartbeatIntervalSeconds")
    current_time: UtcDateTime = Field(alias="currentTime")
    reason: str | None = None


class HeartbeatPayload(WireModel):
    """olp-heartbeat.json: the newest journaled event sent, from lockers with a journal."""

    last_event_seq: int | None = Field(default=None, alias="lastEventSeq")


class HeartbeatResultPayload(WireModel):
    """olp-heartbeat-result.json."""

    current_time: UtcDateTime = Field(alias="currentTime")


class OpenCompartmentPayload(WireModel):
    """olp-open-compartment.json."""

    compartment_code: str = Field(alias="compartmentCode")
    purpose: OpenPurpose
    # Delivery requirements: the age/identity check the locker shows with a pickup.
    pickup_check: PickupCheckWire | None = Field(default=None, alias="pickupCheck")


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


class PublicJwk(WireModel):
    """olp-set-key-set.json#/$defs/PublicJwk: an Ed25519 public key; no private member."""

    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: str
    kid: str
    alg: Literal["EdDSA"] | None = None
    use: Literal["sig"] | None = None


class RootKeyLink(WireModel):
    """olp-set-key-set.json#/$defs/RootKeyLink: a root key endorsed by the root before it."""

    jwk: PublicJwk
    endorsement: str


class SetKeySetPayload(WireModel):
    """olp-set-key-set.json: the network's grant-verification keys, version `version`, signed
    by the network's root key for one locker (SPEC §9 "Signed key sets")."""

    version: int
    issuer: str
    keys: list[PublicJwk]
    signature: str
    root_keys: list[RootKeyLink] | None = Field(default=None, alias="rootKeys")


class SetKeySetResultPayload(WireModel):
    """olp-set-key-set-result.json: the key-set version the locker holds now."""

    status: KeySetStatus
    version: int | None
    reason: str | None = None


class ReplayEventsPayload(WireModel):
    """olp-replay-events.json: publish again the journaled events after `afterSeq`."""

    after_seq: int = Field(alias="afterSeq")


class ReplayEventsResultPayload(WireModel):
    """olp-replay-events-result.json; `oldestSeq` above `afterSeq` + 1 means events were lost."""

    replayed: int
    oldest_seq: int = Field(alias="oldestSeq")
    last_seq: int = Field(alias="lastSeq")


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
    temperature_c: float | None = Field(default=None, alias="temperatureC")


class StatePayload(WireModel):
    """olp-state.json: the retained snapshot a locker reports of itself."""

    firmware: str
    key_set_version: int | None = Field(alias="keySetVersion")
    compartments: list[StateCompartment]


class GrantUse(WireModel):
    """olp-door-opened.json#/$defs/GrantUse: the grant a locker verified to open a door."""

    jti: str
    act: GrantAction
    sub: str


class DoorOpenedPayload(WireModel):
    """olp-door-opened.json."""

    compartment_code: str = Field(alias="compartmentCode")
    grant: GrantUse | None = None


class DoorClosedPayload(WireModel):
    """olp-door-closed.json."""

    compartment_code: str = Field(alias="compartmentCode")
    item_sensor: ItemSensor = Field(alias="itemSensor")


class CodeEnteredPayload(WireModel):
    """olp-code-entered.json."""

    code: str
    compartment_code: str | None = Field(default=None, alias="compartmentCode")
    label: str | None = None  # scanned with a return's drop-off code


class FaultPayload(WireModel):
    """olp-fault.json; no compartment code for a fault of the whole locker."""

    compartment_code: str | None = Field(default=None, alias="compartmentCode")
    fault: FaultKind
    description: str | None = None
    cleared: bool = False
    temperature_c: float | None = Field(default=None, alias="temperatureC")
