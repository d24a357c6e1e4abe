"""Carriers' verification keys held in memory for a few seconds, so that a request costs only
its replay-guard insert, not a read of the carrier's row as well.

Why a short TTL and a reload on an unknown `kid` are a sound invalidation story: the keys change
only through `openlocker carriers` / `CarrierService.replace_keys`, possibly in another process
or on another instance, so no in-process signal can reach every cache; the database stays the
truth and each entry is re-read at most `ttl` after it was loaded.
- A key ADDED by a rotation is used at once: a token naming a `kid` the cached set does not hold
  (or no key matching) forces a reload of that carrier before it is refused. The reload is done
  at most once per `min_reload` per carrier, so tokens with made-up kids cannot turn every
  request back into a database read.
- A key REMOVED (rotated out, or withdrawn after a leak) is still accepted for at most `ttl`
  (5 s by default). Its tokens live up to `tokens.carrier_token_max_lifetime` (5 min) anyway,
  and each is still single-use (its `jti` is recorded), so a few seconds more does not change
  what a leaked key allows.
- An unknown issuer is not cached: a carrier registered a moment ago is found on its first
  request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from gateway.store import Store


@dataclass(frozen=True, slots=True)
class _Entry:
    jwks: dict[str, Any]
    loaded_at: float  # monotonic seconds


class CarrierKeyCache:
    """issuer -> the carrier's registered JWKS, re-read from the store after `ttl`."""

    def __init__(
        self,
        *,
        store: Store,
        ttl: timedelta = timedelta(seconds=5),
        min_reload: timedelta = timedelta(seconds=1),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if min_reload > ttl:
            raise ValueError("min_reload must not exceed ttl")
        self._store = store
        self._ttl = ttl.total_seconds()
        self._min_reload = min_reload.total_seconds()
        self._monotonic = monotonic
        self._entries: dict[str, _Entry] = {}

    async def jwks(self, issuer: str) -> dict[str, Any] | None:
        """The carrier's keys, from memory if loaded less than `ttl` ago; None if unknown."""
        entry = self._entries.get(issuer)
        if entry is not None and self._monotonic() - entry.loaded_at < self._ttl:
            return entry.jwks
        return await self._load(issuer)

    async def reload(self, issuer: str) -> dict[str, Any] | None:
        """The carrier's keys re-read now (a token named a key we do not hold), unless they were
        read less than `min_reload` ago: then the cached set is the answer."""
        entry = self._entries.get(issuer)
        if entry is not None and self._monotonic() - entry.loaded_at < self._min_reload:
            return entry.jwks
        return await self._load(issuer)

    async def _load(self, issuer: str) -> dict[str, Any] | None:
        loaded_at = self._monotonic()
        async with self._store.transaction() as tx:
            carrier = await tx.carriers.get(issuer)
        if carrier is None:
            self._entries.pop(issuer, None)
            return None
        self._entries[issuer] = _Entry(carrier.jwks, loaded_at)
        return carrier.jwks
