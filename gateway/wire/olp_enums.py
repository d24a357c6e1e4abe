"""Wire values of the MQTT binding, as published in schemas/v1/olp-enums.json.

Door purposes, outcomes and faults are domain vocabulary (gateway.domain.door); the protocol's
own values (boot status, display messages) live here.
"""

from __future__ import annotations

from enum import StrEnum

from gateway.domain.door import FaultKind, OpenOutcome, OpenPurpose

__all__ = ["BootStatus", "DisplayMessage", "FaultKind", "OpenOutcome", "OpenPurpose"]


class BootStatus(StrEnum):
    ACCEPTED = "Accepted"
    PENDING = "Pending"
    REJECTED = "Rejected"


class DisplayMessage(StrEnum):
    CODE_REJECTED = "CodeRejected"
    LOCKED_OUT = "LockedOut"
    WELCOME = "Welcome"
    INFO = "Info"
