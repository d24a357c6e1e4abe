"""Compartment availability at the locker: a compartment the gateway holds out of service is
refused by the locker too (OLP `SetAvailability`), so that what the locker decides alone (an
offline grant) cannot open it. Told when an operator acts, and again after every Boot, which
is how a change made while the locker was offline reaches it. A push that fails (no answer,
a lost link) is tried again with the project's back-off (`backoff_s`) from the background
loop, a bounded number of times, each time with the compartment's state as it is then: a
locker that stays up would otherwise keep accepting offline grants into a compartment the
gateway took out of service until it happened to boot again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from gateway.clock import Clock, utc_now
from gateway.domain.backoff import backoff_s
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


@dataclass(frozen=True, slots=True)
class PushRetry:
    """How a failed push is tried again: `backoff_s(attempt, base_s, cap_s)` apart, at most
    `attempts` times (the defaults: about 4 minutes); then the locker's next Boot does it."""

    attempts: int = 8
    base_s: float = 1.0
    cap_s: float = 60.0


class AtLocker(StrEnum):
    """What became of a push, as the admin API answers it (`atLocker`)."""

    CONFIRMED = "confirmed"  # the locker confirmed it
    # Not confirmed in time (offline, no answer, a lost link): tried again in the background
    # with back-off, and at the locker's next Boot in any case.
    PENDING = "pending"
    UNSUPPORTED = "unsupported"  # the locker has no such command: the gateway alone refuses


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
        retry: PushRetry | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._adapters = adapters
        self._timeout = timedelta(seconds=push_timeout_s)
        self._settle_s = boot_settle_s
        self._retry = retry or PushRetry()
        self._clock = clock
        self._due: dict[str, float] = {}  # booted locker -> loop time to reconcile it
        # (locker, compartment) whose push failed -> (failures so far, loop time to retry)
        self._retries: dict[tuple[str, str], tuple[int, float]] = {}
        self.retried = 0  # pushes tried again (since start; logs and tests)
        self._wake = asyncio.Event()

    async def push(
        self, locker_id: str, code: str, *, available: bool, reason: str | None
    ) -> AtLocker:
        """Tell the locker now, waiting up to `push_timeout_s` for its confirmation. PENDING
        (logged) if it was not confirmed: offline, no answer. That push is tried again in the
        background with back-off (`run_forever`), and the locker's next Boot brings it in line
        in any case."""
        told = await self._tell(locker_id, code, available=available, reason=reason)
        if told is AtLocker.PENDING:
            self._schedule_retry(locker_id, code, failures=1)
        elif told is AtLocker.CONFIRMED:
            self._retries.pop((locker_id, code), None)
        return told

    async def _tell(
        self, locker_id: str, code: str, *, available: bool, reason: str | None
    ) -> AtLocker:
        try:
            adapter = await self._adapters.for_locker(locker_id)
            if AdapterFeatures.SET_AVAILABILITY not in adapter.features or not isinstance(
                adapter, SupportsAvailability
            ):
                return AtLocker.UNSUPPORTED
            await adapter.set_availability(
                locker_id,
                code,
                available=available,
                reason=reason,
                deadline=self._clock() + self._timeout,
            )
        except (OpenLockerError, TimeoutError) as err:
            log.warning(
                "locker %s: compartment %s not set %s at the locker yet (%s); tried again",
                locker_id,
                code,
                "available" if available else "unavailable",
                err,
            )
            return AtLocker.PENDING
        log.info("locker %s: compartment %s set available=%s", locker_id, code, available)
        return AtLocker.CONFIRMED

    def _schedule_retry(self, locker_id: str, code: str, *, failures: int) -> None:
        if failures > self._retry.attempts:
            self._retries.pop((locker_id, code), None)
            log.warning(
                "locker %s: compartment %s availability not confirmed after %d tries; "
                "its next boot brings it in line",
                locker_id,
                code,
                failures,
            )
            return
        delay = backoff_s(failures, base_s=self._retry.base_s, cap_s=self._retry.cap_s)
        at = asyncio.get_running_loop().time() + delay
        self._retries[locker_id, code] = (failures, at)
        self._wake.set()

    async def _retry_one(self, locker_id: str, code: str, failures: int) -> None:
        """Push again what the gateway holds now (an operator may have changed it since)."""
        async with self._store.transaction() as tx:
            compartment = await tx.lockers.compartment(locker_id, code)
        if compartment is None:
            return  # the compartment (or locker) was removed meanwhile
        self.retried += 1
        out = compartment.state is CompartmentState.OUT_OF_SERVICE
        reason = "out of service at the gateway" if out else None
        told = await self._tell(locker_id, code, available=not out, reason=reason)
        if told is AtLocker.PENDING:
            self._schedule_retry(locker_id, code, failures=failures + 1)

    def locker_booted(self, locker_id: str) -> None:
        self._due[locker_id] = asyncio.get_running_loop().time() + self._settle_s
        # The boot's reconciliation tells the locker everything: pending retries are moot.
        for key in [key for key in self._retries if key[0] == locker_id]:
            del self._retries[key]
        self._wake.set()

    async def run_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._due or self._retries:
                now = asyncio.get_running_loop().time()
                ready = [locker for locker, at in self._due.items() if at <= now]
                retries = [(key, n) for key, (n, at) in self._retries.items() if at <= now]
                for key, _ in retries:
                    del self._retries[key]
                if retries:
                    await self._retry_all(retries)
                if not ready:
                    if not self._due and not self._retries:
                        break
                    # Until the first locker settled or retry is due, or a new one comes in.
                    first = min([*self._due.values(), *(at for _, at in self._retries.values())])
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

    async def _retry_all(self, due: list[tuple[tuple[str, str], int]]) -> None:
        limit = asyncio.Semaphore(MAX_CONCURRENT)

        async def one(locker_id: str, code: str, failures: int) -> None:
            async with limit:
                try:
                    await self._retry_one(locker_id, code, failures)
                except Exception as err:
                    # The database failing must not end the loop: tried again later.
                    log.warning(
                        "locker %s: availability retry of %s failed: %s", locker_id, code, err
                    )
                    self._schedule_retry(locker_id, code, failures=failures + 1)

        async with asyncio.TaskGroup() as group:
            for (locker_id, code), failures in due:
                group.create_task(
                    one(locker_id, code, failures), name=f"availability-retry-{locker_id}/{code}"
                )

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
                confirmed += pushed is AtLocker.CONFIRMED
        return confirmed
