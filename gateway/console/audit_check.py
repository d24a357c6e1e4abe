"""The audit page's chain check, cached per head: the whole chain on the first view, then on
each view only the entries appended since the head last found intact, so a view after N new
entries costs O(N) instead of the whole log.

What that leaves out: a change to an entry *before* the cached head (which the last full check
found intact). The page says what was checked and when the whole chain last was; the full
check is the admin API's `GET /v1/admin/audit/verify` and `openlocker audit verify` (both walk
everything, every time). The cache is per instance, in memory: a restart checks in full again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from gateway.clock import Clock, utc_now
from gateway.service.audit import EMPTY_HEAD, Anchor, AuditService, VerifyReport


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """One view's check. `report.checked`: the entries now known intact in all (the earlier
    ones included); `new`: those checked on this view; `since`: the head they were checked
    after (EMPTY_HEAD: the whole chain now); `full_at`: when the whole chain was last checked."""

    report: VerifyReport
    new: int
    since: Anchor
    full_at: datetime

    @property
    def whole(self) -> bool:
        return self.since == EMPTY_HEAD


@dataclass(frozen=True, slots=True)
class _Verified:
    head: Anchor
    checked: int
    full_at: datetime


class AuditCheck:
    def __init__(self, *, audit: AuditService, clock: Clock = utc_now) -> None:
        self._audit = audit
        self._clock = clock
        self._verified: _Verified | None = None
        # One check at a time: views arriving together wait for it and then check only what
        # came after it, instead of each walking the same entries.
        self._lock = asyncio.Lock()

    async def check(self) -> ChainCheck:
        async with self._lock:
            known = self._verified
            if known is None:
                started = self._clock()
                report = await self._audit.verify()
                if report.ok:
                    self._verified = _Verified(report.head, report.checked, started)
                return ChainCheck(report, report.checked, EMPTY_HEAD, started)
            found = await self._audit.verify_after(known.head)
            total = VerifyReport(known.checked + found.checked, found.head, found.problem)
            if found.ok:
                # A break is never cached over: the next view finds it again.
                self._verified = _Verified(found.head, total.checked, known.full_at)
            return ChainCheck(total, found.checked, known.head, known.full_at)
