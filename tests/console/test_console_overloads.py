"""Lockers' overload episodes in the console's "faults now", read back from the audit trail that
LaneOverloads writes (a real database, both engines): going on, just ended, and stale."""

from __future__ import annotations

from datetime import timedelta

from gateway.console.overloads import RECENT, STALE_AFTER, recent_overloads
from gateway.domain.audit import AuditAction
from gateway.sdk.telemetry import LaneOverload
from gateway.service.audit import AuditService
from gateway.service.lane_overloads import LaneOverloads
from gateway.store import Store
from tests.console.conftest import ConsoleSite
from tests.console.test_console_http import LOCKER, signed_in


def told(locker_id: str, *, ended: bool = False, refused: int = 1) -> LaneOverload:
    return LaneOverload("olp", locker_id, ended=ended, refused=refused, seconds=4.0 if ended else 0)


async def test_an_episode_shows_while_it_lasts_and_for_a_while_after(store: Store) -> None:
    writer = LaneOverloads(store=store, actor="gateway:gw-a")
    writer.lane_overloaded(told("WAW-1"))
    writer.lane_overloaded(told("KRK-1"))
    writer.lane_overloaded(told("KRK-1", ended=True, refused=744))
    assert await writer.flush() == 3
    assert await writer.flush() == 0  # written once
    entries = await AuditService(store=store).latest(10)
    assert [(e.action, e.subject) for e in entries] == [
        (AuditAction.LOCKER_OVERLOADED.value, "WAW-1"),
        (AuditAction.LOCKER_OVERLOADED.value, "KRK-1"),
        (AuditAction.LOCKER_OVERLOAD_ENDED.value, "KRK-1"),
    ]
    assert entries[-1].details == {"lanes": "olp", "refused": 744, "seconds": 4.0}
    now = entries[-1].at

    seen = await recent_overloads(store.engine, now)
    assert [(s.locker_id, s.ended_at is None, s.refused) for s in seen] == [
        ("KRK-1", False, 744),
        ("WAW-1", True, 0),
    ]
    assert "744 messages refused" in seen[0].words()
    assert seen[1].words().startswith("Lane overloaded since ")
    assert "gateway:gw-a" in seen[1].words()
    # An ended episode leaves the faults after RECENT; one whose end never came (its instance
    # died) after STALE_AFTER.
    later = await recent_overloads(store.engine, now + RECENT + timedelta(seconds=1))
    assert [s.locker_id for s in later] == ["WAW-1"]
    assert await recent_overloads(store.engine, now + STALE_AFTER + timedelta(seconds=1)) == []


async def test_a_new_episode_after_an_ended_one_shows_as_going_on(store: Store) -> None:
    writer = LaneOverloads(store=store, actor="gateway:gw-a")
    for overload in (told("L-1"), told("L-1", ended=True, refused=9), told("L-1")):
        writer.lane_overloaded(overload)
    await writer.flush()
    (entry,) = await AuditService(store=store).latest(1)
    (seen,) = await recent_overloads(store.engine, entry.at)
    assert seen.ended_at is None


async def test_entries_beyond_the_bound_are_counted_not_kept(store: Store) -> None:
    writer = LaneOverloads(store=store, actor="gateway:gw-a", max_pending=2)
    for n in range(5):
        writer.lane_overloaded(told(f"L-{n}"))
    assert writer.unrecorded == 3
    assert await writer.flush() == 2
    assert writer.recorded == 2


async def test_the_overview_and_the_locker_page_show_an_overload(console_site: ConsoleSite) -> None:
    site = console_site
    writer = LaneOverloads(store=site.gateway.store, actor="gateway:gw-b")
    writer.lane_overloaded(told(LOCKER))
    await writer.flush()
    vera, _ = await signed_in(site, "vera")
    try:
        overview = await vera.get("/console")
        assert overview.status_code == 200
        faults = overview.text.split('id="faults"', 1)[1].split("</ul>", 1)[0]
        assert f'href="/console/lockers/{LOCKER}">{LOCKER}</a>: Lane overloaded since' in faults
        page = await vera.get(f"/console/lockers/{LOCKER}")
        assert 'id="locker-faults"' in page.text
        assert "Lane overloaded since" in page.text
        assert "gateway:gw-b" in page.text
        # Another locker's page shows none.
        other = await vera.get("/console/lockers/KRK-MAIN-01")
        assert other.status_code == 200
        assert 'id="locker-faults"' not in other.text
    finally:
        await vera.aclose()
