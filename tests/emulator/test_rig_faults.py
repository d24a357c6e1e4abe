"""Emulator hooks the adapter conformance rig relies on: unlock counts and lost replies."""

from __future__ import annotations

import pytest
from locker_emulator import EmulatorBank, UnknownCompartment

from tests.emulator.fake_gateway import FakeGateway, is_event, no_reply

OPEN_A01 = {"compartmentCode": "A01", "purpose": "deposit"}


async def test_unlock_count_counts_real_releases_only(
    bank: EmulatorBank, gateway: FakeGateway
) -> None:
    locker = bank["EMU-001"]
    assert locker.unlock_count("A01") == 0
    await gateway.reply_to(await gateway.command("EMU-001", "OpenCompartment", OPEN_A01))
    assert locker.unlock_count("A01") == 1
    # The door is open already: the lock does not release again.
    await gateway.reply_to(await gateway.command("EMU-001", "OpenCompartment", OPEN_A01))
    assert locker.unlock_count("A01") == 1
    locker.close("A01")
    # A stuck lock does not release; a jammed door's lock does (the door just stays put).
    locker.update_compartment_faults("A02", {"stuck_lock": True})
    locker.update_compartment_faults("A03", {"jammed": True})
    for code in ("A02", "A03"):
        body = {"compartmentCode": code, "purpose": "deposit"}
        await gateway.reply_to(await gateway.command("EMU-001", "OpenCompartment", body))
    assert (locker.unlock_count("A02"), locker.unlock_count("A03")) == (0, 1)
    # An unknown compartment is an error, and not a count of zero.
    with pytest.raises(UnknownCompartment):
        locker.unlock_count("Z99")


async def test_a_lost_reply_still_acts_and_only_the_next_reply_is_lost(
    bank: EmulatorBank, gateway: FakeGateway
) -> None:
    locker = bank["EMU-001"]
    locker.lose_next_replies()
    lost = await gateway.command("EMU-001", "OpenCompartment", OPEN_A01)
    assert await no_reply(gateway, lost)
    await gateway.wait_for(is_event("DoorOpened"))
    assert locker.compartment("A01").door == "open"
    assert locker.unlock_count("A01") == 1
    assert any("lose_next_reply" in e.get("note", "") for e in locker.log_entries())
    answered = await gateway.command(
        "EMU-001", "OpenCompartment", {"compartmentCode": "A02", "purpose": "deposit"}
    )
    reply = await gateway.reply_to(answered)
    assert reply.payload == {"compartmentCode": "A02", "outcome": "Unlocked"}
    with pytest.raises(ValueError, match="negative"):
        locker.lose_next_replies(-1)


async def test_lost_replies_of_one_action_spare_the_other_commands(
    bank: EmulatorBank, gateway: FakeGateway
) -> None:
    """A test that loses the reply to an unlock must not have it eaten by whatever else the
    gateway sends first (a SetKeySet after a new code: tests/chaos/test_found_bugs.py)."""
    locker = bank["EMU-001"]
    locker.lose_next_replies(1, action="OpenCompartment")
    shown = await gateway.command("EMU-001", "Display", {"message": "Welcome"})
    assert (await gateway.reply_to(shown)).kind == "result"
    lost = await gateway.command("EMU-001", "OpenCompartment", OPEN_A01)
    assert await no_reply(gateway, lost)
    await gateway.wait_for(is_event("DoorOpened"))
    assert locker.unlock_count("A01") == 1
    answered = await gateway.command(
        "EMU-001", "OpenCompartment", {"compartmentCode": "A02", "purpose": "deposit"}
    )
    assert (await gateway.reply_to(answered)).payload["outcome"] == "Unlocked"
