"""Carrier registration: a name and the public JWKS its request tokens are checked against."""

from __future__ import annotations

import re
from typing import Any

from gateway.auth.jwks import validate_carrier_jwks
from gateway.clock import Clock, utc_now
from gateway.errors import FieldIssue, ValidationFailed
from gateway.store import CarrierRecord, Store

CARRIER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class CarrierService:
    def __init__(self, *, store: Store, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    async def register(
        self, carrier_id: str, jwks: dict[str, Any], name: str | None = None
    ) -> CarrierRecord:
        """Add a carrier; its id is the `iss` its tokens must carry."""
        if not CARRIER_ID.match(carrier_id):
            raise ValidationFailed(
                "carrier id must be 1..64 letters, digits, '_', '.' or '-'",
                issues=(FieldIssue("/id", "invalid carrier id"),),
            )
        record = CarrierRecord(
            id=carrier_id,
            name=name or carrier_id,
            jwks=validate_carrier_jwks(jwks),
            created_at=self._clock(),
        )
        async with self._store.transaction() as tx:
            await tx.carriers.add(record)
        return record

    async def replace_keys(self, carrier_id: str, jwks: dict[str, Any]) -> None:
        """Key rotation on the carrier's side: the new set replaces the old one at once."""
        async with self._store.transaction() as tx:
            await tx.carriers.set_jwks(carrier_id, validate_carrier_jwks(jwks))

    async def list(self) -> list[CarrierRecord]:
        async with self._store.transaction() as tx:
            return await tx.carriers.list()
