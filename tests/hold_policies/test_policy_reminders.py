"""Reminders at the times a hold-time policy names, each once, re-armed by an extension;
sent through a real notifier (e-mail to a local SMTP server)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

from gateway.domain.enums import ParcelAction
from gateway.domain.hold_policy import HoldPolicy, PolicyScope, settings_hold
from gateway.http import render
from gateway.sdk.connectors import PICKUP_REMINDER
from gateway.service.hold_policies import HoldPolicies
from gateway.service.idempotency import IdempotencyKey, Idempotent
from gateway.service.parcels import ParcelService
from gateway.service.reminders import ReminderScheduler
from gateway.store import Store
from tests.connectors.notify_world import (
    CARRIER,
    LOCKER,
    NETWORK,
    PICKUP_WINDOW,
    World,
    no_personal_data_in_logs,
    recipient,
    world,
)

__all__ = ["no_personal_data_in_logs", "world"]  # fixtures, used by name

H = timedelta(hours=1)


def with_policies(world: World, store: Store | None = None) -> World:
    """The world's parcel service, applying hold-time policies over a 24 h-lead default."""
    policies = HoldPolicies(
        store=store or world.store,
        base=settings_hold(PICKUP_WINDOW, 24 * H, timedelta(days=2)),
        network_id=NETWORK,
        clock=world.clock,
    )
    parcels = ParcelService(
        store=store or world.store,
        reservation_ttl=24 * H,
        pickup_window=PICKUP_WINDOW,
        clock=world.clock,
        network_id=NETWORK,
        hold_policies=policies,
    )
    return dataclasses.replace(world, parcels=parcels)


def scheduler(world: World, store: Store | None = None) -> ReminderScheduler:
    # No legacy lead: only the policies' reminder times count here.
    return ReminderScheduler(
        store=store or world.store, lead=None, network_id=NETWORK, clock=world.clock
    )


async def reminders_sent(world: World) -> int:
    return len([r for r in await world.rows() if r.type == PICKUP_REMINDER])


async def test_each_reminder_of_the_policy_goes_out_once(world: World) -> None:
    async with world.store.transaction() as tx:
        await tx.hold_policies.put(
            PolicyScope.LOCKER, LOCKER, HoldPolicy(hold_days=3, reminder_hours=(48, 6)), actor="t"
        )
    world = with_policies(world)
    await world.attach_email()
    await world.ready("PR-1", recipient())
    reminders = scheduler(world)

    assert await reminders.run_once() == 0  # 72 h left
    world.clock.advance((24 * H + timedelta(minutes=1)).total_seconds())
    assert await reminders.run_once() == 1  # 48 h before
    assert await reminders.run_once() == 0
    world.clock.advance((42 * H).total_seconds())
    assert await reminders.run_once() == 1  # 6 h before
    world.clock.advance((5 * H).total_seconds())
    assert await reminders.run_once() == 0  # none left
    assert await reminders_sent(world) == 2

    for _ in range(5):  # one row of a parcel per pass: its events go out in order
        if not await world.deliver():
            break
    subjects = [m.message["Subject"] for m in world.smtp.received]
    assert sum("Przypomnienie" in s for s in subjects) == 2
    parcel = await world.parcels.get(CARRIER, "PR-1")
    assert parcel.next_reminder_at is None


async def test_an_extension_re_arms_the_reminders_and_missed_ones_collapse(world: World) -> None:
    async with world.store.transaction() as tx:
        await tx.hold_policies.put(
            PolicyScope.CARRIER, CARRIER, HoldPolicy(reminder_hours=(24, 12, 2)), actor="t"
        )
    world = with_policies(world)
    await world.attach_email()
    uid = await world.ready("PR-2", recipient())
    reminders = scheduler(world)
    # No instance ran while the 24 h and 12 h reminders came due: one goes out, not two.
    world.clock.advance((72 - 11) * H.total_seconds())
    assert await reminders.run_once() == 1
    parcel = await world.parcels.get(CARRIER, "PR-2")
    assert parcel.pickup_until is not None
    assert parcel.next_reminder_at == parcel.pickup_until - 2 * H

    later = parcel.pickup_until + timedelta(days=1)
    key = IdempotencyKey("extend-pr-2", "x")
    await world.parcels.extend(CARRIER, "PR-2", Idempotent(key, render.parcel), later)
    extended = await world.parcels.get(CARRIER, "PR-2")
    assert extended.next_reminder_at == later - 24 * H  # all three again, for the new deadline
    world.clock.advance(14 * H.total_seconds())
    assert await reminders.run_once() == 1
    assert await reminders_sent(world) == 2
    assert uid == extended.uid


async def test_two_instances_queue_each_policy_reminder_once(
    world: World, database_url: str
) -> None:
    async with world.store.transaction() as tx:
        await tx.hold_policies.put(
            PolicyScope.CARRIER, CARRIER, HoldPolicy(reminder_hours=(24,)), actor="t"
        )
    world = with_policies(world)
    await world.attach_email()
    for n in range(6):
        await world.ready(f"PR-RACE-{n}", recipient())
    world.clock.advance(49 * H.total_seconds())
    async with Store.connect(database_url) as other:
        counts = await asyncio.gather(
            scheduler(world).run_once(), scheduler(world, other).run_once()
        )
    assert sum(counts) == 6
    assert await reminders_sent(world) == 6


async def test_a_parcel_booked_without_a_policy_keeps_the_old_reminder(world: World) -> None:
    # Booked as before migration 0016 (no policy on the parcel): the legacy lead applies.
    await world.attach_email()
    await world.ready("PR-OLD", recipient())
    legacy = ReminderScheduler(
        store=world.store, lead=24 * H, network_id=NETWORK, clock=world.clock
    )
    world.clock.advance(49 * H.total_seconds())
    assert await legacy.run_once() == 1
    assert await scheduler(world).run_once() == 0
    parcel = await world.parcels.get(CARRIER, "PR-OLD")
    assert parcel.hold is None
    await world.parcels.apply_action(parcel.uid, ParcelAction.PICK_UP)
