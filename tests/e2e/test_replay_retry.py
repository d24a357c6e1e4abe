"""A ReplayEvents the locker never got (the broker restarted or the link was cut at that
moment) is asked again with back-off: the events behind the gap apply within seconds, not at
the next Heartbeat or Boot (the long chaos run's 3 parcels stuck ~2 minutes; SPEC §9)."""

from __future__ import annotations

import logging

import pytest

from tests.e2e.conftest import Site, eventually
from tests.e2e.test_reconciliation import _async, open_door, received_commands, sent

# Gap wait 2 s + the lost request's 10 s timeout + the first retry (0.5-1 s) + the replay,
# well under the site's 60 s heartbeat, which is what applied them before.
WITHIN_S = 25


async def test_a_lost_replay_request_is_asked_again_without_a_boot(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.service.event_order")
    door = await open_door(site, "RR-1")
    journal = site.locker.model.journal
    closed_seq = journal.last_seq + 1
    boots = len(sent(site, "Boot"))

    site.locker.lose_next_commands("ReplayEvents", 1)
    site.locker.lose_next_events(1)
    site.locker.deposit(door)  # DoorClosed: sent, lost on the way
    await eventually(lambda: _async(journal.sent_seq), closed_seq)
    site.locker.enter_code("0000")  # arrives with a gap before it: a replay is asked for

    await site.wait_state("RR-1", "ready_for_pickup", timeout=WITHIN_S)
    # The lost request and its retry (the locker's log lists both; it acted on the second).
    replays = received_commands(site, "ReplayEvents")
    assert [r["payload"] for r in replays] == [{"afterSeq": closed_seq - 1}] * 2
    assert "asking again with back-off" in caplog.text
    assert len(sent(site, "Boot")) == boots, "a Boot, not the retry, brought the events back"
