"""What an access grant allows: its action, and which door opening each action stands for."""

from __future__ import annotations

from enum import StrEnum

from gateway.domain.door import OpenPurpose


class GrantAction(StrEnum):
    """The door opening a grant allows (claim `act`, olp-grant.json)."""

    DEPOSIT = "deposit"
    PICKUP = "pickup"
    COLLECT = "collect"
    DROPOFF = "dropoff"


# Service openings are operator business: no grant is ever issued for them.
ACTION_FOR_PURPOSE: dict[OpenPurpose, GrantAction] = {
    OpenPurpose.DEPOSIT: GrantAction.DEPOSIT,
    OpenPurpose.PICKUP: GrantAction.PICKUP,
    OpenPurpose.COLLECT: GrantAction.COLLECT,
    OpenPurpose.DROPOFF: GrantAction.DROPOFF,
}
