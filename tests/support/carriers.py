"""Test carriers: real key pairs and request tokens minted exactly as a carrier would."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519


@dataclass
class TestCarrier:
    """A carrier with its private key; `jwks` is what the gateway registers."""

    __test__ = False  # not a pytest test class

    carrier_id: str
    private_key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
    kid: str
    alg: str
    audience: str

    @classmethod
    def ed25519(cls, carrier_id: str, audience: str, kid: str = "k1") -> TestCarrier:
        return cls(carrier_id, ed25519.Ed25519PrivateKey.generate(), kid, "EdDSA", audience)

    @classmethod
    def p256(cls, carrier_id: str, audience: str, kid: str = "e1") -> TestCarrier:
        return cls(carrier_id, ec.generate_private_key(ec.SECP256R1()), kid, "ES256", audience)

    @property
    def public_jwk(self) -> dict[str, Any]:
        public = self.private_key.public_key()
        if isinstance(public, ed25519.Ed25519PublicKey):
            text = jwt.algorithms.OKPAlgorithm.to_jwk(public)
        else:
            text = jwt.algorithms.ECAlgorithm.to_jwk(public)
        jwk: dict[str, Any] = json.loads(text)
        jwk.update(kid=self.kid, use="sig", alg=self.alg)
        return jwk

    @property
    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk]}

    def token(
        self,
        *,
        lifetime: int = 120,
        iat: float | None = None,
        jti: str | None = None,
        overrides: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
    ) -> str:
        now = time.time() if iat is None else iat
        claims: dict[str, Any] = {
            "iss": self.carrier_id,
            "aud": self.audience,
            "iat": int(now),
            "exp": int(now) + lifetime,
            "jti": jti or uuid.uuid4().hex,
        }
        claims.update(overrides or {})
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(
            claims,
            self.private_key,
            algorithm=self.alg,
            headers={"kid": self.kid, **(headers or {})},
        )

    def auth(self, **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(**kwargs)}"}
