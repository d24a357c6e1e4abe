"""Which adapter drives which locker: the running adapter instances, by adapter name."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from gateway.errors import NotSupported, Unavailable
from gateway.sdk import LockerAdapter
from gateway.store import Store


class AdapterDirectory:
    def __init__(self, *, store: Store, adapters: Mapping[str, LockerAdapter]) -> None:
        self._store = store
        self._adapters = dict(adapters)
        self._locker_adapter: dict[str, str] = {}
        # Bus-bound adapters configured here; running only while this instance holds the lease.
        self._leased: set[str] = set()

    def leased(self, name: str) -> None:
        """`name` is bus-bound: while it is not running here, another instance drives it."""
        self._leased.add(name)

    def add(self, name: str, adapter: LockerAdapter) -> None:
        self._adapters[name] = adapter

    def remove(self, name: str) -> None:
        """The adapter stopped (this instance lost its bus lease): its lockers are not ours."""
        self._adapters.pop(name, None)

    @property
    def running(self) -> Mapping[str, LockerAdapter]:
        return self._adapters

    async def learn(self, locker_ids: Iterable[str]) -> None:
        """Know the adapter of all these lockers with one query, not one transaction each
        (key distribution to thousands of lockers after a boot storm)."""
        if all(locker_id in self._locker_adapter for locker_id in locker_ids):
            return
        async with self._store.transaction() as tx:
            lockers = await tx.lockers.list()
        for locker in lockers:
            self._locker_adapter.setdefault(locker.id, locker.adapter)

    async def for_locker(self, locker_id: str) -> LockerAdapter:
        name = self._locker_adapter.get(locker_id)
        if name is None:
            async with self._store.transaction() as tx:
                locker = await tx.lockers.get(locker_id)
            if locker is None:
                raise Unavailable(f"locker {locker_id!r} is not provisioned")
            name = self._locker_adapter[locker_id] = locker.adapter
        adapter = self._adapters.get(name)
        if adapter is None and name in self._leased:
            # The carrier may retry: its next request may reach the owner (ROADMAP).
            raise Unavailable(
                f"locker {locker_id!r} is on bus adapter {name!r}, which another gateway "
                "instance drives (it holds the bus lease)"
            )
        if adapter is None:
            raise NotSupported(
                f"locker {locker_id!r} needs adapter {name!r}, which this gateway does not run"
            )
        return adapter
