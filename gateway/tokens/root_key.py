"""The network's root key: signs each SetKeySet for one locker; lockers pin its public half.

It is not one of the grant-signing keys (gateway/tokens/network_keys.py): those rotate often
and are pushed *by* SetKeySet, so they cannot vouch for it. The private half is sealed under
the KEK like every other secret. SPEC §9 "Signed key sets" defines the bytes:

    signature = BASE64URL(header) + ".." + BASE64URL(Ed25519(BASE64URL(header) + "." +
                                                         BASE64URL(JCS(signed))))
    header    = {"alg":"EdDSA","kid":<root kid>,"typ":"olp-keyset+jws"}
    signed    = {"issuer", "keys", "lockerId", "version"}  (the set, and the locker it is for)

JCS is RFC 8785 (for these members: sorted keys, no whitespace, UTF-8). A rotation makes a
new root endorsed by the old one: `endorsement` is the same detached JWS, `typ`
`olp-root+jws`, by the old root over JCS({"key": <new public JWK>, "previous": <old kid>}).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.clock import Clock, utc_now
from gateway.domain.audit import AuditAction
from gateway.sdk.keys import KeySet
from gateway.store import Store, UnitOfWork
from gateway.store.network_keys import RootKeyRecord
from gateway.tokens.custody import open_root, seal_root
from gateway.tokens.network_keys import ALG, b64url, new_key
from gateway.tokens.sealing import Keyring, ephemeral_keyring

KEY_SET_JWS_TYPE = "olp-keyset+jws"
ROOT_JWS_TYPE = "olp-root+jws"
# olp-set-key-set.json: a SetKeySet carries at most this many endorsed roots (oldest dropped).
MAX_ROOT_CHAIN = 8


def canonical_json(value: Any) -> bytes:
    """RFC 8785 for what OLP signs (objects, arrays, strings, integers below 2**53)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign_detached(private: Ed25519PrivateKey, kid: str, typ: str, signed: Any) -> str:
    """A compact JWS over JCS(`signed`) with the payload left out: `header..signature`."""
    header = b64url(canonical_json({"alg": ALG, "kid": kid, "typ": typ}))
    signing_input = f"{header}.{b64url(canonical_json(signed))}".encode("ascii")
    return f"{header}..{b64url(private.sign(signing_input))}"


def key_set_signed_object(key_set: KeySet, locker_id: str) -> dict[str, Any]:
    """What a SetKeySet signature covers: the set, and the one locker it is meant for."""
    return {
        "issuer": key_set.issuer,
        "keys": [dict(k) for k in key_set.keys],
        "lockerId": locker_id,
        "version": key_set.version,
    }


class RootKey:
    """The current root key, loaded by `await root.ensure()` (made on a fresh network)."""

    def __init__(
        self, *, store: Store, keyring: Keyring | None = None, clock: Clock = utc_now
    ) -> None:
        self._store = store
        self._keyring = keyring or ephemeral_keyring()
        self._clock = clock
        self._current: RootKeyRecord | None = None
        self._private: Ed25519PrivateKey | None = None
        self._chain: tuple[Mapping[str, Any], ...] = ()

    async def ensure(self, *, actor: str = "gateway:startup") -> None:
        """Load the root key, making the first one if the network has none."""
        async with self._store.transaction() as tx:
            roots = await tx.network_keys.roots()
            if not any(r.retired_at is None for r in roots):
                await tx.network_keys.lock()  # instances starting together make one root
                roots = await tx.network_keys.roots()
                if not any(r.retired_at is None for r in roots):
                    await self._add(tx, None, actor)
                    roots = await tx.network_keys.roots()
            await self._load(roots)

    async def refresh(self) -> None:
        """Reload: another instance may have rotated the root."""
        async with self._store.transaction() as tx:
            await self._load(await tx.network_keys.roots())

    async def rotate(self, *, actor: str = "operator") -> RootKeyRecord:
        """A new root endorsed by the current one, which retires. The key-set version moves,
        so every locker gets a set signed by the new root, with the endorsement to trust it."""
        async with self._store.transaction() as tx:
            await tx.network_keys.lock()
            await self._load(await tx.network_keys.roots())
            old = self._loaded()
            record = await self._add(tx, old, actor)
            await tx.network_keys.retire_root(old.kid, self._clock())
            await tx.network_keys.bump_version()
            await self._load(await tx.network_keys.roots())
        return record

    @property
    def kid(self) -> str:
        return self._loaded().kid

    @property
    def public_jwk(self) -> dict[str, Any]:
        """What a locker pins: the root's public JWK (no private member)."""
        return dict(self._loaded().public_jwk)

    def chain(self) -> tuple[Mapping[str, Any], ...]:
        """The endorsed roots, oldest first: `{"jwk", "endorsement"}` each."""
        return self._chain

    def sign_key_set(self, key_set: KeySet, locker_id: str) -> KeySet:
        """`key_set` as pushed to `locker_id`: signed for it, with the endorsement chain."""
        current = self._loaded()
        assert self._private is not None
        signed = key_set_signed_object(key_set, locker_id)
        signature = sign_detached(self._private, current.kid, KEY_SET_JWS_TYPE, signed)
        return replace(key_set, signature=signature, root_chain=self._chain)

    def _loaded(self) -> RootKeyRecord:
        if self._current is None:
            raise RuntimeError("the root key is not loaded: await RootKey.ensure() first")
        return self._current

    async def _load(self, roots: list[RootKeyRecord]) -> None:
        current = next(r for r in reversed(roots) if r.retired_at is None)
        if self._current is None or self._current.kid != current.kid:
            private = serialization.load_pem_private_key(
                await open_root(self._keyring, current), None
            )
            if not isinstance(private, Ed25519PrivateKey):
                raise RuntimeError(f"root key {current.kid} is not an Ed25519 key")
            self._private = private
        self._current = current
        links = [
            {"jwk": dict(r.public_jwk), "endorsement": r.endorsement}
            for r in roots
            if r.endorsement is not None
        ]
        self._chain = tuple(links[-MAX_ROOT_CHAIN:])

    async def _add(
        self, tx: UnitOfWork, previous: RootKeyRecord | None, actor: str
    ) -> RootKeyRecord:
        now = self._clock()
        fresh = new_key(now)  # an Ed25519 key with its RFC 7638 kid, as the signing keys have
        jwk = {k: v for k, v in fresh.public_jwk.items() if k != "use"}
        endorsement = None
        if previous is not None:
            assert self._private is not None
            claim = {"key": jwk, "previous": previous.kid}
            endorsement = sign_detached(self._private, previous.kid, ROOT_JWS_TYPE, claim)
        sealed = await seal_root(self._keyring, fresh.kid, fresh.private_key_pem.encode())
        record = RootKeyRecord(
            kid=fresh.kid,
            public_jwk=jwk,
            private_key=sealed.value,
            kek_id=sealed.kek_id,
            created_at=now,
            endorsement=endorsement,
        )
        await tx.network_keys.add_root(record)
        details: dict[str, Any] = {"endorsedBy": previous.kid if previous else None}
        await tx.audit.append(
            AuditAction.ROOT_KEY_CREATED, actor=actor, subject=fresh.kid, details=details
        )
        return record
