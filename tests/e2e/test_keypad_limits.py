"""PIN brute force at a real keypad: lockout, doubling back-off, SecurityEvent, shared counters."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.app import Gateway
from gateway.domain.audit import AuditAction
from gateway.sdk import CodeEntered
from gateway.service.audit import AuditService
from gateway.store.audit import AuditRecord
from tests.e2e.conftest import LOCKER, Site, eventually
from tests.http.conftest import settings_for

LIMIT = 5  # the default keypad_max_failures
BASE_S = 60  # the default keypad_lockout_base_s


def wrong_codes(right: str) -> Iterator[str]:
    """Well-formed 8-digit codes that are not `right`."""
    return (f"{n:08d}" for n in range(31_000_000, 32_000_000) if f"{n:08d}" != right)


async def entries(gateway: Gateway, action: AuditAction) -> list[AuditRecord]:
    return await AuditService(store=gateway.store).latest(1000, action=action)


async def type_code(site: Site, code: str) -> dict[str, Any]:
    """Type `code` on the emulated keypad; the gateway's verdict, from the audit trail."""
    before = len(await entries(site.gateway, AuditAction.CODE_TRIED))
    site.locker.enter_code(code)

    async def count() -> int:
        return len(await entries(site.gateway, AuditAction.CODE_TRIED))

    await eventually(count, before + 1)
    tried = await entries(site.gateway, AuditAction.CODE_TRIED)
    assert tried[-1].actor == f"locker:{LOCKER}"
    assert code not in repr(tried[-1].details)  # the digits never reach the audit trail
    return tried[-1].details


async def refused(site: Site, code: str) -> tuple[dict[str, Any], str]:
    """Type a code the gateway must refuse: its verdict (audit trail) and its answer on the
    display, which comes after the decision: proof that nothing else (an open) follows."""
    shown = site.locker.display
    verdict = await type_code(site, code)
    async with asyncio.timeout(10):
        await site.locker.wait_until(lambda: site.locker.display is not shown)
    answer = site.locker.display
    assert answer is not None
    return verdict, str(answer["message"])


async def display(site: Site) -> str | None:
    shown = site.locker.display
    return None if shown is None else str(shown["message"])


def advance(site: Site, seconds: float) -> None:
    """Time passes for the gateway and the locker alike: a keypad entry stamped by a locker
    whose clock stood still would be minutes old, and refused as stale (SPEC §9)."""
    site.clock.advance(seconds)
    skew = site.locker.model.faults.clock_skew
    site.locker.update_faults({"clock_skew": skew + seconds})


async def test_a_brute_force_locks_the_keypad_with_a_doubling_back_off(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    door = (await site.book("KP-1"))["compartmentCode"]
    code = await site.code("KP-1")
    wrong = wrong_codes(code)
    for _ in range(LIMIT - 1):
        assert (await type_code(site, next(wrong)))["result"] == "rejected"
    await eventually(lambda: display(site), "CodeRejected")

    with caplog.at_level(logging.WARNING, logger="gateway.service.keypad_entry"):
        last = await type_code(site, next(wrong))
        await eventually(lambda: display(site), "LockedOut")
    assert last["result"] == "rejected"
    assert "SecurityEvent: keypad of locker WAW-CENTRAL-01 locked" in caplog.text
    [lockout] = await entries(site.gateway, AuditAction.KEYPAD_LOCKOUT)
    assert (lockout.subject, lockout.details["lockout"]) == (LOCKER, 1)
    assert lockout.details["backoffS"] == BASE_S

    # During the lock even the right code is not looked at, and opens nothing.
    assert (await type_code(site, code))["result"] == "locked-out"
    advance(site, BASE_S - 1)
    verdict, answer = await refused(site, code)
    assert (verdict["result"], answer) == ("locked-out", "LockedOut")
    assert site.locker.unlock_count(door) == 0
    assert site.locker.compartment(door).door.value == "closed"

    # The next lockout lasts twice as long.
    advance(site, 2)
    for _ in range(LIMIT):
        assert (await type_code(site, next(wrong)))["result"] == "rejected"
    second = (await entries(site.gateway, AuditAction.KEYPAD_LOCKOUT))[-1]
    assert (second.details["lockout"], second.details["backoffS"]) == (2, 2 * BASE_S)
    advance(site, BASE_S + 1)
    assert (await type_code(site, code))["result"] == "locked-out"

    # Once it ends, the right code (never used up by the locked attempts) opens the door.
    advance(site, BASE_S)
    assert (await type_code(site, code))["result"] == "accepted"
    await asyncio.wait_for(site.locker.wait_door(door, "open"), 10)
    async with site.gateway.store.transaction() as tx:
        counter = await tx.keypads.get(LOCKER)
    assert counter is not None
    assert (counter.failures, counter.lockouts, counter.locked_until) == (0, 0, None)

    async def unlock_audited() -> bool:
        # The locker reports DoorOpened after the door moved; the gateway audits it when it
        # has processed that event, a moment after the emulator shows the door open.
        opened = await entries(site.gateway, AuditAction.DOOR_OPENED)
        return any(
            e.actor == f"locker:{LOCKER}" and e.details["source"] == "unlock" for e in opened
        )

    await eventually(unlock_audited, True)
    assert (await AuditService(store=site.gateway.store).verify()).ok


async def test_two_gateway_instances_share_one_keypad_counter(
    site: Site, database_url: str
) -> None:
    door = (await site.book("KP-2"))["compartmentCode"]
    code = await site.code("KP-2")
    wrong = wrong_codes(code)
    settings = settings_for(
        database_url, mqtt_url=site.broker.url, open_timeout_s=3.0, instance="gw-2"
    )
    async with Gateway(settings=settings, clock=site.clock) as second:
        # Each instance decides two wrong codes itself: neither alone reaches the limit...
        instances = [site.gateway, second] * 2
        for n, gateway in enumerate(instances[: LIMIT - 1]):
            event = CodeEntered(
                locker_id=LOCKER, at=site.clock(), event_id=f"kp2-{n}", code=next(wrong)
            )
            await gateway.locker_side.host.locker_event(event)
        # ...but the fifth, typed at the real keypad and handled by either, locks it.
        assert (await type_code(site, next(wrong)))["result"] == "rejected"
        assert len(await entries(second, AuditAction.KEYPAD_LOCKOUT)) == 1
        await eventually(lambda: display(site), "LockedOut")

        assert (await type_code(site, code))["result"] == "locked-out"
        direct = CodeEntered(locker_id=LOCKER, at=site.clock(), event_id="kp2-right", code=code)
        shown = site.locker.display
        # Handled to the end when this returns: decided, committed and answered.
        await second.locker_side.host.locker_event(direct)
        assert (await entries(second, AuditAction.CODE_TRIED))[-1].details["result"] == (
            "locked-out"
        )
        assert site.locker.display is not shown  # the answer went out: "LockedOut", no open
        assert await display(site) == "LockedOut"
        assert site.locker.unlock_count(door) == 0
        assert site.locker.compartment(door).door.value == "closed"


async def test_codes_shorter_than_eight_digits_never_open(site: Site) -> None:
    door = (await site.book("KP-3"))["compartmentCode"]
    code = await site.code("KP-3")
    assert len(code) == 8
    # The OLP keypad message allows 4 digits and up; a prefix of the real code is still wrong.
    assert (await refused(site, code[:6]))[0]["result"] == "rejected"
    assert (await refused(site, code + "0"))[0]["result"] == "rejected"
    assert site.locker.unlock_count(door) == 0
    assert site.locker.compartment(door).door.value == "closed"
    assert (await type_code(site, code))["result"] == "accepted"
    await asyncio.wait_for(site.locker.wait_door(door, "open"), 10)


async def test_concurrent_wrong_codes_on_two_instances_are_each_counted_once(
    site: Site, database_url: str
) -> None:
    await site.book("KP-4")
    right = await site.code("KP-4")
    wrong = wrong_codes(right)
    settings = settings_for(
        database_url, mqtt_url=site.broker.url, open_timeout_s=3.0, instance="gw-2"
    )
    async with Gateway(settings=settings, clock=site.clock) as second:
        events = [
            CodeEntered(locker_id=LOCKER, at=site.clock(), event_id=f"kp4-{n}", code=next(wrong))
            for n in range(2 * LIMIT)
        ]
        instances = [site.gateway, second] * LIMIT
        await asyncio.gather(
            *(gw.locker_side.host.locker_event(e) for gw, e in zip(instances, events, strict=True))
        )

    results = [e.details["result"] for e in await entries(site.gateway, AuditAction.CODE_TRIED)]
    # Exactly LIMIT wrong codes were counted; the rest arrived at a locked keypad.
    assert sorted(results) == ["locked-out"] * LIMIT + ["rejected"] * LIMIT
    assert len(await entries(site.gateway, AuditAction.KEYPAD_LOCKOUT)) == 1
