"""Checking the webhooks a network POSTs to a carrier (SPEC §10 "The signature").

    verifier = WebhookVerifier.for_network(client.network, carrier_id="acme")
    event = await verifier.verify(raw_body, request.headers)  # WebhookSignatureError if forged
    if seen.add(event.event_id): ...                           # dedupe on eventId is yours

The body must be the raw bytes as received, before any JSON parsing.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from gateway.client.discovery import NetworkConfiguration
from gateway.client.errors import WebhookSignatureError
from gateway.client.models import UnreadableAnswer, read
from gateway.wire import WebhookEventOut, WireModel
from gateway.wire.bundles import WebhookBundleEventOut
from gateway.wire.courier import WebhookCourierEventOut
from gateway.wire.holds import WebhookHoldEventOut
from gateway.wire.webhooks import WebhookLockerEventOut

__all__ = [
    "SIGNATURE_HEADER",
    "WEBHOOK_JWS_TYPE",
    "OtherEvent",
    "WebhookEvent",
    "WebhookVerifier",
    "parse_event",
    "verify_signature",
]

SIGNATURE_HEADER = "OLP-Signature"
WEBHOOK_JWS_TYPE = "olp-webhook+jws"


class UnknownSigningKey(WebhookSignatureError):
    """The signature names a `kid` the key set does not hold (fetch the set again)."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signature_header(signature: str) -> dict[str, Any]:
    """The JWS header of an `OLP-Signature`, checked for shape, `alg` and `typ` only."""
    parts = signature.strip().split(".")
    if len(parts) != 3 or parts[1] != "" or not parts[0] or not parts[2]:
        raise WebhookSignatureError("OLP-Signature is not a detached JWS (header..signature)")
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except (ValueError, binascii.Error) as err:
        raise WebhookSignatureError("OLP-Signature header is not base64url JSON") from err
    if not isinstance(header, dict):
        raise WebhookSignatureError("OLP-Signature header is not a JSON object")
    if header.get("alg") != "EdDSA":
        raise WebhookSignatureError(f"alg {header.get('alg')!r} refused: only EdDSA")
    if header.get("typ") != WEBHOOK_JWS_TYPE:
        raise WebhookSignatureError(f"typ {header.get('typ')!r} refused: not {WEBHOOK_JWS_TYPE}")
    if not isinstance(header.get("kid"), str):
        raise WebhookSignatureError("OLP-Signature header names no kid")
    return header


def verify_signature(body: bytes, signature: str, jwks: Mapping[str, Any]) -> dict[str, Any]:
    """Check `signature` (the OLP-Signature value) over the raw `body` with the network's key
    set; returns the JWS header. Raises WebhookSignatureError (UnknownSigningKey for a kid
    not in `jwks`)."""
    header = signature_header(signature)
    keys = {
        k.get("kid"): k
        for k in jwks.get("keys", [])
        if isinstance(k, dict) and k.get("kty") == "OKP" and k.get("crv") == "Ed25519"
    }
    jwk = keys.get(header["kid"])
    if jwk is None:
        raise UnknownSigningKey(f"no network key {header['kid']!r}")
    first, _, last = signature.strip().split(".")
    token = f"{first}.{_b64url(body)}.{last}"
    try:
        key = jwt.PyJWK.from_dict(jwk, algorithm="EdDSA").key
        jwt.PyJWS().decode(token, key=key, algorithms=["EdDSA"])
    except jwt.PyJWTError as err:
        raise WebhookSignatureError(f"signature does not verify: {err}") from err
    return header


@dataclass(frozen=True, slots=True)
class OtherEvent:
    """An event of a type this client does not know (a later 1.x added it): its id and type
    for dedupe and routing, the body as JSON (SPEC §1: ignore what you do not know)."""

    event_id: str
    type: str
    data: dict[str, Any]


WebhookEvent = (
    WebhookEventOut
    | WebhookLockerEventOut
    | WebhookHoldEventOut
    | WebhookBundleEventOut
    | WebhookCourierEventOut
    | OtherEvent
)

# The body of each event family, by the prefix of its `type`.
_BODIES: dict[str, type[WireModel]] = {
    "parcel.": WebhookEventOut,
    "locker.": WebhookLockerEventOut,
    "hold.": WebhookHoldEventOut,
    "bundle.": WebhookBundleEventOut,
    "courier.": WebhookCourierEventOut,
}


def parse_event(body: bytes) -> WebhookEvent:
    """The typed event of a verified body: `parcel.*`, the network events `locker.*`,
    `hold.*`, `bundle.*`, `courier.*`; any other type as an OtherEvent."""
    try:
        data = json.loads(body)
        if not isinstance(data, dict):
            raise UnreadableAnswer("not a JSON object")
        kind = str(data.get("type", ""))
        for prefix, model in _BODIES.items():
            if kind.startswith(prefix):
                event: WebhookEvent = read(model, data)  # type: ignore[assignment]
                return event
        return OtherEvent(str(data["eventId"]), kind, data)
    except (ValueError, KeyError, UnreadableAnswer) as err:
        raise WebhookSignatureError(f"verified body is not an OLP event: {err}") from err


class WebhookVerifier:
    """Verifies one network's webhook requests, keeping its key set (`jwksUri`) and fetching
    it again when a signature names an unknown `kid`, at most once per `refetch_after_s`."""

    def __init__(
        self,
        jwks_uri: str,
        *,
        carrier_id: str | None = None,
        keys: Mapping[str, Any] | None = None,
        refetch_after_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        timeout_s: float = 10.0,
    ) -> None:
        self.jwks_uri = jwks_uri
        self.carrier_id = carrier_id
        self._keys: Mapping[str, Any] | None = keys
        self._refetch_after_s = refetch_after_s
        self._clock = clock
        self._timeout_s = timeout_s
        self._fetched_at: float | None = None
        self.fetches = 0

    @classmethod
    def for_network(
        cls, network: NetworkConfiguration, *, carrier_id: str | None = None
    ) -> WebhookVerifier:
        return cls(network.jwks_uri, carrier_id=carrier_id)

    def _may_fetch(self) -> bool:
        return self._fetched_at is None or (
            self._clock() - self._fetched_at >= self._refetch_after_s
        )

    def _took(self, response: httpx.Response) -> None:
        self._fetched_at = self._clock()
        self.fetches += 1
        response.raise_for_status()
        self._keys = response.json()

    async def _refresh(self) -> None:
        async with httpx.AsyncClient(timeout=self._timeout_s) as http:
            self._took(await http.get(self.jwks_uri))

    def _refresh_sync(self) -> None:
        with httpx.Client(timeout=self._timeout_s) as http:
            self._took(http.get(self.jwks_uri))

    def _signature(self, headers: Mapping[str, str]) -> str:
        lowered = {k.lower(): v for k, v in headers.items()}
        value = lowered.get(SIGNATURE_HEADER.lower())
        if not value:
            raise WebhookSignatureError("no OLP-Signature header")
        return value

    def _event(self, body: bytes) -> WebhookEvent:
        event = parse_event(body)
        carrier = getattr(event, "carrier_id", None)
        if self.carrier_id is not None and carrier is not None and carrier != self.carrier_id:
            raise WebhookSignatureError(f"event for carrier {carrier!r}, not {self.carrier_id!r}")
        return event

    async def verify(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        """The event, once its signature holds; WebhookSignatureError otherwise."""
        signature = self._signature(headers)
        signature_header(signature)  # a forged alg/typ costs no key fetch
        if self._keys is None:
            await self._refresh()
        try:
            verify_signature(body, signature, self._keys or {})
        except UnknownSigningKey:
            if not self._may_fetch():
                raise
            await self._refresh()  # a rotation: the new key is published before it signs
            verify_signature(body, signature, self._keys or {})
        return self._event(body)

    def verify_sync(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        """`verify`, blocking."""
        signature = self._signature(headers)
        signature_header(signature)
        if self._keys is None:
            self._refresh_sync()
        try:
            verify_signature(body, signature, self._keys or {})
        except UnknownSigningKey:
            if not self._may_fetch():
                raise
            self._refresh_sync()
            verify_signature(body, signature, self._keys or {})
        return self._event(body)
