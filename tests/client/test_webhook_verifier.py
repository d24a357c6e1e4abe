"""The webhook signature helper against what a real gateway sends, and against forgeries."""

from __future__ import annotations

import json

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from gateway.client import CarrierClient, WebhookSignatureError, WebhookVerifier, verify_signature
from gateway.wire import WebhookEventOut
from tests.http.conftest import Site
from tests.webhooks.conftest import FakeCarrier, Received


def forge(body: bytes, *, kid: str, typ: str = "olp-webhook+jws", alg: str = "EdDSA") -> str:
    """A well-formed detached JWS signed with a key that is not the network's."""
    key = ed25519.Ed25519PrivateKey.generate()
    whole = jwt.PyJWS().encode(body, key, algorithm="EdDSA", headers={"kid": kid, "typ": typ})
    first, _, last = whole.split(".")
    if alg != "EdDSA":  # re-label the header only; the signature no longer matters
        header = json.loads(jwt.utils.base64url_decode(first))
        first = jwt.utils.base64url_encode(json.dumps(header | {"alg": alg}).encode()).decode()
    return f"{first}..{last}"


async def test_what_the_gateway_signs_verifies_and_nothing_else_does(
    site: Site, acme: CarrierClient
) -> None:
    config = await acme.configuration()
    async with FakeCarrier() as receiver:
        await acme.subscribe(receiver.url())
        await acme.book("HOOK-1", locker_id="WAW-CENTRAL-01", size_class="S")
        await acme.cancel("HOOK-1")
        await receiver.wait_for(3)  # announced, reserved, cancelled
    verifier = WebhookVerifier.for_network(config, carrier_id="acme")
    requests: list[Received] = receiver.delivered()
    events = [await verifier.verify(r.body, r.headers) for r in requests]
    assert all(isinstance(e, WebhookEventOut) for e in events)
    assert [e.type for e in events] == ["parcel.announced", "parcel.reserved", "parcel.cancelled"]
    assert {e.parcel.parcel_id for e in events if isinstance(e, WebhookEventOut)} == {"HOOK-1"}
    assert verifier.fetches == 1  # the key set was fetched once and kept

    real = requests[-1]
    signature = real.headers["olp-signature"]
    kid = str(jwt.get_unverified_header(signature.replace("..", ".e30."))["kid"])
    tampered = real.body.replace(b"HOOK-1", b"HOOK-2")
    with pytest.raises(WebhookSignatureError, match="does not verify"):
        await verifier.verify(tampered, real.headers)
    with pytest.raises(WebhookSignatureError, match="does not verify"):
        await verifier.verify(real.body, {"OLP-Signature": forge(real.body, kid=kid)})
    with pytest.raises(WebhookSignatureError, match="only EdDSA"):
        await verifier.verify(real.body, {"OLP-Signature": forge(real.body, kid=kid, alg="none")})
    with pytest.raises(WebhookSignatureError, match="typ"):
        await verifier.verify(real.body, {"OLP-Signature": forge(real.body, kid=kid, typ="JWT")})
    with pytest.raises(WebhookSignatureError, match="detached"):
        await verifier.verify(real.body, {"OLP-Signature": signature.replace("..", ".x.")})
    with pytest.raises(WebhookSignatureError, match="no OLP-Signature"):
        await verifier.verify(real.body, {})
    assert verifier.fetches == 1

    # An unknown kid (a rotation?) fetches the set again, once a minute at most.
    with pytest.raises(WebhookSignatureError, match="no network key"):
        await verifier.verify(real.body, {"OLP-Signature": forge(real.body, kid="next")})
    assert verifier.fetches == 1  # fetched under a minute ago: not again
    eager = WebhookVerifier(config.jwks_uri, refetch_after_s=0)
    await eager.verify(real.body, real.headers)
    with pytest.raises(WebhookSignatureError, match="no network key"):
        await eager.verify(real.body, {"OLP-Signature": forge(real.body, kid="next")})
    assert eager.fetches == 2

    # A genuine event for another carrier is not this receiver's.
    other = WebhookVerifier(config.jwks_uri, carrier_id="globex")
    with pytest.raises(WebhookSignatureError, match="carrier 'acme'"):
        await other.verify(real.body, real.headers)

    # The plain function: the same check with a key set in hand.
    keys = await acme.network_keys()
    assert verify_signature(real.body, signature, keys)["kid"] == kid
