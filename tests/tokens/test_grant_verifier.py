"""The grant verifier refuses forged, stale, misdirected or replayed grants, with the reason."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.errors import ErrorCode
from gateway.tokens.grants import (
    MAX_ISSUED_CHARS,
    QR_PREFIX,
    GrantAction,
    GrantClaims,
    GrantRefusal,
    GrantRefused,
    GrantVerifier,
    b64url,
    encode_grant,
    new_jti,
    qr_payload,
    token_from_qr,
)

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
NETWORK = "test-net"
LOCKER = "WAW-CENTRAL-01"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Keys:
    """A network with two published keys, "k1" and "k2", and one ex-key, "old"."""

    def __init__(self) -> None:
        self.private = {kid: Ed25519PrivateKey.generate() for kid in ("k1", "k2", "old")}

    def public(self, *kids: str) -> dict[str, Any]:
        return {kid: self.private[kid].public_key() for kid in kids}


@pytest.fixture
def keys() -> Keys:
    return Keys()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def used() -> set[str]:
    return set()


@pytest.fixture
def verifier(keys: Keys, clock: Clock, used: set[str]) -> GrantVerifier:
    return GrantVerifier(
        keys=keys.public("k1", "k2"),
        issuer=NETWORK,
        clock=clock,
        leeway=timedelta(seconds=30),
        seen=used.__contains__,
    )


def claims(**changes: Any) -> GrantClaims:
    values: dict[str, Any] = {
        "iss": NETWORK,
        "aud": LOCKER,
        "sub": "4f1c2a9e-7d3b-4c8a-9e21-5b6d7f8a9c0d",
        "cmp": "A03",
        "act": GrantAction.PICKUP,
        "nbf": T0,
        "exp": T0 + timedelta(hours=1),
        "iat": T0,
        "jti": new_jti(),
    }
    return GrantClaims(**(values | changes))


def token(keys: Keys, kid: str = "k1", **changes: Any) -> str:
    return encode_grant(claims(**changes), kid=kid, key=keys.private[kid])


def handmade(
    header: dict[str, Any], payload: dict[str, Any], sign: Callable[[bytes], bytes]
) -> str:
    """A token built by hand, for the attacks the issuer would never produce."""
    h = b64url(json.dumps(header).encode())
    p = b64url(json.dumps(payload).encode())
    return f"{h}.{p}.{b64url(sign(f'{h}.{p}'.encode()))}"


def hs256(secret: bytes, data: bytes) -> bytes:
    return hmac.new(secret, data, hashlib.sha256).digest()


def refusal(verifier: GrantVerifier, tok: str, **expect: Any) -> GrantRefusal:
    with pytest.raises(GrantRefused) as caught:
        verifier.verify(tok, locker_id=expect.pop("locker_id", LOCKER), **expect)
    err = caught.value
    assert err.code is ErrorCode.SECURITY_ERROR
    assert err.details == {"reason": err.reason}
    assert str(err.reason) in err.description
    return err.reason


def test_a_good_grant_gives_its_claims(verifier: GrantVerifier, keys: Keys) -> None:
    issued = claims()
    tok = encode_grant(issued, kid="k1", key=keys.private["k1"])
    got = verifier.verify(tok, locker_id=LOCKER, compartment_code="A03", action=GrantAction.PICKUP)
    assert got == issued
    assert got.act is GrantAction.PICKUP


def test_expired(verifier: GrantVerifier, keys: Keys, clock: Clock) -> None:
    tok = token(keys)
    clock.now = T0 + timedelta(hours=1, seconds=29)  # within the leeway: still fine
    verifier.verify(tok, locker_id=LOCKER)
    clock.now = T0 + timedelta(hours=1, seconds=30)
    assert refusal(verifier, tok) is GrantRefusal.EXPIRED


def test_not_yet_valid(verifier: GrantVerifier, keys: Keys, clock: Clock) -> None:
    tok = token(keys, nbf=T0 + timedelta(minutes=10), exp=T0 + timedelta(hours=1))
    assert refusal(verifier, tok) is GrantRefusal.NOT_YET_VALID
    clock.now = T0 + timedelta(minutes=9, seconds=31)  # the leeway covers a slow clock
    verifier.verify(tok, locker_id=LOCKER)


def test_wrong_audience(verifier: GrantVerifier, keys: Keys) -> None:
    assert refusal(verifier, token(keys), locker_id="KRK-MAIN-01") is GrantRefusal.WRONG_AUDIENCE


def test_wrong_compartment(verifier: GrantVerifier, keys: Keys) -> None:
    reason = refusal(verifier, token(keys), compartment_code="A04")
    assert reason is GrantRefusal.WRONG_COMPARTMENT


def test_wrong_action(verifier: GrantVerifier, keys: Keys) -> None:
    reason = refusal(verifier, token(keys), action=GrantAction.DEPOSIT)
    assert reason is GrantRefusal.WRONG_ACTION


def test_replayed_jti(verifier: GrantVerifier, keys: Keys, used: set[str]) -> None:
    tok = token(keys)
    first = verifier.verify(tok, locker_id=LOCKER)
    used.add(first.jti)  # the door opened: the caller records the jti
    assert refusal(verifier, tok) is GrantRefusal.REPLAYED


def test_without_a_seen_callback_replay_is_the_callers_job(keys: Keys, clock: Clock) -> None:
    bare = GrantVerifier(keys=keys.public("k1"), issuer=NETWORK, clock=clock)
    tok = token(keys)
    assert bare.verify(tok, locker_id=LOCKER).jti == bare.verify(tok, locker_id=LOCKER).jti


def test_unknown_kid(verifier: GrantVerifier, keys: Keys) -> None:
    assert refusal(verifier, token(keys, kid="old")) is GrantRefusal.UNKNOWN_KID


def test_a_key_published_but_not_yet_signing_still_verifies(
    verifier: GrantVerifier, keys: Keys
) -> None:
    # k2 is in the set before it becomes the signer; a grant it signs is good at once.
    assert verifier.verify(token(keys, kid="k2"), locker_id=LOCKER).aud == LOCKER


def test_a_key_signing_for_another_kid_fails_the_signature(
    verifier: GrantVerifier, keys: Keys
) -> None:
    forged = encode_grant(claims(), kid="k1", key=keys.private["old"])
    assert refusal(verifier, forged) is GrantRefusal.BAD_SIGNATURE


def test_alg_none(verifier: GrantVerifier, keys: Keys) -> None:
    header = {"alg": "none", "kid": "k1", "typ": "olp-grant+jwt"}
    h = b64url(json.dumps(header).encode())
    p = b64url(json.dumps(claims().to_json()).encode())
    assert refusal(verifier, f"{h}.{p}.") is GrantRefusal.BAD_ALGORITHM


def test_hs256_keyed_with_the_public_key(verifier: GrantVerifier, keys: Keys) -> None:
    # The classic confusion: an HMAC keyed with the (public!) verification key bytes. A
    # verifier that let the header choose the algorithm would accept this forgery.
    public = keys.private["k1"].public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for secret in (raw, pem, b64url(raw).encode()):
        forged = handmade(
            {"alg": "HS256", "kid": "k1", "typ": "olp-grant+jwt"},
            claims().to_json(),
            functools.partial(hs256, secret),
        )
        assert refusal(verifier, forged) is GrantRefusal.BAD_ALGORITHM


def test_the_algorithm_is_checked_before_the_key(verifier: GrantVerifier, keys: Keys) -> None:
    # An unknown kid with a bad alg is a bad alg: the key set was never consulted.
    forged = handmade({"alg": "RS256", "kid": "nope", "typ": "olp-grant+jwt"}, {}, lambda d: b"x")
    assert refusal(verifier, forged) is GrantRefusal.BAD_ALGORITHM


def test_tampered_payload(verifier: GrantVerifier, keys: Keys) -> None:
    h, p, s = token(keys).split(".")
    payload = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    payload["cmp"] = "B07"
    tampered = f"{h}.{b64url(json.dumps(payload).encode())}.{s}"
    assert refusal(verifier, tampered) is GrantRefusal.BAD_SIGNATURE


@pytest.mark.parametrize("cut", [1, 10, 90])
def test_truncated_token(verifier: GrantVerifier, keys: Keys, cut: int) -> None:
    tok = token(keys)
    reason = refusal(verifier, tok[:-cut])
    assert reason in (GrantRefusal.MALFORMED, GrantRefusal.BAD_SIGNATURE)


def test_truncated_to_two_parts(verifier: GrantVerifier, keys: Keys) -> None:
    assert refusal(verifier, token(keys).rsplit(".", 1)[0]) is GrantRefusal.MALFORMED


def test_oversized_token(verifier: GrantVerifier, keys: Keys) -> None:
    huge = token(keys) + "A" * 1024
    assert refusal(verifier, huge) is GrantRefusal.OVERSIZED


def test_wrong_typ(verifier: GrantVerifier, keys: Keys) -> None:
    for typ in ("JWT", "olp-webhook+jws", None):
        header = {"alg": "EdDSA", "kid": "k1", "typ": typ}
        forged = handmade(header, claims().to_json(), keys.private["k1"].sign)
        assert refusal(verifier, forged) is GrantRefusal.BAD_TYPE


def test_wrong_issuer(verifier: GrantVerifier, keys: Keys) -> None:
    assert refusal(verifier, token(keys, iss="other-net")) is GrantRefusal.WRONG_ISSUER


def test_a_retired_key_no_longer_verifies(keys: Keys, clock: Clock) -> None:
    tok = token(keys, kid="k1")
    before = GrantVerifier(keys=keys.public("k1", "k2"), issuer=NETWORK, clock=clock)
    before.verify(tok, locker_id=LOCKER)
    after = GrantVerifier(keys=keys.public("k2"), issuer=NETWORK, clock=clock)  # k1 retired
    assert refusal(after, tok) is GrantRefusal.UNKNOWN_KID


@pytest.mark.parametrize(
    ("mutate", "why"),
    [
        (lambda c: c.pop("jti"), "missing"),
        (lambda c: c.update(aud=[LOCKER]), "aud as an array"),
        (lambda c: c.update(exp="tomorrow"), "exp as text"),
        (lambda c: c.update(exp=True), "exp as a bool"),
        (lambda c: c.update(act="service"), "an action no grant allows"),
        (lambda c: c.update(exp=c["nbf"]), "an empty window"),
    ],
)
def test_malformed_claims(
    verifier: GrantVerifier, keys: Keys, mutate: Callable[[dict[str, Any]], Any], why: str
) -> None:
    payload = claims().to_json()
    mutate(payload)
    forged = handmade(
        {"alg": "EdDSA", "kid": "k1", "typ": "olp-grant+jwt"}, payload, keys.private["k1"].sign
    )
    assert refusal(verifier, forged) is GrantRefusal.MALFORMED, why


def test_duplicate_members_and_crit_are_malformed(verifier: GrantVerifier, keys: Keys) -> None:
    h = b64url(b'{"alg":"EdDSA","kid":"k1","typ":"olp-grant+jwt","typ":"JWT"}')
    p = b64url(json.dumps(claims().to_json()).encode())
    sig = b64url(keys.private["k1"].sign(f"{h}.{p}".encode()))
    assert refusal(verifier, f"{h}.{p}.{sig}") is GrantRefusal.MALFORMED
    crit = {"alg": "EdDSA", "kid": "k1", "typ": "olp-grant+jwt", "crit": ["exp"]}
    forged = handmade(crit, claims().to_json(), keys.private["k1"].sign)
    assert refusal(verifier, forged) is GrantRefusal.MALFORMED


GOOD_HEADER = b64url(b'{"alg":"EdDSA","kid":"k1","typ":"olp-grant+jwt"}')


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "..",
        "a.b.c",
        "W10.e30.AAAA",  # the header is a JSON array
        "\u00e9.e30.e30",
        f"{GOOD_HEADER}.e30.!!!!",  # the signature is not base64url
        f"{GOOD_HEADER}.e30.AAAA=",  # padding is not allowed
        f"{GOOD_HEADER[:-1]}.e30.AAAA",  # the header no longer decodes to JSON
    ],
)
def test_junk_is_malformed(verifier: GrantVerifier, junk: str) -> None:
    assert refusal(verifier, junk) is GrantRefusal.MALFORMED


def test_qr_form_round_trips_and_stays_within_its_budget(
    verifier: GrantVerifier, keys: Keys
) -> None:
    # The longest ids the schemas allow: the grant must still fit its QR version.
    longest = claims(iss="n" * 64, aud="L" * 64, cmp="C" * 32, act=GrantAction.DROPOFF)
    tok = encode_grant(longest, kid=b64url(b"k" * 32), key=keys.private["k1"])
    assert len(tok) <= MAX_ISSUED_CHARS
    text = qr_payload(token(keys))
    assert text.startswith(QR_PREFIX)
    assert verifier.verify(token_from_qr(text), locker_id=LOCKER).cmp == "A03"
    with pytest.raises(GrantRefused) as caught:
        token_from_qr(text.removeprefix(QR_PREFIX))
    assert caught.value.reason is GrantRefusal.MALFORMED


def test_the_issuer_refuses_to_sign_an_oversized_grant(keys: Keys) -> None:
    with pytest.raises(ValueError, match="exceeds"):
        token(keys, sub="s" * 600)
