"""The network signing key: created once for all instances, published as a JWKS, signs webhooks.

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
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.clock import Clock, utc_now
from gateway.store import NetworkKeyRecord, Store

ALG = "EdDSA"
WEBHOOK_JWS_TYPE = "olp-webhook+jws"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _compact_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def new_key(now: datetime) -> NetworkKeyRecord:
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
    return NetworkKeyRecord(kid=kid, alg=ALG, public_jwk=jwk, private_key_pem=pem, created_at=now)


@dataclass(frozen=True, slots=True)
class _Signer:
    kid: str
    key: Ed25519PrivateKey


class NetworkKeys:
    """The network's keys as loaded by `await keys.ensure()` at start-up."""

    def __init__(self, *, store: Store, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock
        self._signer: _Signer | None = None
        self._public: list[dict[str, Any]] = []

    async def ensure(self) -> None:
        """Load the active keys, creating the first one if the network has none yet.

        Instances starting together serialise on a database lock, so exactly one key is
        created and every instance signs with it.
        """
        async with self._store.transaction() as tx:
            active = await tx.network_keys.active()
            if not active:
                await tx.network_keys.lock()
                active = await tx.network_keys.active()  # another instance may have won
                if not active:
                    active = [new_key(self._clock())]
                    await tx.network_keys.add(active[0])
        self._load(active)

    def public_jwks(self) -> dict[str, Any]:
        """The public keys as a JWK Set (RFC 7517); never any private member."""
        return {"keys": [dict(jwk) for jwk in self._public]}

    @property
    def kid(self) -> str:
        return self._current().kid

    def sign_detached(self, payload: bytes) -> str:
        """A compact JWS over `payload` with the payload left out: `header..signature`."""
        signer = self._current()
        header = b64url(_compact_json({"alg": ALG, "kid": signer.kid, "typ": WEBHOOK_JWS_TYPE}))
        signing_input = f"{header}.{b64url(payload)}".encode("ascii")
        return f"{header}..{b64url(signer.key.sign(signing_input))}"

    def _current(self) -> _Signer:
        if self._signer is None:
            raise RuntimeError("network keys are not loaded: await NetworkKeys.ensure() first")
        return self._signer

    def _load(self, active: list[NetworkKeyRecord]) -> None:
        newest = active[0]
        private = serialization.load_pem_private_key(newest.private_key_pem.encode(), None)
        if not isinstance(private, Ed25519PrivateKey):
            raise RuntimeError(f"network key {newest.kid} is not an Ed25519 key")
        self._signer = _Signer(newest.kid, private)
        self._public = [record.public_jwk for record in active]
