"""A locker whose link a proxy cuts: one WARNING line per loss, and back soon after the link is.

Between the emulator and a private Mosquitto sits tests/support/tcp_faults.py's proxy; a
partition cuts the live connection and cuts every new one right after accepting it, so the
locker's reconnect attempts die during CONNECT. Before, each such attempt waited aiomqtt's
whole 10 s timeout for a CONNACK that could not come (the locker was back ~9 s after the link
was), and paho logged every cut as an ERROR of its own next to the session's warning.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from locker_emulator import EmulatorBank, Spec, preset_lockers

from tests.emulator.conftest import FAST, ROOT
from tests.emulator.fake_gateway import FakeGateway
from tests.support.mosquitto import Mosquitto
from tests.support.tcp_faults import FaultyLink

CUTS = 3
# FAST reconnects within 0.05..0.3 s (+ a Boot): well under the 10 s a CONNECT could wait.
BACK_WITHIN_S = 3.0


async def test_a_cut_link_is_one_warning_and_a_prompt_reconnect(
    broker: Mosquitto, spec: Spec, gateway: FakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    loop = asyncio.get_running_loop()
    async with FaultyLink(upstream_port=broker.port) as link:
        bank = EmulatorBank(
            mqtt_url=link.url,
            lockers=preset_lockers(1, "small"),
            spec=spec,
            timing=FAST,
            root_key=ROOT.jwk,
        )
        async with bank:
            (locker,) = list(bank)
            await asyncio.wait_for(locker.wait_booted(), 10)
            took = []
            for _ in range(CUTS):
                link.partition()
                await asyncio.wait_for(locker.wait_until(lambda: not locker.model.online), 10)
                await asyncio.sleep(1.0)  # reconnect attempts meanwhile die during CONNECT
                link.heal()
                healed = loop.time()
                await asyncio.wait_for(locker.wait_booted(), 15)
                took.append(loop.time() - healed)
    assert max(took) < BACK_WITHIN_S, took
    assert link.dropped >= CUTS  # live connections were cut, not closed politely

    mine = [r for r in caplog.records if r.name.startswith(("locker_emulator", "asyncio"))]
    loud = [(r.name, r.levelname, r.getMessage()) for r in mine if r.levelno >= logging.ERROR]
    assert loud == [], loud
    assert [r.getMessage() for r in mine if r.exc_info] == []  # no traceback at all
    lost = [
        r for r in mine if r.levelno == logging.WARNING and "connection lost:" in r.getMessage()
    ]
    assert len(lost) == CUTS, [r.getMessage() for r in lost]  # one line per cut
