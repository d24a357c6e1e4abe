"""The network's signing keys: rotated with overlap, published as a JWKS, sign grants and webhooks.

Rotation: `rotate()` adds a key that is published at once (JWKS, key set) but signs only from
`activates_at` (now + the publish lead), so lockers that were offline hold it before any grant
needs it. The signer is the newest key already active; older keys verify until `retire(kid)`.
Every rotate/retire bumps the key-set version in the database, which is how other instances
(`refresh()`) and lockers notice the change. Private keys are stored sealed under the KEK
(gateway/tokens/sealing.py) and opened here, in memory only.

A webhook signature is a compact JWS with a detached payload (RFC 7515 Appendix F):

    BASE64URL(header) + ".." + BASE64URL(Ed25519 signature)

where the header is `{"alg":"EdDSA","kid":<kid>,"typ":"olp-webhook+jws"}` and the signature is
over the ASCII string `BASE64URL(header) + "." + BASE64URL(body)`, `body` being the exact bytes
of the HTTP request body. The payload stays base64url-encoded in the signing input (this is
not RFC 7797 `b64: false`): a receiver rebuilds the full JWS by putting BASE64URL(body) between
the two dots and verifies it with any JOSE library. BASE64URL is unpadded (RFC 7515 §2).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.clock import Clock, utc_now
from gateway.domain.audit import AuditAction
from gateway.errors import IllegalTransition, NotFound
from gateway.sdk.keys import KeySet
from gateway.settings import Settings, TokenSettings
from gateway.store import NetworkKeyRecord, Store, UnitOfWork
from gateway.tokens.custody import open_key, seal_key
from gateway.tokens.sealing import Keyring, ephemeral_keyring

ALG = "EdDSA"
WEBHOOK_JWS_TYPE = "olp-webhook+jws"
# A key set a locker accepts holds at most this many keys (olp-set-key-set.json).
MAX_PUBLISHED_KEYS = 16
# olp-set-key-set.json: the largest key-set version a locker accepts.
MAX_KEY_SET_VERSION = 2**53 - 1
# How far above the network's version a locker's reported version is followed automatically.
MAX_REPAIR_JUMP = 1_000_000
log = logging.getLogger(__name__)
_DEFAULT_ISSUER: str = Settings.model_fields["network_id"].default
_DEFAULT_LEAD: timedelta = TokenSettings.model_fields["key_publish_lead"].default


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _compact_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def new_key(now: datetime, *, activates_at: datetime | None = None) -> NetworkKeyRecord:
    """A fresh Ed25519 key; its kid is the RFC 7638 thumbprint of the public key."""
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    required = {"crv": "Ed25519", "kty": "OKP", "x": b64url(raw)}
    kid = b64url(hashlib.sha256(_compact_json(required)).digest())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    jwk = {**required, "kid": kid, "alg": ALG, "use": "sig"}
    return NetworkKeyRecord(
        kid=kid,
        alg=ALG,
        public_jwk=jwk,
        private_key_pem=pem,
        created_at=now,
        activates_at=now if activates_at is None else activates_at,
    )


def public_key_of(jwk: Mapping[str, Any]) -> Ed25519PublicKey:
    """The Ed25519 public key of an OKP JWK (RFC 8037)."""
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError("not an Ed25519 OKP key")
    x = str(jwk["x"])
    return Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)))


@dataclass(frozen=True, slots=True)
class SigningKey:
    """The key that signs right now, and its kid for the JWS header."""

    kid: str
    key: Ed25519PrivateKey


class NetworkKeys:
    """The network's keys as loaded by `await keys.ensure()` at start-up."""

    def __init__(
        self,
        *,
        store: Store,
        issuer: str = _DEFAULT_ISSUER,
        publish_lead: timedelta = _DEFAULT_LEAD,
        clock: Clock = utc_now,
        keyring: Keyring | None = None,
    ) -> None:
        """`keyring` seals the private keys at rest; without one (tests) a key that lives
        only in this process does, so no key is ever stored in clear."""
        self._store = store
        self._keyring = keyring or ephemeral_keyring()
        self._issuer = issuer
        self._lead = publish_lead
        self._clock = clock
        self._records: list[NetworkKeyRecord] = []  # not retired, newest activation first
        self._private: dict[str, Ed25519PrivateKey] = {}
        self._version: int | None = None

    async def ensure(self, *, actor: str = "gateway:startup") -> None:
        """Load the keys, creating the first one if the network has none yet.

        Instances starting together serialise on a database lock, so exactly one key is
        created and every instance signs with it. The first key signs at once: there is no
        older key a locker could still be relying on.
        """
        async with self._store.transaction() as tx:
            active = await tx.network_keys.active()
            if not active:
                await tx.network_keys.lock()
                active = await tx.network_keys.active()  # another instance may have won
                if not active:
                    active = [new_key(self._clock())]
                    await tx.network_keys.add(await seal_key(self._keyring, active[0]))
                    version = await tx.network_keys.bump_version()
                    await _audit_created(tx, active[0], version, actor)
            version = await tx.network_keys.version()
            active = await self._opened(active)
        self._load(active, version)

    async def refresh(self) -> bool:
        """Reload if another instance rotated or retired a key; True if anything changed."""
        async with self._store.transaction() as tx:
            return await self.sync(tx)

    async def sync(self, tx: UnitOfWork) -> bool:
        """`refresh()` inside the caller's transaction: one SELECT when nothing changed."""
        version = await tx.network_keys.version()
        if version == self._version:
            return False
        self._load(await self._opened(await tx.network_keys.active()), version)
        return True

    async def rotate(self, *, actor: str = "operator") -> NetworkKeyRecord:
        """Add a key: published now, signing from now + the publish lead."""
        now = self._clock()
        key = new_key(now, activates_at=now + self._lead)
        async with self._store.transaction() as tx:
            await tx.network_keys.lock()
            if len(await tx.network_keys.active()) >= MAX_PUBLISHED_KEYS:
                raise IllegalTransition(
                    f"{MAX_PUBLISHED_KEYS} keys are published already; retire one first",
                    details={"limit": MAX_PUBLISHED_KEYS},
                )
            await tx.network_keys.add(await seal_key(self._keyring, key))
            version = await tx.network_keys.bump_version()
            await _audit_created(tx, key, version, actor)
            active = await self._opened(await tx.network_keys.active())
        self._load(active, version)
        return key

    async def retire(self, kid: str, *, actor: str = "operator") -> NetworkKeyRecord:
        """Stop publishing `kid`: grants and webhooks it signed no longer verify.

        Refused when no other key could sign now: the network must always have a signer.
        """
        now = self._clock()
        async with self._store.transaction() as tx:
            await tx.network_keys.lock()
            active = await tx.network_keys.active()
            target = next((k for k in active if k.kid == kid), None)
            if target is None:
                known = await tx.network_keys.get(kid)
                if known is None:
                    raise NotFound(f"no network key {kid!r}", details={"kid": kid})
                raise IllegalTransition(
                    f"network key {kid!r} is retired already", details={"kid": kid}
                )
            if not any(k.kid != kid and k.activates_at <= now for k in active):
                raise IllegalTransition(
                    f"network key {kid!r} is the last key able to sign; rotate first and "
                    "retire it once the new key is active",
                    details={"kid": kid},
                )
            await tx.network_keys.retire(kid, now)
            version = await tx.network_keys.bump_version()
            await tx.audit.append(
                AuditAction.KEY_RETIRED, actor=actor, subject=kid, details={"version": version}
            )
            active = await self._opened([k for k in active if k.kid != kid])
        self._load(active, version)
        return NetworkKeyRecord(
            kid=target.kid,
            alg=target.alg,
            public_jwk=target.public_jwk,
            private_key_pem=(await open_key(self._keyring, target)).private_key_pem,
            created_at=target.created_at,
            activates_at=target.activates_at,
            retired_at=now,
        )

    async def advance_past(self, held: int, *, locker_id: str, actor: str) -> int:
        """Raise the key-set version above `held`, a version a locker reported holding that is
        above the network's (SPEC §9: versions only grow, a locker refuses a lower one).

        The keys stay the same; only the version moves, so the next push reaches that locker
        (and every other one, once). Audited as `keyset.ahead` with what was found and done.
        A version that is above the network's by more than MAX_REPAIR_JUMP, or that leaves no
        room below the schema's maximum, is not followed (one locker must not be able to use
        up the network's versions): audited and logged for an operator, returns the version
        unchanged. Returns the network's version afterwards.
        """
        async with self._store.transaction() as tx:
            await tx.network_keys.lock()
            network = await tx.network_keys.version()
            details: dict[str, Any] = {"reported": held, "network": network}
            if held <= network:  # not ahead, or another instance repaired it meanwhile
                await self.sync(tx)
                return network
            if held - network > MAX_REPAIR_JUMP or held >= MAX_KEY_SET_VERSION:
                version = network
                details["repaired"] = False
                log.error(
                    "locker %s holds key-set version %d, far above the network's %d: not "
                    "followed; it keeps keys the network does not have until an operator "
                    "resets it",
                    locker_id,
                    held,
                    network,
                )
            else:
                version = await tx.network_keys.bump_version(at_least=held + 1)
                details["repaired"] = True
                log.warning(
                    "locker %s holds key-set version %d, above the network's %d (a restored "
                    "database or a rogue push?): key-set version raised to %d",
                    locker_id,
                    held,
                    network,
                    version,
                )
            details["version"] = version
            await tx.audit.append(
                AuditAction.KEY_SET_AHEAD, actor=actor, subject=locker_id, details=details
            )
            active = await self._opened(await tx.network_keys.active())
        self._load(active, version)
        return version

    @property
    def version(self) -> int:
        self._loaded()
        assert self._version is not None
        return self._version

    @property
    def issuer(self) -> str:
        return self._issuer

    def records(self) -> list[NetworkKeyRecord]:
        """The published keys (not retired), newest activation first."""
        return list(self._loaded())

    def public_jwks(self) -> dict[str, Any]:
        """The public keys as a JWK Set (RFC 7517); never any private member."""
        return {"keys": [dict(record.public_jwk) for record in self._loaded()]}

    def key_set(self) -> KeySet:
        """The versioned key set lockers verify grants with."""
        keys = tuple(MappingProxyType(dict(r.public_jwk)) for r in self._loaded())
        return KeySet(version=self.version, issuer=self._issuer, keys=keys)

    def verification_keys(self) -> dict[str, Ed25519PublicKey]:
        """kid -> public key of every published key, active or not yet active."""
        return {r.kid: public_key_of(r.public_jwk) for r in self._loaded()}

    def signing_key(self) -> SigningKey:
        """The newest key whose activation time has passed."""
        now = self._clock()
        for record in self._loaded():
            if record.activates_at <= now:
                return SigningKey(record.kid, self._private_key(record))
        raise RuntimeError("no network key is active yet")  # ensure() makes one active at once

    @property
    def kid(self) -> str:
        return self.signing_key().kid

    def sign_detached(self, payload: bytes) -> str:
        """A compact JWS over `payload` with the payload left out: `header..signature`."""
        signer = self.signing_key()
        header = b64url(_compact_json({"alg": ALG, "kid": signer.kid, "typ": WEBHOOK_JWS_TYPE}))
        signing_input = f"{header}.{b64url(payload)}".encode("ascii")
        return f"{header}..{b64url(signer.key.sign(signing_input))}"

    async def _opened(self, records: list[NetworkKeyRecord]) -> list[NetworkKeyRecord]:
        """The records with their private keys opened (SealError: wrong or missing KEK)."""
        return [await open_key(self._keyring, r) for r in records]

    def _loaded(self) -> list[NetworkKeyRecord]:
        if self._version is None:
            raise RuntimeError("network keys are not loaded: await NetworkKeys.ensure() first")
        return self._records

    def _private_key(self, record: NetworkKeyRecord) -> Ed25519PrivateKey:
        cached = self._private.get(record.kid)
        if cached is None:
            private = serialization.load_pem_private_key(record.private_key_pem.encode(), None)
            if not isinstance(private, Ed25519PrivateKey):
                raise RuntimeError(f"network key {record.kid} is not an Ed25519 key")
            cached = self._private[record.kid] = private
        return cached

    def _load(self, active: list[NetworkKeyRecord], version: int) -> None:
        self._records = sorted(active, key=lambda r: (r.activates_at, r.created_at), reverse=True)
        self._private = {k: v for k, v in self._private.items() if any(r.kid == k for r in active)}
        self._version = version


async def _audit_created(tx: UnitOfWork, key: NetworkKeyRecord, version: int, actor: str) -> None:
    details = {"activatesAt": key.activates_at.isoformat(), "version": version}
    await tx.audit.append(AuditAction.KEY_CREATED, actor=actor, subject=key.kid, details=details)
