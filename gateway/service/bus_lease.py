"""Bus-owner election: a board adapter configured on every instance is driven by exactly one.

A Kerong CU16 or Modbus controller hangs on a serial line or a single TCP connection that only
one process may drive; two pollers would interleave frames and each read the other's replies.
Every instance therefore configures the adapter but runs it only while it holds the bus's
lease in the database (`gateway/store/bus_leases.py`):

- not holding: try to acquire every `retry`; a free or expired lease is taken (its fencing
  token rises), an unexpired one is left alone;
- holding: the adapter runs; the lease is renewed every `renew`. A renewal the database
  refuses (expired, taken over: the token no longer matches) or that cannot be made before
  `expires_at - margin` stops the adapter at once, so it is no longer driving when another
  instance may take the lease over (after `expires_at`);
- stopping: the adapter stops first, then the lease is released, so another instance takes
  over at its next try instead of after the whole lease time.

Instances' clocks must agree to well within `margin` (NTP does that by milliseconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from types import TracebackType
from typing import Self

from gateway.clock import Clock, utc_now
from gateway.domain.backoff import backoff_s
from gateway.errors import OpenLockerError
from gateway.sdk import background
from gateway.store import Store
from gateway.store.bus_leases import BusLease

log = logging.getLogger(__name__)

# Renewals per lease time, and the share of it kept as a margin before expiry: at 15 s, a
# renewal every 5 s and the adapter stopped 3.75 s before another instance may take over.
RENEWALS_PER_LEASE = 3
MARGIN_SHARE = 0.25


class BusOwner:
    """`async with BusOwner(...)`: drive `bus` through `drive()` while holding its lease."""

    def __init__(
        self,
        *,
        store: Store,
        bus: str,
        owner: str,
        drive: Callable[[], AbstractAsyncContextManager[object]],
        ttl: timedelta = timedelta(seconds=15),
        clock: Clock = utc_now,
    ) -> None:
        if ttl <= timedelta(0):
            raise ValueError("a bus lease needs a positive lease time")
        self._store = store
        self._bus = bus
        self._owner = owner
        self._drive = drive
        self._ttl = ttl
        self._every_s = ttl.total_seconds() / RENEWALS_PER_LEASE
        self._margin = ttl * MARGIN_SHARE
        self._clock = clock
        self._lease: BusLease | None = None
        self._stop = asyncio.Event()
        self._stack = contextlib.AsyncExitStack()
        self.takeovers = 0  # times this instance started driving the bus

    @property
    def bus(self) -> str:
        return self._bus

    @property
    def lease(self) -> BusLease | None:
        """The lease while this instance drives the bus, else None."""
        return self._lease

    async def __aenter__(self) -> Self:
        self._task = await self._stack.enter_async_context(
            background(self._run(), f"bus-lease:{self._bus}")
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Asked to stop, not cancelled: the adapter's own exit then runs undisturbed and the
        # lease is released after it, never before.
        self._stop.set()
        await asyncio.wait([self._task], timeout=self._ttl.total_seconds())
        await self._stack.aclose()

    async def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            lease = await self._acquire()
            if lease is None:
                await self._pause(self._every_s)
                continue
            try:
                await self._drive_while_held(lease)
                failures = 0
            except Exception:
                # The adapter could not start (port missing, bus unreachable): let another
                # instance try, and try again later.
                failures += 1
                log.exception("bus %s: driving failed; lease released", self._bus)
            finally:
                self._lease = None
                await self._release(lease)
            if failures:
                await self._pause(backoff_s(failures, base_s=self._every_s, cap_s=60.0))

    async def _drive_while_held(self, lease: BusLease) -> None:
        self._lease = lease
        self.takeovers += 1
        log.info(
            "instance %s drives bus %s (lease token %d, until %s)",
            self._owner,
            self._bus,
            lease.token,
            lease.expires_at.isoformat(),
        )
        async with self._drive():
            await self._hold()
        log.info("instance %s stopped driving bus %s", self._owner, self._bus)

    async def _hold(self) -> None:
        """Renew until stopped or the lease is lost; returns to stop driving."""
        while (lease := self._lease) is not None:
            # Past this point another instance may take over soon: stop driving by then.
            deadline = lease.expires_at - self._margin
            left = (deadline - self._clock()).total_seconds()
            if left <= 0:
                log.error("bus %s: lease not renewed in time; stopping", self._bus)
                return
            if await self._pause(min(self._every_s, left)):
                return
            try:
                async with asyncio.timeout(max(0.0, (deadline - self._clock()).total_seconds())):
                    async with self._store.transaction() as tx:
                        renewed = await tx.bus_leases.renew(lease, now=self._clock(), ttl=self._ttl)
            except (OpenLockerError, TimeoutError) as err:
                # The database is slow or away: the deadline above decides when to give up.
                log.warning("bus %s: lease renewal failed (%r); retrying", self._bus, err)
                continue
            if renewed is None:
                log.warning(
                    "bus %s: lease (token %d) expired or taken over; stopping",
                    self._bus,
                    lease.token,
                )
                return
            self._lease = renewed

    async def _acquire(self) -> BusLease | None:
        try:
            async with self._store.transaction() as tx:
                return await tx.bus_leases.acquire(
                    self._bus, self._owner, now=self._clock(), ttl=self._ttl
                )
        except OpenLockerError as err:
            log.warning("bus %s: cannot ask for the lease: %s", self._bus, err)
            return None

    async def _release(self, lease: BusLease) -> None:
        try:
            async with self._store.transaction() as tx:
                await tx.bus_leases.release(lease, now=self._clock())
        except OpenLockerError as err:
            # It expires by itself; another instance takes over then.
            log.warning("bus %s: lease not released (%s); it expires on its own", self._bus, err)

    async def _pause(self, seconds: float) -> bool:
        """Sleep `seconds` unless stopped first; True when stopped."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
        return self._stop.is_set()
