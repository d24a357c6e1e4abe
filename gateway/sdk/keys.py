"""The network's public key set as adapters push it to lockers that verify grants offline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class KeySet:
    """Version `version` of the network's verification keys (public JWKs, each with a `kid`).

    The version only grows: a locker that reports an older one gets the new set pushed.
    """

    version: int
    issuer: str
    keys: tuple[Mapping[str, Any], ...]
    # Set per locker by the gateway before a push (SPEC §9 "Signed key sets"): the root key's
    # detached JWS over the set and the locker's id, and the root keys' endorsement chain
    # (`{"jwk", "endorsement"}`, oldest first) for lockers that pinned an older root.
    signature: str | None = None
    root_chain: tuple[Mapping[str, Any], ...] = ()


@runtime_checkable
class SupportsKeySet(Protocol):
    """Adapters whose lockers verify access grants offline (feature OFFLINE_GRANTS)."""

    async def push_key_set(self, locker_id: str, key_set: KeySet, deadline: datetime) -> None:
        """Install `key_set` on the locker; returns once the locker confirmed it."""
        ...
