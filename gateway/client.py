"""A small Python client for carriers: signs each request with the carrier's own key.

client = await CarrierClient.discover(base_url, carrier_id="acme", private_key=key, kid="k1")
parcel = await client.book("ACME-1", locker_id="WAW-1", size_class="S")
results = await client.book_batch([{"parcelId": "ACME-2", "lockerId": "WAW-1", "sizeClass": "S"}])

`discover` reads the network's /.well-known/olp-configuration (API URL, network id as the
token audience, limits, features); `CarrierClient(base_url, ..., audience=...)` skips it.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


DISCOVERY_PATH = "/.well-known/olp-configuration"


@dataclass(frozen=True, slots=True)
class NetworkConfiguration:
    """A network's discovery document (schemas/v1/discovery.json), as fetched."""

    document: dict[str, Any]

    @property
    def network_id(self) -> str:
        return str(self.document["networkId"])

    @property
    def api_url(self) -> str:
        return str(self.document["endpoints"]["api"])

    @property
    def jwks_uri(self) -> str:
        return str(self.document["endpoints"]["jwksUri"])

    @property
    def features(self) -> frozenset[str]:
        return frozenset(self.document["features"])

    @property
    def limits(self) -> dict[str, int]:
        return dict(self.document["limits"])

    def supports(self, feature: str) -> bool:
        return feature in self.features


async def discover(base_url: str, *, timeout_s: float = 30.0) -> NetworkConfiguration:
    """Fetch the discovery document of the network at `base_url` (no credentials needed)."""
    async with httpx.AsyncClient(timeout=timeout_s, transport=nodelay_transport()) as http:
        response = await http.get(base_url.rstrip("/") + DISCOVERY_PATH)
        if response.status_code >= 400:
            raise CarrierApiError(response.status_code, _problem(response))
        return NetworkConfiguration(response.json())


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    return body if isinstance(body, dict) else {"detail": response.text[:200]}


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
        network: NetworkConfiguration | None = None,
    ) -> None:
        self.network = network  # set when built by `discover`
        self._http = httpx.AsyncClient(
            base_url=base_url, timeout=timeout_s, transport=nodelay_transport()
        )
        self._carrier_id = carrier_id
        self._key = private_key
        self._kid = kid
        self._audience = audience
        self._clock = clock
        self._alg = "EdDSA" if isinstance(private_key, ed25519.Ed25519PrivateKey) else "ES256"

    @classmethod
    async def discover(
        cls,
        base_url: str,
        *,
        carrier_id: str,
        private_key: PrivateKey,
        kid: str,
        timeout_s: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> CarrierClient:
        """A client configured from the network's discovery document: its API URL, its
        network id as the tokens' audience, its limits; refused if the network does not
        accept tokens signed with this key's algorithm."""
        network = await discover(base_url, timeout_s=timeout_s)
        client = cls(
            network.api_url,
            carrier_id=carrier_id,
            private_key=private_key,
            kid=kid,
            audience=network.network_id,
            timeout_s=timeout_s,
            clock=clock,
            network=network,
        )
        accepted = network.document["algorithms"]["carrierTokens"]
        if client._alg not in accepted:
            await client._http.aclose()
            raise ValueError(f"network accepts {accepted} carrier tokens, not {client._alg}")
        return client

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
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        idempotent: bool = True,
        idempotency_key: str | None = None,
    ) -> Any:
        """One signed request; a POST carries `idempotency_key` (a fresh one if None)."""
        headers = {"Authorization": f"Bearer {self.token()}"}
        if method == "POST" and idempotent:
            headers["Idempotency-Key"] = idempotency_key or uuid.uuid4().hex
        response = await self._http.request(method, path, json=body, headers=headers)
        if response.status_code >= 400:
            raise CarrierApiError(response.status_code, _problem(response))
        return response.json() if response.content else None

    async def book(self, parcel_id: str, *, locker_id: str, size_class: str, **extra: Any) -> Any:
        body = {"parcelId": parcel_id, "lockerId": locker_id, "sizeClass": size_class, **extra}
        return await self.request("POST", "/v1/parcels", body)

    async def book_batch(
        self, parcels: Sequence[dict[str, Any]], *, idempotency_key: str | None = None
    ) -> Any:
        """Book many parcels at once (POST /v1/parcels:batch); the answer holds one item per
        parcel, in order, each booked (201, `parcel`) or refused (`problem`). Send the same
        `idempotency_key` again to retry safely: the answer is replayed, nothing is booked
        twice. A batch over the network's published limit is refused here, before sending."""
        limit = self.network.limits.get("batchMaxItems") if self.network else None
        if limit is not None and len(parcels) > limit:
            raise ValueError(f"this network takes at most {limit} parcels per batch")
        body = {"parcels": list(parcels)}
        return await self.request(
            "POST", "/v1/parcels:batch", body, idempotency_key=idempotency_key
        )

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
