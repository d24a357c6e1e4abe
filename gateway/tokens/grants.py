"""Access grants: compact JWS (EdDSA, `typ: olp-grant+jwt`) a locker verifies offline.

Pure: no I/O. The issuer signs claims with the network's signing key; the verifier checks a
token against a key set in the order SPEC.md "Access grants" fixes, and either returns typed
claims or raises `GrantRefused` with one machine-readable `GrantRefusal` reason. The algorithm
and type are checked before any key is looked up (RFC 8725 §3.1): a token can never choose how
it is verified.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.clock import Clock, utc_now
from gateway.domain.grants import ACTION_FOR_PURPOSE, GrantAction
from gateway.domain.requirements import PickupCheck
from gateway.errors import AuthenticationFailed
from gateway.sdk.keys import KeySet

GRANT_TYPE = "olp-grant+jwt"
GRANT_ALGORITHMS = frozenset({"EdDSA"})
QR_PREFIX = "OLPG1:"
DEFAULT_MAX_TOKEN_BYTES = 1024
# What we issue stays small enough for QR version 21 at ECC level M (SPEC.md §11).
MAX_ISSUED_CHARS = 700
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
__all__ = [
    "ACTION_FOR_PURPOSE",
    "DEFAULT_MAX_TOKEN_BYTES",
    "GRANT_ALGORITHMS",
    "GRANT_TYPE",
    "MAX_ISSUED_CHARS",
    "QR_PREFIX",
    "GrantAction",
    "GrantClaims",
    "GrantRefusal",
    "GrantRefused",
    "GrantVerifier",
    "b64url",
    "encode_grant",
    "new_jti",
    "qr_payload",
    "token_from_qr",
]
_REQUIRED = ("iss", "aud", "sub", "cmp", "act", "nbf", "exp", "iat", "jti")


class GrantRefusal(StrEnum):
    """Why a grant was refused; the wire value goes into the error's `details.reason`."""

    MALFORMED = "malformed"
    OVERSIZED = "oversized"
    BAD_ALGORITHM = "bad_algorithm"
    BAD_TYPE = "bad_type"
    UNKNOWN_KID = "unknown_kid"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    WRONG_ISSUER = "wrong_issuer"
    WRONG_AUDIENCE = "wrong_audience"
    WRONG_COMPARTMENT = "wrong_compartment"
    WRONG_ACTION = "wrong_action"
    REPLAYED = "replayed"


class GrantRefused(AuthenticationFailed):
    """A grant failed verification (wire code SecurityError); `reason` says which check."""

    def __init__(self, reason: GrantRefusal, description: str) -> None:
        super().__init__(f"grant refused ({reason}): {description}", details={"reason": reason})
        self.reason = reason


@dataclass(frozen=True, slots=True)
class GrantClaims:
    """The claims of a grant; `sub` is the parcel's opaque uid, never personal data."""

    iss: str
    aud: str
    sub: str
    cmp: str
    act: GrantAction
    nbf: datetime
    exp: datetime
    iat: datetime
    jti: str
    # Pickup grants of a parcel with a pickup check: what the locker's screen must ask for.
    chk: PickupCheck | None = None

    def to_json(self) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "iss": self.iss,
            "aud": self.aud,
            "sub": self.sub,
            "cmp": self.cmp,
            "act": self.act.value,
            "nbf": _seconds(self.nbf),
            "exp": _seconds(self.exp),
            "iat": _seconds(self.iat),
            "jti": self.jti,
        }
        if self.chk is not None:
            claims["chk"] = self.chk.to_json()
        return claims


def new_jti() -> str:
    """128 random bits, base64url: unguessable and short enough for a QR code."""
    return b64url(secrets.token_bytes(16))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def encode_grant(claims: GrantClaims, *, kid: str, key: Ed25519PrivateKey) -> str:
    """The compact JWS of `claims`, signed with `key` and naming `kid` in its header."""
    header = {"alg": "EdDSA", "kid": kid, "typ": GRANT_TYPE}
    signing_input = f"{b64url(_compact(header))}.{b64url(_compact(claims.to_json()))}"
    signature = key.sign(signing_input.encode("ascii"))
    token = f"{signing_input}.{b64url(signature)}"
    if len(token) > MAX_ISSUED_CHARS:
        # Only over-long ids can cause this; the schemas bound every one of them.
        raise ValueError(f"grant of {len(token)} characters exceeds {MAX_ISSUED_CHARS}")
    return token


def qr_payload(token: str) -> str:
    """The text a grant's QR code holds (byte mode): a version prefix, then the token."""
    return QR_PREFIX + token


def token_from_qr(text: str) -> str:
    """The token inside a scanned QR payload; malformed if the prefix is not ours."""
    if not text.startswith(QR_PREFIX):
        raise GrantRefused(GrantRefusal.MALFORMED, f"QR payload does not start with {QR_PREFIX}")
    return text[len(QR_PREFIX) :]


class GrantVerifier:
    """Checks grants for one network against its published keys (kid -> public key).

    `seen(jti)` answers whether a grant id was used before; the caller records the `jti` of
    the claims it gets back once the door has opened. Without `seen`, replay is the caller's
    job entirely.
    """

    def __init__(
        self,
        *,
        keys: Mapping[str, Ed25519PublicKey],
        issuer: str,
        clock: Clock = utc_now,
        leeway: timedelta = timedelta(seconds=30),
        max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES,
        seen: Callable[[str], bool] | None = None,
    ) -> None:
        self._keys = dict(keys)
        self._issuer = issuer
        self._clock = clock
        self._leeway = leeway
        self._max_bytes = max_token_bytes
        self._seen = seen

    @classmethod
    def for_key_set(
        cls,
        key_set: KeySet,
        *,
        clock: Clock = utc_now,
        leeway: timedelta = timedelta(seconds=30),
        seen: Callable[[str], bool] | None = None,
    ) -> GrantVerifier:
        """A verifier holding exactly what a locker holds: the published key set."""
        keys = {str(jwk["kid"]): _ed25519(jwk) for jwk in key_set.keys}
        return cls(keys=keys, issuer=key_set.issuer, clock=clock, leeway=leeway, seen=seen)

    def verify(
        self,
        token: str,
        *,
        locker_id: str,
        compartment_code: str | None = None,
        action: GrantAction | None = None,
    ) -> GrantClaims:
        if len(token) > self._max_bytes:
            raise GrantRefused(GrantRefusal.OVERSIZED, f"longer than {self._max_bytes} bytes")
        if not token.isascii():
            raise GrantRefused(GrantRefusal.MALFORMED, "a compact JWS is ASCII")
        parts = token.split(".")
        if len(parts) != 3:
            raise GrantRefused(GrantRefusal.MALFORMED, "a compact JWS has three parts")
        header = _json_part(parts[0], "header")
        self._check_header(header)
        key = self._keys.get(header["kid"])
        if key is None:
            raise GrantRefused(GrantRefusal.UNKNOWN_KID, f"no published key {header['kid']!r}")
        signature = _b64decode(parts[2], "signature")
        try:
            key.verify(signature, f"{parts[0]}.{parts[1]}".encode("ascii"))
        except InvalidSignature as err:
            raise GrantRefused(GrantRefusal.BAD_SIGNATURE, "signature does not verify") from err
        claims = _claims(_json_part(parts[1], "payload"))
        self._check_claims(claims, locker_id, compartment_code, action)
        return claims

    @staticmethod
    def _check_header(header: dict[str, Any]) -> None:
        alg = header.get("alg")
        if alg not in GRANT_ALGORITHMS:
            raise GrantRefused(GrantRefusal.BAD_ALGORITHM, f"algorithm {alg!r} is not EdDSA")
        if header.get("typ") != GRANT_TYPE:
            raise GrantRefused(GrantRefusal.BAD_TYPE, f"typ must be {GRANT_TYPE!r}")
        if "crit" in header:
            # We understand no JWS extension, so a critical one must fail (RFC 7515 §4.1.11).
            raise GrantRefused(GrantRefusal.MALFORMED, "header has `crit` extensions")
        if not isinstance(header.get("kid"), str):
            raise GrantRefused(GrantRefusal.MALFORMED, "header has no string `kid`")

    def _check_claims(
        self,
        claims: GrantClaims,
        locker_id: str,
        compartment_code: str | None,
        action: GrantAction | None,
    ) -> None:
        if claims.iss != self._issuer:
            raise GrantRefused(GrantRefusal.WRONG_ISSUER, f"issued by {claims.iss!r}")
        if claims.aud != locker_id:
            raise GrantRefused(GrantRefusal.WRONG_AUDIENCE, f"for locker {claims.aud!r}")
        if compartment_code is not None and claims.cmp != compartment_code:
            raise GrantRefused(GrantRefusal.WRONG_COMPARTMENT, f"for compartment {claims.cmp!r}")
        if action is not None and claims.act is not action:
            raise GrantRefused(GrantRefusal.WRONG_ACTION, f"allows {claims.act}, not {action}")
        now = self._clock()
        if claims.exp + self._leeway <= now:
            raise GrantRefused(GrantRefusal.EXPIRED, f"expired at {claims.exp.isoformat()}")
        if claims.nbf - self._leeway > now:
            raise GrantRefused(GrantRefusal.NOT_YET_VALID, f"valid from {claims.nbf.isoformat()}")
        if self._seen is not None and self._seen(claims.jti):
            raise GrantRefused(GrantRefusal.REPLAYED, "this grant was used before")


def _ed25519(jwk: Mapping[str, Any]) -> Ed25519PublicKey:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or not isinstance(jwk.get("x"), str):
        raise ValueError(f"key {jwk.get('kid')!r} is not an Ed25519 public JWK")
    try:
        return Ed25519PublicKey.from_public_bytes(_b64decode(jwk["x"], "x"))
    except (GrantRefused, ValueError) as err:
        raise ValueError(f"key {jwk.get('kid')!r} has no 32-byte Ed25519 `x`") from err


def _claims(raw: dict[str, Any]) -> GrantClaims:
    missing = [name for name in _REQUIRED if name not in raw]
    if missing:
        raise GrantRefused(GrantRefusal.MALFORMED, f"missing claims: {', '.join(missing)}")
    for name in ("iss", "aud", "sub", "cmp", "jti"):
        if not isinstance(raw[name], str) or not raw[name]:
            raise GrantRefused(GrantRefusal.MALFORMED, f"`{name}` must be a non-empty string")
    try:
        act = GrantAction(raw["act"])
    except ValueError as err:
        raise GrantRefused(GrantRefusal.MALFORMED, f"unknown action {raw['act']!r}") from err
    nbf, exp, iat = (_numeric_date(raw, name) for name in ("nbf", "exp", "iat"))
    if exp <= nbf:
        raise GrantRefused(GrantRefusal.MALFORMED, "`exp` must be after `nbf`")
    return GrantClaims(
        chk=_pickup_check(raw.get("chk")),
        iss=raw["iss"],
        aud=raw["aud"],
        sub=raw["sub"],
        cmp=raw["cmp"],
        act=act,
        nbf=nbf,
        exp=exp,
        iat=iat,
        jti=raw["jti"],
    )


def _pickup_check(raw: Any) -> PickupCheck | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) - {"minimumAge", "identity"}:
        raise GrantRefused(GrantRefusal.MALFORMED, "`chk` must be a PickupCheck object")
    age, identity = raw.get("minimumAge"), raw.get("identity", False)
    if (age is not None and (isinstance(age, bool) or not isinstance(age, int))) or not (
        isinstance(identity, bool)
    ):
        raise GrantRefused(GrantRefusal.MALFORMED, "`chk` has a member of the wrong type")
    try:
        return PickupCheck(minimum_age=age, identity=identity)
    except ValueError as err:
        raise GrantRefused(GrantRefusal.MALFORMED, f"`chk`: {err}") from err


def _numeric_date(raw: dict[str, Any], name: str) -> datetime:
    value = raw[name]
    # bool is an int in Python, and `true` is no NumericDate.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise GrantRefused(GrantRefusal.MALFORMED, f"`{name}` must be NumericDate seconds")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (ValueError, OverflowError, OSError) as err:
        raise GrantRefused(GrantRefusal.MALFORMED, f"`{name}` is out of range") from err


def _b64decode(part: str, what: str) -> bytes:
    # Strict: unpadded base64url alphabet only (RFC 7515 §2); the stdlib would skip junk.
    if not _B64URL.fullmatch(part) or len(part) % 4 == 1:
        raise GrantRefused(GrantRefusal.MALFORMED, f"{what} is not base64url")
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError) as err:
        raise GrantRefused(GrantRefusal.MALFORMED, f"{what} is not base64url") from err


def _json_part(part: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64decode(part, what), object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError) as err:
        raise GrantRefused(GrantRefusal.MALFORMED, f"{what} is not a JSON object") from err
    if not isinstance(value, dict):
        raise GrantRefused(GrantRefusal.MALFORMED, f"{what} is not a JSON object")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two parsers that keep different duplicates would read two different tokens.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name")
    return result


def _compact(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def _seconds(at: datetime) -> int:
    return int(at.timestamp())
