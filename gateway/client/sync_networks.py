"""`Networks`, blocking: the same search, bookings and redirects over `SyncCarrierClient`s.

with SyncNetworks.connect([Account(url_a, "acme", key, "k1"), ...]) as networks:
    booked = networks.book_nearest("ACME-1", near=(52.23, 21.01), size_class="M")
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any

from gateway.client.discovery import DiscoveryCache
from gateway.client.errors import CarrierApiError
from gateway.client.networks import (
    Account,
    LockerSearch,
    NetworkLocker,
    NetworkParcel,
    by_network,
    client_of,
    merge_search,
    no_room,
    redirect_booking,
    redirect_key,
)
from gateway.client.retry import RetryPolicy
from gateway.client.signing import DEFAULT_RETRY
from gateway.client.sync_client import SyncCarrierClient

__all__ = ["SyncNetworks"]


class SyncNetworks:
    """Blocking carrier clients keyed by network id; networks are asked in parallel threads."""

    def __init__(self, clients: Sequence[SyncCarrierClient]) -> None:
        self._clients = by_network(clients)

    @classmethod
    def connect(
        cls,
        accounts: Sequence[Account],
        *,
        cache: DiscoveryCache | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        timeout_s: float = 30.0,
    ) -> SyncNetworks:
        shared = cache or DiscoveryCache()
        clients: list[SyncCarrierClient] = []
        try:
            for account in accounts:
                clients.append(
                    SyncCarrierClient.discover(
                        account.base_url,
                        carrier_id=account.carrier_id,
                        private_key=account.private_key,
                        kid=account.kid,
                        timeout_s=timeout_s,
                        retry=retry,
                        cache=shared,
                    )
                )
            return cls(clients)
        except BaseException:
            for client in clients:
                client.close()
            raise

    def __enter__(self) -> SyncNetworks:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

    def __getitem__(self, network_id: str) -> SyncCarrierClient:
        return client_of(self._clients, network_id)

    def __iter__(self) -> Iterator[str]:
        return iter(self._clients)

    def __len__(self) -> int:
        return len(self._clients)

    def search_lockers(
        self,
        *,
        near: tuple[float, float] | None = None,
        radius_m: int | None = None,
        size_class: str | None = None,
        max_per_network: int = 200,
    ) -> LockerSearch:
        """As `Networks.search_lockers`: every network at once, nearest first with `near`."""

        def one(client: SyncCarrierClient) -> list[NetworkLocker] | BaseException:
            found: list[NetworkLocker] = []
            try:
                for locker in client.iter_lockers(
                    near=near, radius_m=radius_m, size_class=size_class
                ):
                    found.append(NetworkLocker(client.network_id, locker))
                    if len(found) >= max_per_network:
                        break
            except Exception as err:  # merge_search: a client error is a failure, else raised
                return err
            return found

        ids = list(self._clients)
        with ThreadPoolExecutor(max_workers=max(1, len(ids))) as pool:
            answers = list(pool.map(one, (self._clients[n] for n in ids)))
        return merge_search(dict(zip(ids, answers, strict=True)), nearest_first=near is not None)

    def book(
        self, network_id: str, parcel_id: str, *, locker_id: str, **members: Any
    ) -> NetworkParcel:
        return NetworkParcel(
            network_id, self[network_id].book(parcel_id, locker_id=locker_id, **members)
        )

    def book_nearest(
        self,
        parcel_id: str,
        *,
        near: tuple[float, float],
        size_class: str,
        radius_m: int | None = None,
        **members: Any,
    ) -> NetworkParcel:
        """As `Networks.book_nearest`."""
        search = self.search_lockers(near=near, radius_m=radius_m, size_class=size_class)
        last: CarrierApiError | None = None
        for candidate in search.lockers:
            try:
                return self.book(
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

    def find_parcel(self, parcel_id: str, *, prefer: str | None = None) -> NetworkParcel | None:
        for network_id in sorted(self._clients, key=lambda n: n != prefer):
            try:
                return NetworkParcel(network_id, self[network_id].parcel(parcel_id))
            except CarrierApiError as err:
                if err.status != 404:
                    raise
        return None

    def follow(self, network_id: str, parcel_id: str) -> list[NetworkParcel]:
        """As `Networks.follow`: the parcel and every parcel it was redirected to."""
        chain = [NetworkParcel(network_id, self[network_id].parcel(parcel_id))]
        seen = {(network_id, parcel_id)}
        while (next_id := chain[-1].parcel.redirected_to) is not None:
            found = self.find_parcel(next_id, prefer=chain[-1].network_id)
            if found is None or (found.network_id, next_id) in seen:
                break
            seen.add((found.network_id, next_id))
            chain.append(found)
        return chain

    def redirect(
        self,
        network_id: str,
        parcel_id: str,
        *,
        to_network: str,
        locker_id: str,
        new_parcel_id: str,
        idempotency_key: str | None = None,
    ) -> NetworkParcel:
        """As `Networks.redirect` (into another network the old one is not told yet)."""
        if to_network == network_id:
            new = self[network_id].redirect(
                parcel_id,
                locker_id=locker_id,
                new_parcel_id=new_parcel_id,
                idempotency_key=idempotency_key,
            )
            return NetworkParcel(network_id, new)
        members = redirect_booking(self[network_id].parcel(parcel_id))
        key = idempotency_key or redirect_key(network_id, parcel_id, new_parcel_id)
        new = self[to_network].book(
            new_parcel_id, locker_id=locker_id, idempotency_key=key, **members
        )
        return NetworkParcel(to_network, new)
