"""Carrier request authentication: a short-lived JWT signed with the carrier's own private key.

The gateway holds only public keys. A token is accepted once: its `jti` is recorded in the
database until it expires, so a replay is refused even after a restart or on another instance.
The carriers' keys are held in memory for a few seconds (see carrier_keys.py), so a request
whose carrier is cached costs one statement: the `jti` insert.

An HTTP request does not pay a commit of its own for the `jti`: `verify` checks the token and
hands back the id as a PendingJti (gateway/store/jtis.py), which the request's first
transaction records as its first statement; a replay is refused there, before that
transaction did anything, and `settle` records the id of a request that committed no
transaction before its answer leaves. `authenticate` does both at once (its own transaction).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from jwt.exceptions import InvalidTokenError, PyJWKError, PyJWKSetError

from gateway.auth.carrier_keys import CarrierKeyCache
from gateway.auth.jwks import ALGORITHM_FOR_KEY, ALLOWED_ALGORITHMS
from gateway.clock import Clock, utc_now
from gateway.errors import AuthenticationFailed
from gateway.store import Store
from gateway.store.jtis import REPLAYED, PendingJti, deferred

REQUIRED_CLAIMS = ("iss", "aud", "iat", "exp", "jti")


@dataclass(frozen=True, slots=True)
class CarrierIdentity:
    carrier_id: str
    token_id: str


class CarrierAuthenticator:
    """Checks `Authorization: Bearer <jwt>` headers against the registered carriers."""

    def __init__(
        self,
        *,
        store: Store,
        network_id: str,
        max_lifetime: timedelta = timedelta(minutes=5),
        leeway: timedelta = timedelta(seconds=30),
        max_token_bytes: int = 4096,
        clock: Clock = utc_now,
        keys: CarrierKeyCache | None = None,
    ) -> None:
        self._store = store
        self._keys = keys or CarrierKeyCache(store=store)
        self._network_id = network_id
        self._max_lifetime = max_lifetime
        self._leeway = leeway
        self._max_token_bytes = max_token_bytes
        self._clock = clock

    async def authenticate(self, authorization: str | None) -> CarrierIdentity:
        """The token's carrier, its `jti` spent at once (a transaction of its own)."""
        identity, pending = await self.verify(authorization)
        await self.settle(pending)
        return identity

    async def verify(self, authorization: str | None) -> tuple[CarrierIdentity, PendingJti]:
        """The token's carrier and its `jti`, not spent yet: run the request inside
        `jtis.deferred(pending)`, then `settle(pending)` before answering."""
        token = self._bearer(authorization)
        header = self._header(token)
        issuer = self._unverified_issuer(token)
        key = await self._key(issuer, header)
        claims = self._verify(token, key, header["alg"], issuer)
        expires = _numeric_date(claims, "exp") + self._leeway
        jti = str(claims["jti"])
        pending = PendingJti(issuer=issuer, jti=jti, expires_at=expires)
        return CarrierIdentity(carrier_id=issuer, token_id=jti), pending

    async def settle(self, pending: PendingJti) -> None:
        """Spend the `jti` now unless a committed transaction of the request already did;
        raises AuthenticationFailed if it was used before (the answer must not leave)."""
        if not pending.used and not pending.refused:
            with deferred(pending):
                async with self._store.transaction():
                    pass  # the transaction records the pending id as its first statement
        if not pending.used:  # refused as a replay (nothing else leaves it unspent)
            raise AuthenticationFailed(REPLAYED)

    async def _key(self, issuer: str, header: dict[str, Any]) -> jwt.PyJWK:
        """The key the header names; a miss re-reads the carrier once, since a rotation made
        elsewhere may have added it since the keys were cached."""
        jwks = await self._keys.jwks(issuer)
        if jwks is None:
            raise AuthenticationFailed("unknown issuer: no carrier is registered under it")
        try:
            return _select_key(jwks, header)
        except AuthenticationFailed:
            fresh = await self._keys.reload(issuer)
            if fresh is None:
                raise AuthenticationFailed(
                    "unknown issuer: no carrier is registered under it"
                ) from None
            if fresh is jwks:
                raise
        return _select_key(fresh, header)

    def _bearer(self, authorization: str | None) -> str:
        if not authorization:
            raise AuthenticationFailed("missing Authorization: Bearer <token> header")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationFailed("the Authorization header must be `Bearer <token>`")
        token = token.strip()
        if len(token) > self._max_token_bytes:
            raise AuthenticationFailed(f"token longer than {self._max_token_bytes} bytes")
        return token

    @staticmethod
    def _header(token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except InvalidTokenError as err:
            raise AuthenticationFailed(f"malformed token: {err}") from err
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise AuthenticationFailed(
                f"algorithm {alg!r} refused; allowed: {', '.join(ALLOWED_ALGORITHMS)}"
            )
        return header

    @staticmethod
    def _unverified_issuer(token: str) -> str:
        # Only used to find the key; every claim is verified with that key right after.
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except InvalidTokenError as err:
            raise AuthenticationFailed(f"malformed token: {err}") from err
        issuer = claims.get("iss")
        if not isinstance(issuer, str) or not issuer:
            raise AuthenticationFailed("token has no `iss` naming the carrier")
        if "\x00" in issuer:
            # No carrier id holds one, and PostgreSQL cannot even compare text with one.
            raise AuthenticationFailed("`iss` holds a NUL character (\\u0000)")
        return issuer

    def _verify(self, token: str, key: jwt.PyJWK, alg: str, issuer: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=self._network_id,
                issuer=issuer,
                # Times are checked below against the gateway's one clock, not PyJWT's.
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidAudienceError as err:
            raise AuthenticationFailed(f"token audience is not {self._network_id!r}") from err
        except InvalidTokenError as err:
            raise AuthenticationFailed(f"token rejected: {err}") from err
        self._check_times(claims)
        jti = claims["jti"]
        if not isinstance(jti, str) or not 8 <= len(jti) <= 128 or "\x00" in jti:
            raise AuthenticationFailed("`jti` must be a string of 8..128 characters, no NUL")
        return claims

    def _check_times(self, claims: dict[str, Any]) -> None:
        now = self._clock()
        exp = _numeric_date(claims, "exp")
        iat = _numeric_date(claims, "iat")
        nbf = _numeric_date(claims, "nbf") if "nbf" in claims else None
        if exp + self._leeway < now:
            raise AuthenticationFailed("token expired")
        if iat - self._leeway > now:
            raise AuthenticationFailed("token issued in the future")
        if nbf is not None and nbf - self._leeway > now:
            raise AuthenticationFailed("token not valid yet (nbf)")
        if exp - iat > self._max_lifetime:
            limit = int(self._max_lifetime.total_seconds())
            raise AuthenticationFailed(f"token lifetime exceeds {limit} s")


def _numeric_date(claims: dict[str, Any], name: str) -> datetime:
    """Claim `name` as a time: a NumericDate is a JSON number of seconds (RFC 7519 section 2),
    so a string such as "1796478085" is refused, not read as one, and so are true and false
    (which Python counts as the integers 1 and 0)."""
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AuthenticationFailed(f"`{name}` must be a NumericDate: a JSON number of seconds")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (ValueError, OverflowError, OSError) as err:
        raise AuthenticationFailed(f"`{name}` is not a NumericDate within range") from err


def _select_key(jwks: dict[str, Any], header: dict[str, Any]) -> jwt.PyJWK:
    """The carrier's key named by `kid`, whose type must match the token's algorithm."""
    kid = header.get("kid")
    candidates = [
        k
        for k in jwks.get("keys", [])
        if ALGORITHM_FOR_KEY.get((k.get("kty"), k.get("crv"))) == header["alg"]
        and (kid is None or k.get("kid") == kid)
    ]
    if not candidates:
        raise AuthenticationFailed(f"no registered key matches kid {kid!r} and alg {header['alg']}")
    if len(candidates) > 1:
        raise AuthenticationFailed("several keys match: the token header must carry a `kid`")
    # Keyed by the key's own members: a rotated or removed key is a different entry.
    return _parsed_key(json.dumps(candidates[0], sort_keys=True), header["alg"])


@functools.lru_cache(maxsize=1024)
def _parsed_key(jwk: str, alg: str) -> jwt.PyJWK:
    """A registered public key, parsed once: `PyJWK.from_dict` builds PyJWT's whole
    algorithm table and the cryptography key on every call, ~6 % of the gateway's CPU per
    parcel lifecycle when run per request (py-spy, bench/scale_out.py, session 7). A key that
    cannot be parsed raises, and an exception is not cached."""
    try:
        return jwt.PyJWK.from_dict(json.loads(jwk), algorithm=alg)
    except (PyJWKError, PyJWKSetError) as err:
        raise AuthenticationFailed(f"registered key unusable: {err}") from err
