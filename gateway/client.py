"""A small Python client for carriers: signs each request with the carrier's own key.

client = CarrierClient(base_url, carrier_id="acme", private_key=key, kid="k1",
                       audience="openlocker-local")
parcel = await client.book("ACME-1", locker_id="WAW-1", size_class="S")
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey


def nodelay_transport(limits: httpx.Limits | None = None) -> httpx.AsyncHTTPTransport:
    """An httpx transport with TCP_NODELAY: a POST's headers and body leave in separate
    writes, and Nagle's algorithm with delayed ACKs would hold the body back ~40 ms."""
    return httpx.AsyncHTTPTransport(
        limits=limits or httpx.Limits(),
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
    )


class CarrierApiError(Exception):
    """An RFC 9457 problem answered by the gateway."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(f"{status} {problem.get('code')}: {problem.get('detail')}")
        self.status = status
        self.problem = problem


class CarrierClient:
    def __init__(
        self,
        base_url: str,
        *,
        carrier_id: str,
        private_key: PrivateKey,
        kid: str,
        audience: str,
        timeout_s: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url, timeout=timeout_s, transport=nodelay_transport()
        )
        self._carrier_id = carrier_id
        self._key = private_key
        self._kid = kid
        self._audience = audience
        self._clock = clock
        self._alg = "EdDSA" if isinstance(private_key, ed25519.Ed25519PrivateKey) else "ES256"

    async def __aenter__(self) -> CarrierClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._http.aclose()

    def token(self, lifetime_s: int = 120) -> str:
        """A fresh single-use request token (new `jti` every time)."""
        now = int(self._clock())
        claims = {
            "iss": self._carrier_id,
            "aud": self._audience,
            "iat": now,
            "exp": now + lifetime_s,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._key, algorithm=self._alg, headers={"kid": self._kid})

    async def request(
        self, method: str, path: str, body: Any = None, *, idempotent: bool = True
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.token()}"}
        if method == "POST" and idempotent:
            headers["Idempotency-Key"] = uuid.uuid4().hex
        response = await self._http.request(method, path, json=body, headers=headers)
        if response.status_code >= 400:
            raise CarrierApiError(response.status_code, response.json())
        return response.json() if response.content else None

    async def book(self, parcel_id: str, *, locker_id: str, size_class: str, **extra: Any) -> Any:
        body = {"parcelId": parcel_id, "lockerId": locker_id, "sizeClass": size_class, **extra}
        return await self.request("POST", "/v1/parcels", body)

    async def parcel(self, parcel_id: str) -> Any:
        return await self.request("GET", f"/v1/parcels/{parcel_id}")

    async def events(self, parcel_id: str) -> Any:
        return await self.request("GET", f"/v1/parcels/{parcel_id}/events")

    async def open_door(self, parcel_id: str) -> Any:
        return await self.request("POST", f"/v1/parcels/{parcel_id}/open", {})

    async def code(self, parcel_id: str) -> Any:
        return await self.request("POST", f"/v1/parcels/{parcel_id}/codes", {}, idempotent=False)

    async def grant(self, parcel_id: str) -> Any:
        """A signed access grant for the parcel's next door opening (QR text in `qr`)."""
        return await self.request("POST", f"/v1/parcels/{parcel_id}/grants", {}, idempotent=False)
