"""Periodic work every instance may run: expiry of reservations and pickups, token clean-up.

Everything it acts on lives in the database and each step re-checks under a row lock, so
several gateway instances running it at once do the work once.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from gateway.auth.operator_sessions import OperatorAuth
from gateway.clock import Clock, utc_now
from gateway.errors import OpenLockerError
from gateway.service.courier_sessions import CourierSessions
from gateway.service.holds import HoldService
from gateway.service.parcels import ParcelService
from gateway.store import Store
from gateway.tokens.network_keys import NetworkKeys

log = logging.getLogger(__name__)
INBOX_RETENTION = timedelta(days=1)
# How long after a grant's expiry a locker that was offline may still report its use.
GRANT_REPORT_GRACE = timedelta(days=7)


class Housekeeping:
    def __init__(
        self,
        *,
        store: Store,
        parcels: ParcelService,
        idempotency_retention: timedelta,
        holds: HoldService | None = None,
        courier_sessions: CourierSessions | None = None,
        network_keys: NetworkKeys | None = None,
        operator_auth: OperatorAuth | None = None,
        clock_skew: timedelta = timedelta(seconds=30),
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._parcels = parcels
        self._holds = holds
        self._courier_sessions = courier_sessions
        self._retention = idempotency_retention
        self._keys = network_keys
        self._operator_auth = operator_auth
        self._skew = clock_skew
        self._clock = clock

    async def run_once(self) -> int:
        """One pass; returns how many parcels it expired."""
        expired = await self._parcels.expire_due()
        if self._holds is not None:
            # Soft holds stop counting at their expiry anyway; this ends them, with the event.
            await self._holds.expire_due()
        if self._courier_sessions is not None:
            # A round nobody closed: its carrier still learns what it did.
            await self._courier_sessions.close_lapsed()
        now = self._clock()
        async with self._store.transaction() as tx:
            await tx.jtis.purge(now)
            await tx.idempotency.purge(now - self._retention)
            # Dedupe only needs to outlive QoS 1 redelivery; keep a day, not for ever.
            await tx.inbox.purge(now - INBOX_RETENTION)
            # A locker may still accept a grant within the leeway, and report it later.
            await tx.grants.purge(now - self._skew - GRANT_REPORT_GRACE)
        if self._operator_auth is not None:
            # Expired operator sessions, and the counter every failed sign-in leaves per
            # account id and client address: in batches, each its own short transaction.
            await self._operator_auth.purge_expired()
        if self._keys is not None:
            # Another instance may have rotated or retired a key.
            await self._keys.refresh()
        return expired

    async def run_forever(self, interval_s: float) -> None:
        while True:
            try:
                count = await self.run_once()
                if count:
                    log.info("housekeeping expired %d parcel(s)", count)
            except OpenLockerError as err:
                # A database hiccup must not end the loop; the next pass catches up.
                log.warning("housekeeping pass failed: %s", err)
            except Exception:
                # Nor may anything else (a row no code path can read): this runs in the
                # gateway's TaskSet, where an escaping error would stop the whole gateway.
                log.exception("housekeeping pass failed; trying again in %g s", interval_s)
            await asyncio.sleep(interval_s)
