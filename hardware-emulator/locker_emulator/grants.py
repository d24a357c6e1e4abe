"""The locker's offline grant check: the key set it was given and the grant ids it has used.

An independent implementation of SPEC.md "Key sets and offline grants" with `cryptography`
only: nothing here comes from the gateway. Every check a token fails has one reason code, so
a person at the locker (and a test) learns exactly why the door stayed shut.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from locker_emulator.messages import PayloadError, pickup_check
from locker_emulator.physics import Compartment, DoorState, ItemSensor

GRANT_TYPE = "olp-grant+jwt"
# A bundle grant opens several compartments at once (SPEC.md, section "Bundles").
BUNDLE_GRANT_TYPE = "olp-bundle-grant+jwt"
QR_PREFIX = "OLPG1:"
# A QR code a person holds up is small; anything larger is refused before it is parsed.
MAX_TOKEN_BYTES = 1024
# Clocks of a locker and the network drift apart a little; grants are minutes long anyway.
LEEWAY_SECONDS = 30
# A controller's memory of used grant ids is bounded; ids leave it once their grant expired.
# Full of grants still valid, it refuses new ones: forgetting a live id would allow a replay.
USED_LIMIT = 50_000
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k", "oth"})
_CLAIMS = ("iss", "aud", "sub", "cmp", "act", "nbf", "exp", "iat", "jti")
_BUNDLE_CLAIMS = ("iss", "aud", "sub", "cmps", "act", "nbf", "exp", "iat", "jti")
_BUNDLE_ACTIONS = frozenset({"deposit", "pickup"})


class Refusal(StrEnum):
    """Why a presented grant opened nothing (the gateway's verifier uses the same words)."""

    MALFORMED = "malformed"
    OVERSIZED = "oversized"
    BAD_ALGORITHM = "bad_algorithm"
    BAD_TYPE = "bad_type"
    NO_KEY_SET = "no_key_set"
    UNKNOWN_KID = "unknown_kid"
    BAD_SIGNATURE = "bad_signature"
    WRONG_ISSUER = "wrong_issuer"
    WRONG_AUDIENCE = "wrong_audience"
    WRONG_COMPARTMENT = "wrong_compartment"
    WRONG_ACTION = "wrong_action"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    REPLAYED = "replayed"
    JTI_MEMORY_FULL = "jti_memory_full"


class GrantAction(StrEnum):
    """What a grant allows (claim `act`)."""

    DEPOSIT = "deposit"
    PICKUP = "pickup"
    COLLECT = "collect"
    DROPOFF = "dropoff"


class GrantRefused(Exception):
    """A grant failed one check; `reason` names it, the message explains it."""

    def __init__(self, reason: Refusal, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class KeySetRejected(ValueError):
    """A SetKeySet the locker will not install."""


@dataclass(frozen=True, slots=True)
class Grant:
    """The claims of a grant that passed every check."""

    jti: str
    sub: str
    cmp: str
    act: GrantAction
    exp: int
    # A bundle grant's doors to open now, in order (`cmp` is the first); a grant's: (cmp,).
    doors: tuple[str, ...] = ()
    chk: dict[str, Any] | None = None  # pickup grants: the age/identity check to show

    def report(self) -> dict[str, str]:
        """The `grant` member of the DoorOpened event."""
        return {"jti": self.jti, "act": str(self.act), "sub": self.sub}


@dataclass(frozen=True, slots=True)
class KeySet:
    """An installed key set: its version, its issuer and its public keys by kid."""

    version: int
    issuer: str
    keys: Mapping[str, Ed25519PublicKey]


def _b64decode(segment: str) -> bytes:
    if not _SEGMENT.fullmatch(segment):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def public_key(jwk: object) -> tuple[str, Ed25519PublicKey]:
    """(kid, key) of an Ed25519 public JWK; KeySetRejected for anything else."""
    if not isinstance(jwk, dict):
        raise KeySetRejected("a key is not a JSON object")
    private = sorted(_PRIVATE_MEMBERS & jwk.keys())
    if private:
        raise KeySetRejected(f"key {jwk.get('kid')!r} carries private member(s) {private}")
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise KeySetRejected(f"key {jwk.get('kid')!r} is not an Ed25519 key (kty OKP, crv Ed25519)")
    if jwk.get("alg", "EdDSA") != "EdDSA":
        raise KeySetRejected(f"key {jwk.get('kid')!r} is for alg {jwk.get('alg')!r}, not EdDSA")
    kid, x = jwk.get("kid"), jwk.get("x")
    if not isinstance(kid, str) or not kid:
        raise KeySetRejected("a key has no kid")
    try:
        raw = _b64decode(x) if isinstance(x, str) else b""
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != 32:
        raise KeySetRejected(f"key {kid!r}: x is not a 32-byte Ed25519 public key")
    return kid, Ed25519PublicKey.from_public_bytes(raw)


def parse_key_set(version: int, issuer: str, keys: Sequence[object]) -> KeySet:
    """The key set of a SetKeySet payload; KeySetRejected names the first bad key."""
    if not keys:
        raise KeySetRejected("a key set holds at least one key")
    parsed: dict[str, Ed25519PublicKey] = {}
    for jwk in keys:
        kid, key = public_key(jwk)
        if kid in parsed:
            raise KeySetRejected(f"two keys share kid {kid!r}")
        parsed[kid] = key
    return KeySet(version=version, issuer=issuer, keys=parsed)


def _refuse(reason: Refusal, message: str) -> GrantRefused:
    return GrantRefused(reason, message)


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two members of one name are read differently by different parsers: refuse them.
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise ValueError("duplicate member name")
    return dict(pairs)


def _json_object(segment: str, what: str) -> dict[str, Any]:
    try:
        value: object = json.loads(_b64decode(segment), object_pairs_hook=_unique)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _refuse(Refusal.MALFORMED, f"the grant's {what} is not base64url JSON") from None
    if not isinstance(value, dict):
        raise _refuse(Refusal.MALFORMED, f"the grant's {what} is not a JSON object")
    return value


def _number(claims: Mapping[str, Any], name: str) -> int:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _refuse(Refusal.MALFORMED, f"claim {name} is not a NumericDate")
    return int(value)


def _text(claims: Mapping[str, Any], name: str, limit: int = 128) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise _refuse(Refusal.MALFORMED, f"claim {name} is not a string of 1 to {limit} characters")
    return value


def suits(act: GrantAction, comp: Compartment) -> str | None:
    """Why `act` does not fit the compartment as the locker sees it now; None if it does."""
    if comp.door is not DoorState.CLOSED:
        return f"the door of {comp.code} is {comp.door}"
    if act in (GrantAction.DEPOSIT, GrantAction.DROPOFF):
        if not comp.enabled:
            return f"{comp.code} is out of service"
        if comp.item_sensor is ItemSensor.PRESENT:
            return f"{comp.code} is occupied: nothing can be put in"
        return None
    if comp.item_sensor is ItemSensor.ABSENT:
        return f"{comp.code} is empty: nothing to take out"
    return None


@dataclass(slots=True)
class GrantVault:
    """What the locker keeps in flash for grants: the key set and the grant ids already used."""

    key_set: KeySet | None = None
    # jti -> its grant's exp (epoch seconds): remembered until then, plus the leeway.
    used: dict[str, int] = field(default_factory=dict)

    @property
    def version(self) -> int | None:
        return self.key_set.version if self.key_set else None

    def install(self, version: int, issuer: str, keys: Sequence[object]) -> tuple[bool, str | None]:
        """Install a SetKeySet: (accepted, reason when not)."""
        held = self.version
        if held is not None and version < held:
            return False, f"version {version} is older than the version {held} held"
        try:
            candidate = parse_key_set(version, issuer, keys)
        except KeySetRejected as err:
            return False, str(err)
        if held is None or version > held:
            self.key_set = candidate
        return True, None

    def check(
        self, token: object, *, locker_id: str, compartments: Mapping[str, Compartment], now: int
    ) -> Grant:
        """The grant's claims when every check passes; GrantRefused with the first that fails.

        The checks and their order are SPEC.md §11 "Verifying"; `act` is "about to be done"
        when it fits the compartment as the locker sees it now.
        """
        if not isinstance(token, str):
            raise _refuse(Refusal.MALFORMED, "a grant is a text (compact JWS)")
        token = token.strip().removeprefix(QR_PREFIX)
        if len(token.encode("utf-8", "replace")) > MAX_TOKEN_BYTES:
            raise _refuse(Refusal.OVERSIZED, f"{len(token)} characters; at most {MAX_TOKEN_BYTES}")
        parts = token.split(".")
        if len(parts) != 3 or not all(_SEGMENT.fullmatch(p) for p in parts):
            raise _refuse(Refusal.MALFORMED, "a grant is three base64url parts joined by dots")
        header = _json_object(parts[0], "header")
        claims = _json_object(parts[1], "payload")
        # The algorithm is fixed before any key is touched: the token never picks it.
        if header.get("alg") != "EdDSA":
            raise _refuse(Refusal.BAD_ALGORITHM, f"alg {header.get('alg')!r}; only EdDSA")
        typ = header.get("typ")
        if typ not in (GRANT_TYPE, BUNDLE_GRANT_TYPE):
            raise _refuse(Refusal.BAD_TYPE, f"typ {typ!r}; expected {GRANT_TYPE}")
        if "crit" in header:
            raise _refuse(Refusal.MALFORMED, "a grant header has no crit member")
        if self.key_set is None:
            raise _refuse(Refusal.NO_KEY_SET, "this locker holds no key set yet")
        kid = header.get("kid")
        key = self.key_set.keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise _refuse(Refusal.UNKNOWN_KID, f"no key {kid!r} in key set {self.version}")
        try:
            key.verify(_b64decode(parts[2]), f"{parts[0]}.{parts[1]}".encode("ascii"))
        except (InvalidSignature, ValueError, binascii.Error):
            raise _refuse(Refusal.BAD_SIGNATURE, "the signature does not verify") from None
        if typ == BUNDLE_GRANT_TYPE:
            return self._bundle_claims(
                claims, locker_id=locker_id, compartments=compartments, now=now
            )
        return self._claims(claims, locker_id=locker_id, compartments=compartments, now=now)

    def _claims(
        self,
        claims: Mapping[str, Any],
        *,
        locker_id: str,
        compartments: Mapping[str, Compartment],
        now: int,
    ) -> Grant:
        missing = [name for name in _CLAIMS if name not in claims]
        if missing:
            raise _refuse(Refusal.MALFORMED, f"missing claim(s) {', '.join(missing)}")
        iss, aud = _text(claims, "iss", 256), _text(claims, "aud", 64)
        sub, cmp, jti = _text(claims, "sub"), _text(claims, "cmp"), _text(claims, "jti")
        act_value = _text(claims, "act")
        nbf, exp = _number(claims, "nbf"), _number(claims, "exp")
        _number(claims, "iat")
        assert self.key_set is not None
        if iss != self.key_set.issuer:
            raise _refuse(Refusal.WRONG_ISSUER, f"iss {iss!r} is not this network")
        if aud != locker_id:
            raise _refuse(Refusal.WRONG_AUDIENCE, f"the grant is for locker {aud!r}")
        comp = compartments.get(cmp)
        if comp is None:
            raise _refuse(Refusal.WRONG_COMPARTMENT, f"this locker has no compartment {cmp!r}")
        if act_value not in set(GrantAction):
            raise _refuse(Refusal.WRONG_ACTION, f"act {act_value!r} is not a grant action")
        act = GrantAction(act_value)
        unsuitable = suits(act, comp)
        if unsuitable is not None:
            raise _refuse(Refusal.WRONG_ACTION, f"{act} refused: {unsuitable}")
        # `exp` is the first instant a grant is no longer valid (RFC 7519 §4.1.4).
        if now >= exp + LEEWAY_SECONDS:
            raise _refuse(Refusal.EXPIRED, f"the grant expired {now - exp} s ago")
        if now < nbf - LEEWAY_SECONDS:
            raise _refuse(Refusal.NOT_YET_VALID, f"the grant is valid in {nbf - now} s")
        self.forget_expired(now)
        if jti in self.used:
            raise _refuse(Refusal.REPLAYED, "this grant was used already")
        if len(self.used) >= USED_LIMIT:
            raise _refuse(
                Refusal.JTI_MEMORY_FULL, "too many grants in use; try again once some expired"
            )
        check = claims.get("chk")
        if check is not None:
            try:
                check = pickup_check(check)
            except PayloadError as err:
                raise _refuse(Refusal.MALFORMED, f"chk: {err}") from None
        return Grant(jti=jti, sub=sub, cmp=cmp, act=act, exp=exp, doors=(cmp,), chk=check)

    def _bundle_claims(
        self,
        claims: Mapping[str, Any],
        *,
        locker_id: str,
        compartments: Mapping[str, Compartment],
        now: int,
    ) -> Grant:
        """A bundle grant: every listed compartment must be this locker's; the doors whose
        compartment suits `act` now open (one already emptied or filled is skipped), and
        at least one must."""
        missing = [name for name in _BUNDLE_CLAIMS if name not in claims]
        if missing:
            raise _refuse(Refusal.MALFORMED, f"missing claim(s) {', '.join(missing)}")
        cmps = claims.get("cmps")
        if (
            not isinstance(cmps, list)
            or not cmps
            or len(cmps) > 20
            or len(set(map(str, cmps))) != len(cmps)
        ):
            raise _refuse(Refusal.MALFORMED, "claim cmps is not a list of 1 to 20 compartments")
        one = {name: claims[name] for name in _CLAIMS if name in claims}
        suitable: list[str] = []
        last: GrantRefused | None = None
        for code in cmps:
            if not isinstance(code, str):
                raise _refuse(Refusal.MALFORMED, "claim cmps holds a non-string")
            if code not in compartments:
                raise _refuse(Refusal.WRONG_COMPARTMENT, f"this locker has no compartment {code!r}")
            if claims.get("act") not in _BUNDLE_ACTIONS:
                raise _refuse(
                    Refusal.WRONG_ACTION, f"act {claims.get('act')!r} is not a bundle action"
                )
            try:
                # The one-door checks for this door (issuer, audience, action, window, jti).
                self._claims(
                    {**one, "cmp": code}, locker_id=locker_id, compartments=compartments, now=now
                )
            except GrantRefused as err:
                if err.reason is not Refusal.WRONG_ACTION:
                    raise
                last = err
                continue
            suitable.append(code)
        if not suitable:
            assert last is not None
            raise last
        grant = self._claims(
            {**one, "cmp": suitable[0]}, locker_id=locker_id, compartments=compartments, now=now
        )
        return Grant(
            jti=grant.jti,
            sub=grant.sub,
            cmp=grant.cmp,
            act=grant.act,
            exp=grant.exp,
            doors=tuple(suitable),
        )

    def mark_used(self, grant: Grant, now: int) -> None:
        """Remember a grant that opened a door, until it could no longer be accepted anyway."""
        self.forget_expired(now)
        self.used[grant.jti] = grant.exp

    def forget_expired(self, now: int) -> None:
        for jti in [j for j, exp in self.used.items() if exp + LEEWAY_SECONDS < now]:
            del self.used[jti]


def epoch(moment: datetime) -> int:
    """Whole seconds since 1970 of an aware datetime."""
    return int(moment.timestamp())
