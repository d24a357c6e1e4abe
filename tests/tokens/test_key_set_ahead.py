"""NetworkKeys.advance_past: the network's key-set version moves past a locker that is ahead."""

from __future__ import annotations

from datetime import timedelta

from gateway.domain.audit import AuditAction
from gateway.store import Store
from gateway.tokens.network_keys import MAX_KEY_SET_VERSION, MAX_REPAIR_JUMP, NetworkKeys
from tests.support.clock import MovableClock
from tests.tokens.grant_helpers import LOCKER, NETWORK


async def ahead_audits(store: Store) -> list[dict[str, object]]:
    async with store.transaction() as tx:
        rows = await tx.audit.latest(10, action=AuditAction.KEY_SET_AHEAD, subject=LOCKER)
    return [dict(r.details) for r in rows]


async def test_the_version_jumps_past_the_locker_and_every_instance_sees_it(store: Store) -> None:
    clock = MovableClock()
    a = NetworkKeys(store=store, issuer=NETWORK, publish_lead=timedelta(0), clock=clock)
    b = NetworkKeys(store=store, issuer=NETWORK, publish_lead=timedelta(0), clock=clock)
    await a.ensure()
    await b.ensure()
    kids = {k.kid for k in a.records()}
    assert await a.advance_past(7, locker_id=LOCKER, actor="gateway:a") == 8
    assert a.version == 8
    assert {k.kid for k in a.records()} == kids  # same keys, higher version
    assert await b.refresh()
    assert b.version == 8
    # A second instance handling the same Boot finds it repaired: no second jump, no audit.
    assert await b.advance_past(7, locker_id=LOCKER, actor="gateway:b") == 8
    assert await ahead_audits(store) == [
        {"reported": 7, "network": 1, "version": 8, "repaired": True}
    ]


async def test_a_version_far_ahead_is_audited_but_not_followed(store: Store) -> None:
    keys = NetworkKeys(store=store, issuer=NETWORK, clock=MovableClock())
    await keys.ensure()
    for held in (1 + MAX_REPAIR_JUMP + 1, MAX_KEY_SET_VERSION):
        assert await keys.advance_past(held, locker_id=LOCKER, actor="gateway:a") == 1
    assert keys.version == 1
    assert [(d["reported"], d["repaired"]) for d in await ahead_audits(store)] == [
        (1 + MAX_REPAIR_JUMP + 1, False),
        (MAX_KEY_SET_VERSION, False),
    ]
