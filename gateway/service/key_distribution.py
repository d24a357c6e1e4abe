"""KeyDistributor: keeps every booted locker's grant-verification key set current (SetKeySet).

A push happens shortly after an accepted Boot whose reported version is older than the
network's, as soon as the network's version changes (a rotation on any instance), and in a
periodic sweep. The database records the version each locker confirmed, so every instance
sees the same picture and a push that failed is simply retried by the next sweep.

One loop does it all. A sweep of thousands of lockers (a boot storm, a rotation) is pushed by a
fixed pool of pushers taking lockers from one shared list, never a task per locker, and what
the lockers confirmed is recorded in one transaction per batch, not one per locker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from gateway.clock import Clock, utc_now
from gateway.domain.audit import AuditAction
from gateway.errors import OpenLockerError
from gateway.sdk import AdapterFeatures
from gateway.sdk.events import KeySetRefused
from gateway.sdk.keys import KeySet, SupportsKeySet
from gateway.service.adapters import AdapterDirectory
from gateway.store import Store, UnitOfWork

log = logging.getLogger(__name__)
KeySource = Callable[[], Awaitable[KeySet]]
# (set, locker id) -> the set signed for that locker by the root key (SPEC §9).
KeySetSigner = Callable[[KeySet, str], KeySet]
# (locker id, version it holds above the network's) -> the network's version afterwards.
AheadRepair = Callable[[str, int], Awaitable[int]]
# A locker drops commands until it has processed its Boot's Accepted: give it a moment.
BOOT_SETTLE_S = 0.5
# Lockers pushed to at once by one instance; a national network has thousands of them.
MAX_CONCURRENT_PUSHES = 32
# Confirmed pushes recorded per transaction (version + audit line each).
RECORD_BATCH = 64


class KeyDistributor:
    """Run `await distributor.run_forever()` as a named background loop."""

    def __init__(
        self,
        *,
        store: Store,
        adapters: AdapterDirectory,
        key_set: KeySource,
        sweep_interval_s: float = 60.0,
        poll_interval_s: float = 2.0,
        push_timeout_s: float = 10.0,
        boot_settle_s: float = BOOT_SETTLE_S,
        actor: str,
        clock: Clock = utc_now,
        repair: AheadRepair | None = None,
        sign: KeySetSigner | None = None,
    ) -> None:
        """`repair` raises the network's key-set version past a version a locker reported
        above it (NetworkKeys.advance_past); without it such a locker is only logged. `sign`
        signs the set for each locker (RootKey.sign_key_set): a locker refuses an unsigned one."""
        self._store = store
        self._adapters = adapters
        self._key_set = key_set
        self._sweep_s = sweep_interval_s
        self._poll_s = poll_interval_s
        self._timeout = timedelta(seconds=push_timeout_s)
        self._settle_s = boot_settle_s
        self._actor = actor
        self._clock = clock
        self._wake = asyncio.Event()
        self._due: dict[str, float] = {}  # booted locker -> loop time its push is due
        # When the sleeping loop wakes anyway (0 while it runs: it looks at `_due` before it
        # sleeps again). A boot storm then wakes it once per settle period, not once per boot.
        self._wake_at = 0.0
        self._swept_version: int | None = None
        self._next_sweep = 0.0
        self._repair = repair
        self._sign = sign
        # locker -> the key-set version whose refusal was audited: a locker pinned to another
        # root refuses every sweep's push; one audit line per version, not one a minute.
        self._refusal_audited: dict[str, int] = {}
        self._ahead: dict[str, int] = {}  # booted locker -> version it reported, maybe ahead

    def locker_booted(self, locker_id: str, reported_version: int | None) -> None:
        """An accepted Boot: push soon if the locker's set is older than the network's."""
        if self._swept_version is not None and reported_version == self._swept_version:
            return
        if reported_version is not None and (
            self._swept_version is None or reported_version > self._swept_version
        ):
            self._ahead[locker_id] = reported_version  # checked against the network's next round
        due = asyncio.get_running_loop().time() + self._settle_s
        self._due.pop(locker_id, None)  # re-inserted last: `_due` stays in order of due time
        self._due[locker_id] = due
        if due < self._wake_at:
            self._wake.set()

    async def run_forever(self) -> None:
        while True:
            try:
                await self._round()
            except Exception:
                # The database or an adapter failing must not end key distribution for good.
                log.exception("key distribution round failed; retrying")
            await self._sleep()

    async def _round(self) -> None:
        key_set = await self._key_set()
        if self._ahead:
            key_set = await self._repair_ahead(key_set)
        now = asyncio.get_running_loop().time()
        booted = [locker for locker, due in self._due.items() if due <= now]
        rotated = key_set.version != self._swept_version
        if not (booted or rotated or now >= self._next_sweep):
            return
        for locker in booted:
            del self._due[locker]
        if rotated and self._swept_version is not None:
            log.info("key set version %d: pushing to lockers", key_set.version)
        await self.sweep(key_set)
        self._swept_version = key_set.version
        self._next_sweep = now + self._sweep_s

    async def _repair_ahead(self, key_set: KeySet) -> KeySet:
        """Lockers whose Boot reported a version above the network's: no push could ever reach
        them (a locker refuses a lower version, SPEC §9). Raise the network's version past
        theirs, so the sweep that follows pushes the network's keys to them."""
        repaired = False
        for locker_id, held in list(self._ahead.items()):
            # Forgotten once handled: a repair that fails (the database) is retried next round.
            if held <= key_set.version:
                del self._ahead[locker_id]
                continue
            if self._repair is None:
                log.warning(
                    "locker %s holds key-set version %d, above the network's %d: it keeps "
                    "keys the network does not have and no push reaches it",
                    locker_id,
                    held,
                    key_set.version,
                )
                del self._ahead[locker_id]
                continue
            version = await self._repair(locker_id, held)
            del self._ahead[locker_id]
            repaired = repaired or version > key_set.version
        return await self._key_set() if repaired else key_set

    async def _sleep(self) -> None:
        now = asyncio.get_running_loop().time()
        # `_due` is in order of due time, so its first entry is the earliest.
        first_due = next(iter(self._due.values()), self._next_sweep)
        self._wake_at = min(self._next_sweep, now + self._poll_s, first_due)
        self._wake.clear()
        try:
            async with asyncio.timeout(max(0.0, self._wake_at - now)):
                await self._wake.wait()
        except TimeoutError:
            pass
        finally:
            self._wake_at = 0.0

    async def sweep(self, key_set: KeySet) -> int:
        """Push `key_set` to every booted locker holding an older one; how many confirmed it."""
        async with self._store.transaction() as tx:
            behind = await tx.sessions.key_set_behind(key_set.version)
        # A locker that booted a moment ago gets its own push once it settled (see BOOT_SETTLE_S);
        # pushing now would wait out push_timeout on a locker still dropping commands.
        behind = [locker for locker in behind if locker not in self._due]
        if not behind:
            return 0
        await self._adapters.learn(behind)
        todo = iter(behind)  # shared: each locker is taken by exactly one pusher
        batch: list[str] = []
        confirmed = 0

        async def pusher() -> None:
            nonlocal batch, confirmed
            for locker_id in todo:
                if not await self._install(locker_id, key_set):
                    continue
                confirmed += 1
                batch.append(locker_id)
                if len(batch) >= RECORD_BATCH:
                    full, batch = batch, []
                    await self._record(full, key_set)

        pushers = min(MAX_CONCURRENT_PUSHES, len(behind))
        async with asyncio.TaskGroup() as group:
            for n in range(pushers):
                group.create_task(pusher(), name=f"key-set-pusher-{n}")
        await self._record(batch, key_set)
        return confirmed

    async def push(self, locker_id: str, key_set: KeySet) -> bool:
        """Push to one locker and record what it confirmed; False when it did not (logged)."""
        if not await self._install(locker_id, key_set):
            return False
        await self._record([locker_id], key_set)
        return True

    async def _install(self, locker_id: str, key_set: KeySet) -> bool:
        """SetKeySet on one locker; True once it confirmed, False when it did not (logged)."""
        try:
            adapter = await self._adapters.for_locker(locker_id)
        except OpenLockerError as err:
            log.info("no key set for locker %s: %s", locker_id, err)
            return False
        if AdapterFeatures.OFFLINE_GRANTS not in adapter.features or not isinstance(
            adapter, SupportsKeySet
        ):
            return False  # its lockers cannot verify grants: the gateway decides for them
        signed = key_set if self._sign is None else self._sign(key_set, locker_id)
        try:
            await adapter.push_key_set(locker_id, signed, self._clock() + self._timeout)
        except OpenLockerError as err:
            if err.details.get("lockerError") == "SecurityError":
                await self._refused(locker_id, key_set, err)
            log.info("key set %d not installed on %s: %s", key_set.version, locker_id, err)
            return False
        log.info("locker %s holds key set %d", locker_id, key_set.version)
        return True

    async def _refused(self, locker_id: str, key_set: KeySet, err: OpenLockerError) -> None:
        """The locker refused the set's signature: it pinned another root key, or the set was
        altered on the way. A security event: logged and audited once per version; the locker
        keeps its set."""
        if self._refusal_audited.get(locker_id) == key_set.version:
            return
        log.error(
            "locker %s refused the signature of key set %d: %s", locker_id, key_set.version, err
        )
        details = {"version": key_set.version, "reason": err.description[:200]}
        async with self._store.transaction() as tx:
            await tx.audit.append(
                AuditAction.KEY_SET_REFUSED, actor=self._actor, subject=locker_id, details=details
            )
        self._refusal_audited[locker_id] = key_set.version

    async def _record(self, lockers: list[str], key_set: KeySet) -> None:
        """What these lockers confirmed, with an audit line each, in one transaction."""
        if not lockers:
            return
        details = {"version": key_set.version, "kids": [str(k["kid"]) for k in key_set.keys]}
        async with self._store.transaction() as tx:
            for locker_id in lockers:
                await tx.sessions.set_key_set_version(locker_id, key_set.version)
                await tx.audit.append(
                    AuditAction.KEY_SET_PUSHED,
                    actor=self._actor,
                    subject=locker_id,
                    details=details,
                )


async def audit_forged_key_set(tx: UnitOfWork, event: KeySetRefused) -> None:
    """A locker refused a SetKeySet sent in this gateway's name but not by it (its error
    reply reached us, not the sender): someone on the broker tried to install keys. The
    locker kept its set; the attempt is a security event for the operator."""
    log.error("locker %s refused a forged SetKeySet: %s", event.locker_id, event.reason)
    details = {"forged": True, "reason": event.reason[:200], "reply": event.event_id}
    await tx.audit.append(
        AuditAction.KEY_SET_REFUSED,
        actor=f"locker:{event.locker_id}",
        subject=event.locker_id,
        details=details,
    )
