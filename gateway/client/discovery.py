"""A network's discovery document (SPEC §13.1) and a cache of them that honours Cache-Control."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from gateway.client.errors import CarrierApiError, NetworkUnreachable, problem_of
from gateway.client.models import read
from gateway.client.transport import nodelay_sync_transport, nodelay_transport
from gateway.wire import OlpConfigurationOut

__all__ = [
    "DISCOVERY_PATH",
    "DiscoveryCache",
    "NetworkConfiguration",
    "discover",
    "discover_sync",
    "freshness_s",
]

DISCOVERY_PATH = "/.well-known/olp-configuration"


@dataclass(frozen=True, slots=True)
class NetworkConfiguration:
    """A network's discovery document (schemas/v1/discovery.json), as fetched."""

    document: dict[str, Any]

    @classmethod
    def from_answer(cls, document: dict[str, Any]) -> NetworkConfiguration:
        config = cls(document)
        config.model  # noqa: B018 - refuse a document that lacks what v1 guarantees
        return config

    @property
    def model(self) -> OlpConfigurationOut:
        """The typed document (members a later 1.x added are left out)."""
        return read(OlpConfigurationOut, self.document)

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

    @property
    def carrier_token_algorithms(self) -> list[str]:
        return list(self.document["algorithms"]["carrierTokens"])

    def supports(self, feature: str) -> bool:
        return feature in self.features


def _url(base_url: str) -> str:
    return base_url.rstrip("/") + DISCOVERY_PATH


def _answer(response: httpx.Response) -> NetworkConfiguration:
    if response.status_code >= 400:
        raise CarrierApiError(response.status_code, problem_of(response))
    return NetworkConfiguration.from_answer(response.json())


async def _fetch(base_url: str, http: httpx.AsyncClient | None, timeout_s: float) -> httpx.Response:
    # Public, no credentials: a network that moved may redirect its document elsewhere.
    try:
        if http is not None:
            return await http.get(_url(base_url), follow_redirects=True)
        async with httpx.AsyncClient(timeout=timeout_s, transport=nodelay_transport()) as own:
            return await own.get(_url(base_url), follow_redirects=True)
    except httpx.TransportError as err:
        raise NetworkUnreachable(_url(base_url), 1, repr(err)) from err


def _fetch_sync(base_url: str, http: httpx.Client | None, timeout_s: float) -> httpx.Response:
    try:
        if http is not None:
            return http.get(_url(base_url), follow_redirects=True)
        with httpx.Client(timeout=timeout_s, transport=nodelay_sync_transport()) as own:
            return own.get(_url(base_url), follow_redirects=True)
    except httpx.TransportError as err:
        raise NetworkUnreachable(_url(base_url), 1, repr(err)) from err


async def discover(
    base_url: str,
    *,
    timeout_s: float = 30.0,
    http: httpx.AsyncClient | None = None,
    cache: DiscoveryCache | None = None,
) -> NetworkConfiguration:
    """The discovery document of the network at `base_url` (no credentials needed); through
    `cache` when given."""
    if cache is not None:
        return await cache.get(base_url, http=http, timeout_s=timeout_s)
    return _answer(await _fetch(base_url, http, timeout_s))


def discover_sync(
    base_url: str,
    *,
    timeout_s: float = 30.0,
    http: httpx.Client | None = None,
    cache: DiscoveryCache | None = None,
) -> NetworkConfiguration:
    """`discover`, blocking."""
    if cache is not None:
        return cache.get_sync(base_url, http=http, timeout_s=timeout_s)
    return _answer(_fetch_sync(base_url, http, timeout_s))


def freshness_s(response: httpx.Response) -> float:
    """How long a private cache may reuse this answer (RFC 9111 §4.2), 0 when it may not:
    `max-age` (or `Expires`) less the `Age` it already had; `no-store`/`no-cache` give 0, and
    so does an answer without either header (no heuristic freshness for a configuration)."""
    if response.status_code != 200:
        return 0.0
    directives: dict[str, str | None] = {}
    for part in response.headers.get("Cache-Control", "").split(","):
        name, _, value = part.strip().partition("=")
        if name:
            directives[name.lower()] = value.strip('"') or None
    if "no-store" in directives or "no-cache" in directives:
        return 0.0
    lifetime: float | None = None
    max_age = directives.get("max-age")
    if max_age is not None and max_age.isdigit():
        lifetime = float(max_age)
    elif "Expires" in response.headers and "Date" in response.headers:
        try:
            expires = parsedate_to_datetime(response.headers["Expires"])
            date = parsedate_to_datetime(response.headers["Date"])
            lifetime = max(0.0, (expires - date).total_seconds())
        except (TypeError, ValueError):
            lifetime = 0.0  # RFC 9111 §5.3: an invalid Expires means "already expired"
    if lifetime is None:
        return 0.0
    age = response.headers.get("Age", "0")
    return max(0.0, lifetime - (float(age) if age.isdigit() else 0.0))


@dataclass(slots=True)
class _Entry:
    config: NetworkConfiguration
    expires: float


class DiscoveryCache:
    """Discovery documents by base URL, each kept as long as its Cache-Control allows.

    One cache serves many clients and networks; concurrent lookups of one network fetch it
    once. `invalidate` drops a document early (SPEC §13.1: fetch it again when an answer
    contradicts it); `fetches` counts the documents actually fetched.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.fetches = 0

    def _key(self, base_url: str) -> str:
        return base_url.rstrip("/")

    def cached(self, base_url: str) -> NetworkConfiguration | None:
        """The document if it is still fresh, without fetching."""
        entry = self._entries.get(self._key(base_url))
        if entry is None or entry.expires <= self._clock():
            return None
        return entry.config

    def invalidate(self, base_url: str) -> None:
        self._entries.pop(self._key(base_url), None)

    def _store(self, base_url: str, response: httpx.Response) -> NetworkConfiguration:
        self.fetches += 1
        config = _answer(response)
        fresh = freshness_s(response)
        if fresh > 0:
            self._entries[self._key(base_url)] = _Entry(config, self._clock() + fresh)
        else:
            self.invalidate(base_url)
        return config

    async def get(
        self, base_url: str, *, http: httpx.AsyncClient | None = None, timeout_s: float = 30.0
    ) -> NetworkConfiguration:
        lock = self._locks.setdefault(self._key(base_url), asyncio.Lock())
        async with lock:
            config = self.cached(base_url)
            if config is None:
                config = self._store(base_url, await _fetch(base_url, http, timeout_s))
            return config

    def get_sync(
        self, base_url: str, *, http: httpx.Client | None = None, timeout_s: float = 30.0
    ) -> NetworkConfiguration:
        config = self.cached(base_url)
        if config is None:
            config = self._store(base_url, _fetch_sync(base_url, http, timeout_s))
        return config
