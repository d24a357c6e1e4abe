"""One carrier integration, many networks: configure each from its base URL, search lockers
across all of them, book in any, follow a parcel's redirects from one network to another.

    async with await Networks.connect([
        Account("https://lockers.example.net", carrier_id="acme", private_key=key, kid="k1"),
        Account("https://paczki.example.pl", carrier_id="acme-pl", private_key=key, kid="k1"),
    ]) as networks:
        found = await networks.search_lockers(near=(52.23, 21.01), size_class="M")
        booked = await networks.book_nearest("ACME-1", near=(52.23, 21.01), size_class="M")
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol, TypeVar

from gateway.client.async_client import CarrierClient
from gateway.client.discovery import DiscoveryCache
from gateway.client.errors import CarrierApiError, CarrierClientError
from gateway.client.retry import RetryPolicy
from gateway.client.signing import DEFAULT_RETRY
from gateway.client.tokens import PrivateKey
from gateway.wire import LockerOut, ParcelOut

__all__ = ["Account", "LockerSearch", "NetworkLocker", "NetworkParcel", "Networks"]


@dataclass(frozen=True, slots=True)
class Account:
    """The carrier at one network: the network's base URL, the carrier's id and key there."""

    base_url: str
    carrier_id: str
    private_key: PrivateKey = field(repr=False)
    kid: str


@dataclass(frozen=True, slots=True)
class NetworkLocker:
    network_id: str
    locker: LockerOut


@dataclass(frozen=True, slots=True)
class NetworkParcel:
    network_id: str
    parcel: ParcelOut


@dataclass(frozen=True, slots=True)
class LockerSearch:
    """Lockers of every network that answered (nearest first when searched near a point), and
    why the others did not: one network down never hides the rest."""

    lockers: list[NetworkLocker]
    failures: dict[str, CarrierClientError]


class _OfNetwork(Protocol):
    @property
    def network_id(self) -> str: ...


C = TypeVar("C", bound=_OfNetwork)


def by_network(clients: Sequence[C]) -> dict[str, C]:
    """`clients` keyed by their network id; two clients for one network are refused."""
    keyed: dict[str, C] = {}
    for client in clients:
        if client.network_id in keyed:
            raise ValueError(f"two clients for network {client.network_id!r}")
        keyed[client.network_id] = client
    return keyed


def client_of(clients: Mapping[str, C], network_id: str) -> C:
    try:
        return clients[network_id]
    except KeyError:
        raise KeyError(f"no network {network_id!r}; known: {sorted(clients)}") from None


def redirect_key(network_id: str, parcel_id: str, new_parcel_id: str) -> str:
    """The Idempotency-Key of a redirect into another network: the same redirect asked twice
    books once in the target network (SPEC §6)."""
    digest = hashlib.sha256(f"{network_id}\0{parcel_id}\0{new_parcel_id}".encode()).hexdigest()
    return f"redirect-{digest[:40]}"


def redirect_booking(old: ParcelOut) -> dict[str, Any]:
    """The booking members of `old`'s successor in another network (its size, dimensions,
    weight, reference); only a parcel waiting for pickup is redirected."""
    if old.state != "ready_for_pickup":
        raise CarrierApiError(
            409,
            {
                "code": "IllegalTransition",
                "detail": f"{old.parcel_id} is {old.state}: only a parcel ready_for_pickup "
                "is redirected (refused by the client)",
            },
        )
    requested = old.requested
    members: dict[str, Any] = {
        "size_class": requested.size_class,
        "dimensions_mm": requested.dimensions_mm,
        "weight_g": requested.weight_g,
        "reference": old.reference,
    }
    return {name: value for name, value in members.items() if value is not None}


def merge_search(
    answers: Mapping[str, list[NetworkLocker] | BaseException], *, nearest_first: bool
) -> LockerSearch:
    """Every network's lockers in one list; a network that failed the client's way
    (CarrierClientError) is a failure, anything else a bug that is raised."""
    lockers: list[NetworkLocker] = []
    failures: dict[str, CarrierClientError] = {}
    for network_id, answer in answers.items():
        if isinstance(answer, CarrierClientError):
            failures[network_id] = answer
        elif isinstance(answer, BaseException):
            raise answer
        else:
            lockers.extend(answer)
    if nearest_first:
        lockers.sort(key=lambda f: (f.locker.distance_m or 0.0, f.network_id, f.locker.id))
    else:
        lockers.sort(key=lambda f: (f.network_id, f.locker.id))
    return LockerSearch(lockers, failures)


def no_room(
    networks: Sequence[str], search: LockerSearch, near: object, size: str
) -> CarrierApiError:
    """What `book_nearest` raises when no locker of any network was found at all."""
    return CarrierApiError(
        409,
        {
            "code": "NoCompartmentAvailable",
            "detail": f"no locker of {sorted(networks)} near {near} takes {size}",
            "failures": {n: str(e) for n, e in search.failures.items()},
        },
    )


class Networks:
    """Carrier clients keyed by network id (each network's `networkId`)."""

    def __init__(self, clients: Sequence[CarrierClient]) -> None:
        self._clients = by_network(clients)

    @classmethod
    async def connect(
        cls,
        accounts: Sequence[Account],
        *,
        cache: DiscoveryCache | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        timeout_s: float = 30.0,
    ) -> Networks:
        """Discover every network at once (through `cache`, a new one if None)."""
        shared = cache or DiscoveryCache()

        async def one(account: Account) -> CarrierClient:
            return await CarrierClient.discover(
                account.base_url,
                carrier_id=account.carrier_id,
                private_key=account.private_key,
                kid=account.kid,
                timeout_s=timeout_s,
                retry=retry,
                cache=shared,
            )

        results = await asyncio.gather(*(one(a) for a in accounts), return_exceptions=True)
        clients = [r for r in results if isinstance(r, CarrierClient)]
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            await asyncio.gather(*(c.aclose() for c in clients))
            raise failed[0]
        try:
            return cls(clients)
        except ValueError:
            await asyncio.gather(*(c.aclose() for c in clients))
            raise

    async def __aenter__(self) -> Networks:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self._clients.values()))

    def __getitem__(self, network_id: str) -> CarrierClient:
        return client_of(self._clients, network_id)

    def __iter__(self) -> Iterator[str]:
        return iter(self._clients)

    def __len__(self) -> int:
        return len(self._clients)

    # ---- lockers ----------------------------------------------------------------------------

    async def search_lockers(
        self,
        *,
        near: tuple[float, float] | None = None,
        radius_m: int | None = None,
        size_class: str | None = None,
        max_per_network: int = 200,
    ) -> LockerSearch:
        """Lockers of all networks, asked concurrently; with `near`, nearest first across
        networks (each network measures its own `distanceM`), else by network and id."""

        async def one(client: CarrierClient) -> list[NetworkLocker]:
            found: list[NetworkLocker] = []
            pages = client.iter_lockers(near=near, radius_m=radius_m, size_class=size_class)
            async with aclosing(pages):
                async for locker in pages:
                    found.append(NetworkLocker(client.network_id, locker))
                    if len(found) >= max_per_network:
                        break
            return found

        ids = list(self._clients)
        answers = await asyncio.gather(
            *(one(self._clients[n]) for n in ids), return_exceptions=True
        )
        return merge_search(dict(zip(ids, answers, strict=True)), nearest_first=near is not None)

    # ---- booking ----------------------------------------------------------------------------

    async def book(
        self, network_id: str, parcel_id: str, *, locker_id: str, **members: Any
    ) -> NetworkParcel:
        parcel = await self[network_id].book(parcel_id, locker_id=locker_id, **members)
        return NetworkParcel(network_id, parcel)

    async def book_nearest(
        self,
        parcel_id: str,
        *,
        near: tuple[float, float],
        size_class: str,
        radius_m: int | None = None,
        **members: Any,
    ) -> NetworkParcel:
        """Book at the nearest locker of any network that has room: candidates are tried
        nearest first, and one that filled up meanwhile (409 NoCompartmentAvailable) passes
        the parcel to the next. Raises the last refusal when none took it."""
        search = await self.search_lockers(near=near, radius_m=radius_m, size_class=size_class)
        last: CarrierApiError | None = None
        for candidate in search.lockers:
            try:
                return await self.book(
                    candidate.network_id,
                    parcel_id,
                    locker_id=candidate.locker.id,
                    size_class=size_class,
                    **members,
                )
            except CarrierApiError as err:
                if err.code != "NoCompartmentAvailable":
                    raise
                last = err
        if last is not None:
            raise last
        raise no_room(list(self._clients), search, near, size_class)

    # ---- finding parcels and following redirects ----------------------------------------------

    async def find_parcel(
        self, parcel_id: str, *, prefer: str | None = None
    ) -> NetworkParcel | None:
        """The parcel with this id in `prefer` first, then in the other networks."""
        order = sorted(self._clients, key=lambda n: n != prefer)
        for network_id in order:
            try:
                return NetworkParcel(network_id, await self[network_id].parcel(parcel_id))
            except CarrierApiError as err:
                if err.status != 404:
                    raise
        return None

    async def follow(self, network_id: str, parcel_id: str) -> list[NetworkParcel]:
        """The parcel and every parcel it was redirected to, in order, whichever network each
        lives in (`redirectedTo` names the next id; its own network is asked first)."""
        first = NetworkParcel(network_id, await self[network_id].parcel(parcel_id))
        chain = [first]
        seen = {(network_id, parcel_id)}
        while (next_id := chain[-1].parcel.redirected_to) is not None:
            found = await self.find_parcel(next_id, prefer=chain[-1].network_id)
            if found is None or (found.network_id, next_id) in seen:
                break
            seen.add((found.network_id, next_id))
            chain.append(found)
        return chain

    async def redirect(
        self,
        network_id: str,
        parcel_id: str,
        *,
        to_network: str,
        locker_id: str,
        new_parcel_id: str,
        idempotency_key: str | None = None,
    ) -> NetworkParcel:
        """Send a waiting parcel to a locker of any network; answers the new parcel.

        In the parcel's own network this is `POST .../redirect` (the old parcel becomes
        `redirected`). Into another network the client books the new parcel there with the
        old one's size, dimensions, weight and reference, under a key derived from the
        redirect (asking twice books once); the old network is not told (it has no
        redirect to a foreign locker yet), so the old parcel stays `ready_for_pickup` until
        it expires and a courier collects it.
        """
        if to_network == network_id:
            new = await self[network_id].redirect(
                parcel_id,
                locker_id=locker_id,
                new_parcel_id=new_parcel_id,
                idempotency_key=idempotency_key,
            )
            return NetworkParcel(network_id, new)
        target = self[to_network]
        members = redirect_booking(await self[network_id].parcel(parcel_id))
        key = idempotency_key or redirect_key(network_id, parcel_id, new_parcel_id)
        new = await target.book(new_parcel_id, locker_id=locker_id, idempotency_key=key, **members)
        return NetworkParcel(to_network, new)
