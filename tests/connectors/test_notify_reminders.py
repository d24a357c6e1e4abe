"""Pickup reminders: queued once per deadline, by whichever instance gets there first."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

from gateway.domain.webhooks import DeliveryState
from gateway.http import render
from gateway.sdk.connectors import PICKUP_REMINDER
from gateway.service.idempotency import IdempotencyKey, Idempotent
from gateway.service.reminders import ReminderScheduler
from gateway.store import Store
from tests.connectors.notify_world import (
    LOCKER,
    NETWORK,
    World,
    no_personal_data_in_logs,
    recipient,
    world,
)

__all__ = ["no_personal_data_in_logs", "world"]  # fixtures, used by name

LEAD = timedelta(hours=24)
CODE = re.compile(r"(?:Kod odbioru|Nowy kod odbioru): (\d+)")


def scheduler(world: World, store: Store | None = None) -> ReminderScheduler:
    return ReminderScheduler(
        store=store or world.store, lead=LEAD, network_id=NETWORK, clock=world.clock
    )


async def reminder_rows(world: World, target: str = "mail") -> list[str]:
    return [r.event_id for r in await world.rows(target) if r.type == PICKUP_REMINDER]


async def test_reminder_goes_out_once_before_the_deadline_with_a_new_code(world: World) -> None:
    await world.attach_email()
    await world.ready("RM-1", recipient())
    await world.deliver()
    reminders = scheduler(world)

    assert await reminders.run_once() == 0  # 72 h left: not yet
    world.clock.advance(timedelta(hours=47, minutes=59).total_seconds())
    assert await reminders.run_once() == 0
    world.clock.advance(120)
    assert await reminders.run_once() == 1
    assert await reminders.run_once() == 0  # marked: not again
    assert len(await reminder_rows(world)) == 1

    await world.deliver()
    ready, reminder = world.smtp.received
    assert reminder.message["Subject"] == "Przypomnienie: paczka RM-1 czeka w Centrum 01"
    old = CODE.search(ready.message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    new = CODE.search(reminder.message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert old
    assert new
    assert old.group(1) != new.group(1)
    async with world.store.transaction() as tx:
        # Both messages' codes open: the recipient may type the one from either.
        assert await world.codes.redeem(tx, LOCKER, new.group(1)) is not None
        assert await world.codes.redeem(tx, LOCKER, old.group(1)) is not None
    [row] = [r for r in await world.rows() if r.type == PICKUP_REMINDER]
    assert row.state is DeliveryState.DELIVERED


async def test_two_instances_racing_queue_each_reminder_once(
    world: World, database_url: str
) -> None:
    await world.attach_email()
    for n in range(6):
        await world.ready(f"RM-RACE-{n}", recipient())
    world.clock.advance(timedelta(hours=49).total_seconds())
    async with Store.connect(database_url) as other:
        counts = await asyncio.gather(
            scheduler(world).run_once(),
            scheduler(world, other).run_once(),
            scheduler(world).run_once(),
            scheduler(world, other).run_once(),
        )
    assert sum(counts) == 6
    rows = await reminder_rows(world)
    assert len(rows) == len(set(rows)) == 6


async def test_extending_the_window_re_arms_the_reminder(world: World) -> None:
    await world.attach_email()
    await world.ready("RM-2", recipient())
    reminders = scheduler(world)
    world.clock.advance(timedelta(hours=49).total_seconds())
    assert await reminders.run_once() == 1
    parcel = await world.parcels.get("acme", "RM-2")
    assert parcel.pickup_until is not None
    extend = Idempotent(IdempotencyKey("ext", "ext"), render.parcel)
    await world.parcels.extend("acme", "RM-2", extend, parcel.pickup_until + timedelta(hours=48))
    assert await reminders.run_once() == 0  # the new deadline is 71 h away
    world.clock.advance(timedelta(hours=48).total_seconds())
    assert await reminders.run_once() == 1
    first, second = await reminder_rows(world)
    assert first != second


async def test_no_reminder_when_the_window_is_no_longer_than_the_lead(world: World) -> None:
    await world.attach_email()
    await world.ready("RM-3", recipient())
    world.clock.advance(timedelta(hours=49).total_seconds())
    short = ReminderScheduler(
        store=world.store, lead=timedelta(hours=72), network_id=NETWORK, clock=world.clock
    )
    assert await short.run_once() == 0


async def test_reminders_go_to_notifiers_only(world: World) -> None:
    await world.attach_email()
    await world.attach("hooks", "olp-webhooks", {"url": "https://carrier.example/hooks"}, None)
    await world.ready("RM-4", recipient())
    world.clock.advance(timedelta(hours=49).total_seconds())
    assert await scheduler(world).run_once() == 1
    assert len(await reminder_rows(world, "mail")) == 1
    assert await reminder_rows(world, "hooks") == []


async def test_picked_up_parcels_get_no_reminder(world: World) -> None:
    from gateway.domain.enums import ParcelAction

    await world.attach_email()
    uid = await world.ready("RM-5", recipient())
    await world.parcels.apply_action(uid, ParcelAction.PICK_UP)
    world.clock.advance(timedelta(hours=49).total_seconds())
    assert await scheduler(world).run_once() == 0


async def test_no_reminder_rows_without_a_recipient_or_after_opt_out(world: World) -> None:
    await world.attach_email()
    await world.ready("RM-6", None)
    await world.ready("RM-7", recipient(opt_out=True))
    world.clock.advance(timedelta(hours=49).total_seconds())
    reminders = scheduler(world)
    assert await reminders.run_once() == 2  # claimed, so not looked at again...
    assert await reminders.run_once() == 0
    assert await reminder_rows(world) == []  # ...but nothing queued


async def test_the_reminder_event_is_the_one_that_made_the_parcel_ready(world: World) -> None:
    await world.attach_email()
    await world.ready("RM-8", recipient())
    world.clock.advance(timedelta(hours=49).total_seconds())
    await scheduler(world).run_once()
    [row] = [r for r in await world.rows() if r.type == PICKUP_REMINDER]
    assert row.body["type"] == PICKUP_REMINDER
    assert row.body["event"]["toState"] == "ready_for_pickup"
    assert row.body["event"]["seq"] == 3  # announced, reserved, ready
    assert row.parcel_seq == 4
