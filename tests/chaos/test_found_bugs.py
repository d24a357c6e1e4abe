"""Focused reproductions of what the chaos run found (tests/chaos/runner.py), one test each."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
from locker_emulator.bank import EmulatorBank
from locker_emulator.spec import Spec

from tests.e2e.conftest import Site
from tests.emulator.fake_gateway import FakeGateway

OPEN_A01 = {"compartmentCode": "A01", "purpose": "deposit"}

NO_ANSWER = "no answer to the unlock for an accepted code"


async def _logged(caplog: pytest.LogCaptureFixture, text: str, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not any(text in record.getMessage() for record in caplog.records):
            await asyncio.sleep(0.05)


async def test_keypad_open_whose_reply_was_lost_still_moves_the_parcel(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    """Found by the chaos run (a broker restart while a recipient typed the code): the locker
    opened the door for an accepted code but its reply was lost; the gateway then ended the
    door session as failed, so the door's close was "outside a session" and the parcel stayed
    `ready_for_pickup` with its compartment empty."""
    caplog.set_level(logging.WARNING, logger="gateway.service.keypad_entry")
    door = (await site.book("LOST-REPLY-1"))["compartmentCode"]
    site.locker.enter_code(await site.code("LOST-REPLY-1"))
    await asyncio.wait_for(site.locker.wait_door(door, "open"), 10)
    site.locker.deposit(door)
    await site.wait_state("LOST-REPLY-1", "ready_for_pickup")

    # The unlock's reply only: a SetKeySet the new code sends out first (key distribution)
    # would otherwise swallow the lost reply, and the unlock's own reply would arrive.
    site.locker.lose_next_replies(1, action="OpenCompartment")
    site.locker.enter_code(await site.code("LOST-REPLY-1"))
    await asyncio.wait_for(site.locker.wait_door(door, "open"), 10)
    await _logged(caplog, NO_ANSWER, 15)  # the gateway gave up waiting for the reply
    site.locker.take(door)
    await site.wait_state("LOST-REPLY-1", "picked_up")


async def test_a_command_whose_exp_passes_before_the_locker_acts_is_not_performed(
    bank: EmulatorBank, gateway: FakeGateway, spec: Spec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the long chaos run on a loaded machine: a locker received an OpenCompartment
    in time but opened the door 0.33 s after its `exp` (the check ran on receipt only). The
    gateway counts on nothing opening after `exp` when it redoes an unanswered open."""
    locker = bank["EMU-001"]
    checks = spec.message_problems

    def busy_check(message: Any) -> Any:
        if isinstance(message, dict) and message.get("action") == "OpenCompartment":
            time.sleep(0.5)  # the controller is busy between receiving and acting
        return checks(message)

    monkeypatch.setattr(spec, "message_problems", busy_check)
    command = await gateway.command("EMU-001", "OpenCompartment", OPEN_A01, exp_seconds=0.3)

    def settled() -> bool:
        dropped = any(
            e.get("envelope", {}).get("id") == command["id"]
            and str(e.get("note", "")).startswith("dropped")
            for e in locker.log_entries()
        )
        return dropped or locker.unlock_count("A01") > 0

    async with asyncio.timeout(10):
        await locker.wait_until(settled)
    assert locker.unlock_count("A01") == 0, "opened after the command's exp"
