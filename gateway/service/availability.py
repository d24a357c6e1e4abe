"""Compartment availability at the locker: a compartment the gateway holds out of service is
refused by the locker too (OLP `SetAvailability`), so that what the locker decides alone (an
offline grant) cannot open it. Told when an operator acts, and again after every Boot, which
is how a change made while the locker was offline reaches it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from gateway.clock import Clock, utc_now
from gateway.domain.enums import CompartmentState
from gateway.errors import OpenLockerError
from gateway.sdk import AdapterFeatures, SupportsAvailability
from gateway.service.adapters import AdapterDirectory
from gateway.store import Store

log = logging.getLogger(__name__)
# A locker drops commands until it has processed its Boot's Accepted (as for key sets).
BOOT_SETTLE_S = 0.5
# Lockers reconciled at once after a boot storm; each costs one query and rarely a push.
MAX_CONCURRENT = 32


class AvailabilitySync:
    """`push` after an operator's change; `locker_booted` from the BootGate's listener, worked
    off by `run_forever` (a named background loop)."""

    def __init__(
        self,
        *,
        store: Store,
        adapters: AdapterDirectory,
        push_timeout_s: float = 5.0,
        boot_settle_s: float = BOOT_SETTLE_S,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._adapters = adapters
        self._timeout = timedelta(seconds=push_timeout_s)
        self._settle_s = boot_settle_s
        self._clock = clock
        self._due: dict[str, float] = {}  # booted locker -> loop time to reconcile it
        self._wake = asyncio.Event()

    async def push(self, locker_id: str, code: str, *, available: bool, reason: str | None) -> bool:
        """Tell the locker now; False (logged) if it could not be told: offline, no such
        feature, no answer. The locker's next Boot then brings it in line."""
        try:
            adapter = await self._adapters.for_locker(locker_id)
            if AdapterFeatures.SET_AVAILABILITY not in adapter.features or not isinstance(
                adapter, SupportsAvailability
            ):
                return False
            await adapter.set_availability(
                locker_id,
                code,
                available=available,
                reason=reason,
                deadline=self._clock() + self._timeout,
            )
        except (OpenLockerError, TimeoutError) as err:
            log.warning(
                "locker %s: compartment %s not set %s at the locker yet (%s); its next boot will",
                locker_id,
                code,
                "available" if available else "unavailable",
                err,
            )
            return False
        log.info("locker %s: compartment %s set available=%s", locker_id, code, available)
        return True

    def locker_booted(self, locker_id: str) -> None:
        self._due[locker_id] = asyncio.get_running_loop().time() + self._settle_s
        self._wake.set()

    async def run_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._due:
                now = asyncio.get_running_loop().time()
                ready = [locker for locker, at in self._due.items() if at <= now]
                if not ready:
                    # Until the first locker settled, or a new boot comes in.
                    first = min(self._due.values())
                    try:
                        async with asyncio.timeout(first - now):
                            await self._wake.wait()
                    except TimeoutError:
                        pass
                    self._wake.clear()
                    continue
                for locker in ready:
                    del self._due[locker]
                await self._reconcile_all(ready)

    async def _reconcile_all(self, lockers: list[str]) -> None:
        limit = asyncio.Semaphore(MAX_CONCURRENT)

        async def one(locker_id: str) -> None:
            async with limit:
                try:
                    await self.reconcile(locker_id)
                except Exception:
                    # The database failing must not end the loop; the next boot tries again.
                    log.exception("locker %s: availability not reconciled", locker_id)

        async with asyncio.TaskGroup() as group:
            for locker_id in lockers:
                group.create_task(one(locker_id), name=f"availability-{locker_id}")

    async def reconcile(self, locker_id: str) -> int:
        """After a Boot: every compartment the gateway holds out of service is set unavailable,
        and one the locker's latest state reports disabled but the gateway holds in service is
        set available again. How many the locker confirmed."""
        async with self._store.transaction() as tx:
            compartments = await tx.lockers.compartments(locker_id)
        disabled_there: set[str] = set()
        try:
            adapter = await self._adapters.for_locker(locker_id)
            status = await adapter.read_status(locker_id)
            disabled_there = {c.code for c in status.compartments if not c.enabled}
        except OpenLockerError:
            pass  # no state known: only the gateway's out-of-service ones are pushed
        confirmed = 0
        for compartment in compartments:
            out = compartment.state is CompartmentState.OUT_OF_SERVICE
            if out or compartment.code in disabled_there:
                if out and compartment.code in disabled_there:
                    continue  # already as it should be
                reason = "out of service at the gateway" if out else None
                pushed = await self.push(
                    locker_id, compartment.code, available=not out, reason=reason
                )
                confirmed += pushed
        return confirmed
