"""Keypad lockouts as network events: `locker.keypad_locked`, and `locker.keypad_cleared`
when an operator ends one with `openlocker lockers keypad-clear` (audited with who and why)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from typing import Any

from gateway.domain.audit import AuditAction
from gateway.sdk import CodeEntered
from gateway.service.audit import AuditService
from tests.webhooks.conftest import FakeCarrier, Hooks

LOCKER = "WAW-CENTRAL-01"
LIMIT = 5  # the default keypad_max_failures
NETWORK_EVENTS = ["locker.keypad_locked", "locker.keypad_cleared"]


async def openlocker(hooks: Hooks, *args: str) -> tuple[int, str, str]:
    """The real CLI entry point, in its own thread and event loop, as an operator runs it."""
    from gateway.cli import main

    out, err = io.StringIO(), io.StringIO()
    url = hooks.site.gateway.settings.store.database_url

    def run() -> int:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            return main(["--database-url", url, *args])

    code = await asyncio.to_thread(run)
    return code, out.getvalue(), err.getvalue()


async def type_codes(hooks: Hooks, prefix: str, count: int) -> list[str]:
    """`count` wrong codes typed at the locker's keypad, each handled to the end; verdicts."""
    gateway = hooks.site.gateway
    for n in range(count):
        event = CodeEntered(
            locker_id=LOCKER, at=hooks.site.clock(), event_id=f"{prefix}-{n}", code=f"3100{n:04d}"
        )
        await gateway.locker_side.host.locker_event(event)
    tried = await AuditService(store=gateway.store).latest(count, action=AuditAction.CODE_TRIED)
    return [str(t.details["result"]) for t in tried]


async def deliveries(hooks: Hooks, sub: dict[str, Any], carrier: Any = None) -> list[Any]:
    response = await hooks.site.get(f"/v1/webhooks/{sub['id']}/deliveries", carrier=carrier)
    assert response.status_code == 200, response.text
    hooks.site.spec.validate("webhook-delivery-list", response.json())
    items: list[Any] = response.json()["items"]
    return items


async def test_a_lockout_and_its_clearing_reach_the_subscriptions_that_asked(
    hooks: Hooks, receiver: FakeCarrier
) -> None:
    site = hooks.site
    ops = await hooks.subscribe(receiver.url("/ops"), events=NETWORK_EVENTS)
    every = await hooks.subscribe(receiver.url("/all"))  # every type: parcel events only
    globex = await hooks.subscribe(
        receiver.url("/globex"), events=["locker.keypad_locked"], carrier=site.globex
    )

    assert await type_codes(hooks, "wrong", LIMIT) == ["rejected"] * LIMIT
    await receiver.wait_for(1, path="/ops")
    await receiver.wait_for(1, path="/globex")
    (locked,) = receiver.delivered("/ops")
    body = locked.json()
    site.spec.validate("webhook-locker-event", body)
    assert (body["type"], body["lockerId"]) == ("locker.keypad_locked", LOCKER)
    assert body["keypad"]["reason"] == "window"
    assert (body["keypad"]["lockout"], body["keypad"]["dailyFailures"]) == (1, LIMIT)
    assert locked.headers["olp-event-type"] == "locker.keypad_locked"
    assert locked.headers["olp-event-id"] == body["eventId"]
    assert "olp-signature" in locked.headers
    assert receiver.delivered("/globex")[0].json() == body  # one event, one id, two receivers
    # The keypad is locked: even a code typed now is not looked at.
    assert await type_codes(hooks, "locked", 1) == ["locked-out"]

    code, out, err = await openlocker(
        hooks, "lockers", "keypad-clear", LOCKER, "--reason", "site checked", "--as", "jk"
    )
    assert code == 0, err
    assert "cleared by operator:jk" in out
    assert "1 webhook subscription(s) notified" in out

    await receiver.wait_for(2, path="/ops")
    cleared = receiver.delivered("/ops")[1].json()
    site.spec.validate("webhook-locker-event", cleared)
    assert cleared["type"] == "locker.keypad_cleared"
    assert (cleared["clearedBy"], cleared["reason"]) == ("operator:jk", "site checked")
    assert cleared["keypad"] == {
        "reason": "window",
        "lockedUntil": None,
        "lockout": 0,
        "dailyFailures": 0,
    }
    # What was queued is in the outbox, written with the lockout and the clearing: complete
    # now. The "every type" subscription got no network event; globex asked only for locks.
    assert [d["type"] for d in await deliveries(hooks, ops)] == NETWORK_EVENTS
    assert {d["parcelId"] for d in await deliveries(hooks, ops)} == {None}
    assert await deliveries(hooks, every) == []
    assert len(await deliveries(hooks, globex, carrier=site.globex)) == 1

    audit = AuditService(store=site.gateway.store)
    (entry,) = await audit.latest(1, action=AuditAction.KEYPAD_CLEARED)
    assert (entry.actor, entry.subject) == ("operator:jk", LOCKER)
    assert (entry.details["reason"], entry.details["limit"]) == ("site checked", "window")
    assert (await audit.verify()).ok

    # The keypad takes codes again: a wrong one is judged, not refused unread.
    assert await type_codes(hooks, "after", 1) == ["rejected"]


async def test_clearing_a_keypad_that_is_not_locked_changes_nothing(
    hooks: Hooks, receiver: FakeCarrier
) -> None:
    ops = await hooks.subscribe(receiver.url("/ops"), events=NETWORK_EVENTS)
    code, _out, err = await openlocker(
        hooks, "lockers", "keypad-clear", LOCKER, "--reason", "just in case"
    )
    assert code == 1
    assert "not locked out" in err
    code, _out, err = await openlocker(hooks, "lockers", "keypad-clear", "NO-SUCH", "--reason", "x")
    assert (code, "no locker" in err) == (1, True)
    assert await deliveries(hooks, ops) == []
    audit = AuditService(store=hooks.site.gateway.store)
    assert await audit.latest(5, action=AuditAction.KEYPAD_CLEARED) == []
    assert json.dumps(receiver.delivered()) == "[]"
