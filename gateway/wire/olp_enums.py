"""Wire values of the MQTT binding, as published in schemas/v1/olp-enums.json.

Door purposes, outcomes and faults are domain vocabulary (gateway.domain.door); the protocol's
own values (boot status, display messages) live here.
"""

from __future__ import annotations

from enum import StrEnum

from gateway.domain.door import FaultKind, OpenOutcome, OpenPurpose
from gateway.sdk.adapter import BootStatus  # its home is the adapter SDK; the wire names it too

__all__ = [
    "BootStatus",
    "DisplayMessage",
    "FaultKind",
    "GrantAction",
    "KeySetStatus",
    "OpenOutcome",
    "OpenPurpose",
]


class DisplayMessage(StrEnum):
    CODE_REJECTED = "CodeRejected"
    LOCKED_OUT = "LockedOut"
    WELCOME = "Welcome"
    INFO = "Info"


class KeySetStatus(StrEnum):
    """A locker's answer to SetKeySet (olp-set-key-set-result.json)."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"


class GrantAction(StrEnum):
    """What an access grant allows (`act`), as a DoorOpened event reports it."""

    DEPOSIT = "deposit"
    PICKUP = "pickup"
    COLLECT = "collect"
    DROPOFF = "dropoff"
