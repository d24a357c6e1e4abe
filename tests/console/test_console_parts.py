"""The console's pure parts and read model: the live feed's fan-out, SVG charts, redirects
that stay on the console, and the audit trail's pages."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest

from gateway.console.charts import bar_chart
from gateway.console.live import LiveFeed
from gateway.console.reads import RETRYING, ConsoleReads, GridPrint
from gateway.console.web import safe_next
from gateway.domain.audit import AuditAction
from gateway.domain.delivery import TargetKind
from gateway.sdk import background
from gateway.store import Store
from gateway.store.outbox import NewDelivery


class ScriptedReads(ConsoleReads):
    """The real read model with the grids it answers set by the test."""

    def __init__(self, store: Store) -> None:
        super().__init__(store=store)
        self.grids: dict[str, GridPrint] = {}
        self.reads = 0

    async def grid_prints(self, locker_ids: Iterable[str]) -> dict[str, GridPrint]:
        self.reads += 1
        return {k: v for k, v in self.grids.items() if k in set(locker_ids)}


def grid(state: str) -> GridPrint:
    return GridPrint(online=True, cells=(("A01", state, "closed", "unknown", None, False),))


async def test_watchers_wake_only_when_their_lockers_grid_changes(sqlite_store: Store) -> None:
    reads = ScriptedReads(sqlite_store)
    reads.grids = {"L1": grid("available"), "L2": grid("available")}
    feed = LiveFeed(reads=reads)
    await feed.tick()
    assert reads.reads == 0  # nobody watches: no query at all
    with feed.watch("L1") as one, feed.watch("L2") as two:
        await feed.tick()
        assert (one.latest, two.latest) == (grid("available"), grid("available"))
        one.changed.clear()
        two.changed.clear()
        await feed.tick()  # nothing changed
        assert not one.changed.is_set()
        assert not two.changed.is_set()
        reads.grids["L1"] = grid("occupied")
        await feed.tick()
        assert one.changed.is_set()
        assert one.latest == grid("occupied")
        assert not two.changed.is_set()
        with feed.watch("L1") as late:  # joins after the change: still gets a first print
            await feed.tick()
            assert late.latest == grid("occupied")
    assert feed.watchers == 0


async def test_the_poller_wakes_for_a_new_watcher_and_stopping_ends_every_stream(
    sqlite_store: Store,
) -> None:
    reads = ScriptedReads(sqlite_store)
    reads.grids = {"L1": grid("available")}
    feed = LiveFeed(reads=reads, interval_s=3600)  # only a new watcher can wake it in time
    async with background(feed.run_forever(), "console-live-feed"):
        with feed.watch("L1") as watcher:
            async with asyncio.timeout(5):
                await watcher.changed.wait()
            assert watcher.latest == grid("available")
            feed.close_all()
            assert watcher.closed
        with feed.watch("L1") as after:
            assert after.closed  # a stream opened while stopping ends at once


def test_a_chart_is_labelled_and_escapes_its_text() -> None:
    svg = bar_chart(
        chart_id="c1",
        title="Parcels <b>",
        desc="acme: 3",
        labels=["acme", "<script>alert(1)</script>"],
        values=[3, 7],
    )
    assert 'role="img" aria-labelledby="c1-title c1-desc"' in svg
    assert '<title id="c1-title">Parcels &lt;b&gt;</title>' in svg
    assert "<script>" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;: 7" in svg
    assert svg.count('class="bar"') == 2
    assert "style=" not in svg  # the console's CSP forbids inline styles
    with pytest.raises(ValueError, match="one label per value"):
        bar_chart(chart_id="c2", title="t", desc="d", labels=["a"], values=[1, 2])


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/console", True),
        ("/console/lockers/WAW-1?x=1", True),
        ("/consoleevil", False),
        ("//evil.example/console", False),
        ("https://evil.example/console", False),
        ("/v1/admin/session", False),
        ("/console/\\evil", False),
        ("", False),
    ],
)
def test_redirects_stay_on_the_console(target: str, safe: bool) -> None:
    assert safe_next(target) is safe


async def test_the_audit_trail_pages_newest_first(sqlite_store: Store) -> None:
    reads = ConsoleReads(store=sqlite_store)
    empty = await reads.audit_page(None, 3)
    assert (empty.rows, empty.older, empty.newer) == ([], None, None)
    async with sqlite_store.transaction() as tx:
        for n in range(7):
            await tx.audit.append(AuditAction.ADMIN_ACTION, actor="operator:t", subject=f"s{n}")
    head = await reads.audit_page(None, 3)
    assert [r.position for r in head.rows] == [7, 6, 5]
    assert (head.older, head.newer) == (5, None)
    middle = await reads.audit_page(head.older, 3)
    assert [r.position for r in middle.rows] == [4, 3, 2]
    assert (middle.older, middle.newer) == (2, 8)
    last = await reads.audit_page(middle.older, 3)
    assert [r.position for r in last.rows] == [1]
    assert (last.older, last.newer) == (None, 5)
    beyond = await reads.audit_page(999, 3)
    assert [r.position for r in beyond.rows] == [7, 6, 5]


async def test_delivery_lag_counts_failing_and_dead_rows_per_target(sqlite_store: Store) -> None:
    start = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    reads = ConsoleReads(store=sqlite_store, clock=lambda: start + timedelta(minutes=10))

    def row(target: str, n: int) -> NewDelivery:
        return NewDelivery(
            event_id=f"ev-{target}-{n}",
            target_id=target,
            carrier_id="acme",
            parcel_uid=f"uid-{target}-{n}",  # one parcel each: no ordering hold-back
            parcel_seq=1,
            type="parcel.reserved",
            body={},
        )

    async with sqlite_store.transaction() as tx:
        for n in range(2):
            assert await tx.outbox.enqueue(row("hook-a", n), at=start + timedelta(minutes=n))
        assert await tx.outbox.enqueue(row("hook-b", 0), at=start)
        await tx.outbox.kill_pending("hook-b", "HTTP 410", kind=TargetKind.WEBHOOK)
    async with sqlite_store.transaction() as tx:
        (claimed,) = await tx.outbox.claim(
            now=start + timedelta(minutes=1), lease_until=start + timedelta(minutes=2), limit=1
        )
        retry = start + timedelta(hours=1)
        assert await tx.outbox.mark_failed(claimed, status=503, error="HTTP 503", retry_at=retry)

    lags = {lag.target_id: lag for lag in await reads.delivery_lag()}
    assert lags["hook-a"].states == {"pending": 2, RETRYING: 1}
    assert lags["hook-a"].lag(start + timedelta(minutes=10)) == timedelta(minutes=10)
    assert lags["hook-b"].states == {"dead": 1}
    assert lags["hook-b"].oldest_pending is None
