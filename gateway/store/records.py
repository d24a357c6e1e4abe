"""Storage records that are not domain objects: carriers and idempotency entries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class CarrierRecord:
    """A carrier known to the network and the public keys its request tokens are signed with."""

    id: str
    name: str
    jwks: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """The first answer given to a mutation under an Idempotency-Key."""

    carrier_id: str
    key: str
    fingerprint: str
    response: dict[str, Any]
    created_at: datetime
