"""Benchmark: the console audit page's chain check, cached per head, against a full verify.

Fills a fresh database with `--entries` audit entries (through the repository: real hashes),
then times a full `AuditService.verify()` (what every audit page view cost before), the cached
check's first view (the same walk), and a view after `--new` more entries (only those, plus the
cached head read again). Raw limit, same run: one read of the new entries' rows alone.
Usage: python -m bench.audit_check [--entries 20000] [--new 100] [--only sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bench.support import database
from gateway.console.audit_check import AuditCheck
from gateway.domain.audit import AuditAction
from gateway.service.audit import AuditService
from gateway.store import Store

PER_TX = 1000


async def append(store: Store, count: int) -> None:
    for start in range(0, count, PER_TX):
        async with store.transaction() as tx:
            for n in range(start, min(count, start + PER_TX)):
                await tx.audit.append(
                    AuditAction.CODE_TRIED,
                    actor="locker:L1",
                    subject="L1",
                    details={"result": "rejected", "n": n},
                )


def ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


async def one(kind: str, entries: int, new: int) -> None:
    async with database(kind) as url, Store.connect(url) as store:
        await store.migrate()
        await append(store, entries)
        service = AuditService(store=store)
        cache = AuditCheck(audit=service)
        started = time.perf_counter()
        full = await service.verify()
        full_ms = ms(started)
        started = time.perf_counter()
        first = await cache.check()
        first_ms = ms(started)
        await append(store, new)
        started = time.perf_counter()
        later = await cache.check()
        later_ms = ms(started)
        started = time.perf_counter()
        async with store.transaction() as tx:
            await tx.audit.page(after=entries, limit=new)
        raw_ms = ms(started)
        if not (full.ok and first.report.ok and later.report.ok) or later.new != new:
            raise SystemExit(f"unexpected: {full}, {first}, {later}")
        print(
            f"{kind}: {entries} entries: full verify {full_ms:.0f} ms; cached check, first "
            f"view {first_ms:.0f} ms ({first.new} checked); after {new} new {later_ms:.1f} ms "
            f"({later.new} checked, {later.report.checked} known intact); raw read of those "
            f"{new} rows {raw_ms:.1f} ms"
        )


async def main(entries: int, new: int, only: str | None) -> None:
    for kind in ("sqlite", "postgresql"):
        if only in (None, kind):
            await one(kind, entries, new)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--new", type=int, default=100)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    asyncio.run(main(args.entries, args.new, args.only))
