"""What a fleet of emulated lockers is doing, summed: one line a bench or an operator can read.

A bank of thousands of lockers cannot be watched locker by locker; this module counts boot
answers, heartbeats and sessions across the whole bank and adds what the process itself costs
(CPU seconds, resident memory, asyncio tasks), so a boot storm can be judged from outside.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from locker_emulator.locker_state import LockerModel


@dataclass(slots=True)
class LockerCounters:
    """What one locker lived through since it started (kept across reconnects)."""

    connects: int = 0
    boots_accepted: int = 0
    boots_pending: int = 0
    boots_rejected: int = 0
    boot_errors: int = 0  # an `error` reply: the gateway refused the call (e.g. overload)
    boot_timeouts: int = 0  # no reply within call_timeout
    heartbeats: int = 0  # answered with a result
    heartbeat_failures: int = 0  # error reply or no reply
    key_sets_refused: int = 0  # SetKeySet not signed by the pinned root key (SPEC §9)

    def add(self, other: LockerCounters) -> None:
        for name in _COUNTER_NAMES:
            setattr(self, name, getattr(self, name) + getattr(other, name))


_COUNTER_NAMES = tuple(f.name for f in fields(LockerCounters))


@dataclass(frozen=True, slots=True)
class FleetReport:
    """The fleet now: counts over all lockers plus the process's own cost."""

    at: float  # wall-clock seconds (time.time()), comparable across processes on one machine
    lockers: int
    online: int
    accepted: int  # booted right now
    key_set: int  # lockers holding a key set
    counters: LockerCounters
    cpu_s: float  # this process's CPU time (user + system)
    rss_bytes: int
    tasks: int

    def json(self) -> str:
        body = asdict(self)
        body.update(body.pop("counters"))
        return json.dumps(body, separators=(",", ":"))


def report(models: Iterable[LockerModel]) -> FleetReport:
    """Sum the lockers' state and counters; call it from the event loop that runs them."""
    total = LockerCounters()
    lockers = online = accepted = key_set = 0
    for model in models:
        lockers += 1
        online += model.online
        accepted += model.boot_status == "Accepted"
        key_set += model.grants.version is not None
        total.add(model.counters)
    return FleetReport(
        at=time.time(),
        lockers=lockers,
        online=online,
        accepted=accepted,
        key_set=key_set,
        counters=total,
        cpu_s=time.process_time(),
        rss_bytes=resident_bytes(),
        tasks=len(asyncio.all_tasks()),
    )


def resident_bytes() -> int:
    """Resident memory of this process now (Linux), else its peak."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak_kib) * 1024
