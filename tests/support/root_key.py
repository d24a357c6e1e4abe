"""The network root key's public JWK, read from the database: what a test's lockers pin when
their gateway runs in another process (SPEC §9 "Signed key sets")."""

from __future__ import annotations

from typing import Any

from gateway.store import Store


async def pinned_root(database_url: str) -> dict[str, Any]:
    """The current root key's public JWK (public: stored in clear); made at a gateway's start."""
    async with Store.connect(database_url) as store, store.transaction() as tx:
        roots = await tx.network_keys.roots()
    return dict(next(r.public_jwk for r in roots if r.retired_at is None))
