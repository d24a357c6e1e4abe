"""A missing journal event must not hold its locker's lane for a gap wait per later event.

`EventOrder.wait_for_turn` waits (2 s) for another instance to apply the events before an early
one. When the missing event is with nobody (lost on the way, or one instance only), every later
event of the locker waits the same 2 s in turn: under a burst the lane is held for minutes and
the replayed missing events queue behind the early ones. One failed wait per mark is enough.
"""

from __future__ import annotations

import time

from tests.pipeline.conftest import Rig

EARLY_EVENTS = 5
GAP_WAIT_S = 2.0  # EventOrder's gap_wait_s, as LockerSide.build leaves it


async def test_a_gap_costs_one_wait_not_one_per_event(rig: Rig) -> None:
    door = "C01"
    rig.next_seq()  # event 1 is lost: it never reaches the gateway
    started = time.monotonic()
    for _ in range(EARLY_EVENTS):
        await rig.side.host.locker_event(rig.opened(door))
    held_s = time.monotonic() - started
    # One wait for the gap, not one per event behind it (EARLY_EVENTS * GAP_WAIT_S).
    assert held_s < 2 * GAP_WAIT_S, f"the lane was held {held_s:.1f} s for one missing event"
