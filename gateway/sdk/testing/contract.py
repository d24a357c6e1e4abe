"""AdapterContract: the conformance suite every locker adapter passes, against its vendor's rig.

Subclass it in a test module (`class TestMyAdapter(AdapterContract)`) and give it a `rig`
fixture; each check skips, with the reason, when the rig's features lack what it needs. The
tests carry explicit asyncio marks, so they run under pytest-asyncio's strict mode as well.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from datetime import timedelta
from typing import TypeVar

import pytest
from pydantic import ValidationError

from gateway.sdk.adapter import AdapterConfig, AdapterFeatures, LockerAdapter
from gateway.sdk.domain import DoorState, ItemSensor
from gateway.sdk.errors import (
    AdapterConnectionError,
    AdapterProtocolError,
    AdapterTimeout,
    LockerNotConnected,
    OpenLockerError,
    ValidationFailed,
)
from gateway.sdk.events import (
    DoorClosed,
    DoorOpened,
    LockerEvent,
    OpenOutcome,
    OpenPurpose,
    PresenceChanged,
)
from gateway.sdk.lifetime import TaskSet
from gateway.sdk.testing.host import RecordingHost
from gateway.sdk.testing.rig import AdapterRig
from gateway.sdk.testing.session import Conformance, KitTiming, sdk_call

__all__ = ["AdapterContract", "Conformance"]

F = AdapterFeatures
T = TypeVar("T")
UNREACHABLE = (LockerNotConnected, AdapterConnectionError, AdapterTimeout)


def need(c: Conformance, feature: AdapterFeatures) -> None:
    if feature not in c.rig.features:
        pytest.skip(f"the rig's hardware has no {feature.name}")


def counts(c: Conformance) -> dict[str, int]:
    return {code: c.rig.unlock_count(code) for code in c.rig.compartments}


async def shut(c: Conformance, code: str, *, item_inside: bool = False) -> None:
    """Close a door the test opened, and (with a door sensor) see it reported closed."""
    await c.rig.close_door(code, item_inside=item_inside)
    if c.has(F.DOOR_SENSOR):
        await c.events.next_matching(DoorClosed, within=c.timing.event_s, compartment_code=code)


class AdapterContract:
    """The contract checks; a vendor's subclass provides the `rig` fixture."""

    # ---- declarations --------------------------------------------------------------------

    def test_declares_name_features_and_a_strict_config_model(
        self, rig: AdapterRig, conformance_host: RecordingHost
    ) -> None:
        adapter = rig.make_adapter(conformance_host)
        kind = type(adapter)
        assert isinstance(adapter, LockerAdapter), "the adapter does not implement LockerAdapter"
        assert isinstance(kind.name, str), "`name` must be the entry-point name, a str"
        assert kind.name, "`name` must not be empty"
        assert isinstance(kind.features, AdapterFeatures)
        missing = rig.features & ~kind.features
        assert not missing, f"the rig has {missing}, which the adapter does not declare"
        assert len(rig.compartments) >= 2, "a rig needs at least two compartments"
        assert len(set(rig.compartments)) == len(rig.compartments), "duplicate codes in the rig"
        model = kind.config_model
        assert issubclass(model, AdapterConfig), "config_model must subclass AdapterConfig"
        assert "lenient" in model.model_fields, "config_model must keep AdapterConfig.lenient"
        with pytest.raises(ValidationError):
            model.model_validate({"no_such_setting_xyz": 1})
        # A flag without its method is silently ignored by the gateway: catch it here.
        for feature, protocol in _feature_protocols():
            if feature in kind.features:
                assert isinstance(adapter, protocol), (
                    f"the adapter declares {feature.name} but does not implement "
                    f"{protocol.__name__}"
                )

    # ---- opening -------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_open_unlocks_and_reports_door_opened(self, conformance: Conformance) -> None:
        c = conformance
        code = c.rig.compartments[0]
        before = counts(c)
        assert await c.open(code) is OpenOutcome.UNLOCKED
        assert c.rig.unlock_count(code) == before[code] + 1
        assert c.rig.door_open(code), "UNLOCKED, but the door is not open"
        if c.has(F.DOOR_SENSOR):
            opened = await c.events.next_matching(
                DoorOpened, within=c.timing.event_s, compartment_code=code
            )
            assert opened.locker_id == c.locker_id
            await shut(c, code)
        others = {k: v for k, v in counts(c).items() if k != code}
        assert others == {k: v for k, v in before.items() if k != code}, "another lock moved"

    @pytest.mark.asyncio
    async def test_concurrent_opens_of_two_doors_are_not_mixed_up(
        self, conformance: Conformance
    ) -> None:
        c = conformance
        first, second = c.rig.compartments[:2]
        before = counts(c)
        outcomes = await asyncio.gather(c.open(first), c.open(second))
        assert list(outcomes) == [OpenOutcome.UNLOCKED, OpenOutcome.UNLOCKED]
        after = counts(c)
        assert (after[first] - before[first], after[second] - before[second]) == (1, 1)
        assert c.rig.door_open(first)
        assert c.rig.door_open(second)

    @pytest.mark.asyncio
    @pytest.mark.parametrize("item_inside", [True, False], ids=["with-item", "empty"])
    async def test_close_reports_door_closed_with_the_item_sensor(
        self, conformance: Conformance, item_inside: bool
    ) -> None:
        c = conformance
        need(c, F.DOOR_SENSOR)
        code = c.rig.compartments[1]
        assert await c.open(code) is OpenOutcome.UNLOCKED
        await c.rig.close_door(code, item_inside=item_inside)
        closed = await c.events.next_matching(
            DoorClosed, within=c.timing.event_s, compartment_code=code
        )
        expected = ItemSensor.PRESENT if item_inside else ItemSensor.ABSENT
        if c.has(F.ITEM_SENSOR):
            assert closed.item is expected, f"DoorClosed says {closed.item}, the sensor {expected}"
        else:
            assert closed.item is ItemSensor.UNKNOWN, "without ITEM_SENSOR the item is unknown"

        async def status_shows_it() -> bool:
            found = [x for x in (await c.status()).compartments if x.code == code]
            if not found or found[0].door is not DoorState.CLOSED:
                return False
            return not c.has(F.ITEM_SENSOR) or found[0].item is expected

        await c.eventually(f"read_status showing {code} closed ({expected})", status_shows_it)

    @pytest.mark.asyncio
    async def test_jammed_door_is_reported_and_never_opened(self, conformance: Conformance) -> None:
        c = conformance
        code = c.rig.compartments[0]
        await c.rig.jam(code)
        outcome = await c.open(code)
        assert outcome in (OpenOutcome.DOOR_JAMMED, OpenOutcome.UNLOCK_FAILED), outcome
        assert not c.rig.door_open(code)
        await c.events.assert_none(DoorOpened, within=c.timing.quiet_s, compartment_code=code)

    # ---- refusing ------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_unknown_compartment_is_an_sdk_error_and_touches_nothing(
        self, conformance: Conformance
    ) -> None:
        c = conformance
        before = counts(c)
        unknown = next(f"ZZ{n}" for n in range(99, 10, -1) if f"ZZ{n}" not in c.rig.compartments)
        with pytest.raises((AdapterProtocolError, ValidationFailed)):
            await c.open(unknown)
        stranger = f"{c.locker_id}-NOT-THERE"
        with pytest.raises(OpenLockerError):
            await c.open(c.rig.compartments[0], locker_id=stranger)
        # The status of a locker the adapter does not know: offline, or an SDK error.
        with contextlib.suppress(OpenLockerError):
            status = await sdk_call(
                "read_status of an unknown locker",
                lambda: c.adapter.read_status(stranger),
                c.timing.grace_s,
            )
            assert not status.online, f"an unknown locker reads as online: {status}"
        await asyncio.sleep(c.timing.quiet_s)
        assert counts(c) == before, "a refused open released a lock"

    @pytest.mark.asyncio
    async def test_a_deadline_already_past_is_refused_without_unlocking(
        self, conformance: Conformance
    ) -> None:
        c = conformance
        code = c.rig.compartments[0]
        before = c.rig.unlock_count(code)
        with pytest.raises(OpenLockerError):
            await c.open(code, deadline=c.host.now() - timedelta(seconds=1))
        await asyncio.sleep(c.timing.quiet_s)
        assert c.rig.unlock_count(code) == before, "a late open released the lock"
        assert not c.rig.door_open(code)

    # ---- the unknown outcome -------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_lost_reply_is_proven_or_a_timeout_and_never_retried(
        self, conformance: Conformance
    ) -> None:
        c = conformance
        code = c.rig.compartments[0]
        before = c.rig.unlock_count(code)
        await c.rig.lose_next_reply()
        outcome: OpenOutcome | None = None
        with contextlib.suppress(AdapterTimeout):
            outcome = await c.open(code, deadline=c.deadline(c.timing.lost_reply_deadline_s))
        if outcome is not None:
            # Only a safe read may turn the silence into an answer, and it must be the truth.
            assert outcome is OpenOutcome.UNLOCKED, f"{outcome}, but the lock did release"
            assert c.rig.door_open(code), "UNLOCKED without an open door"
        await asyncio.sleep(c.timing.quiet_s)
        unlocks = c.rig.unlock_count(code) - before
        assert unlocks == 1, f"{unlocks} unlocks for one open: retried blindly (or never sent)"
        # The gateway (a person, really) may decide to open again: that must work.
        if c.rig.door_open(code):
            await shut(c, code)
        assert await c.open(code) is OpenOutcome.UNLOCKED
        assert c.rig.unlock_count(code) == before + 2

    # ---- presence ------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_disconnect_is_an_sdk_error_and_reconnect_works_again(
        self, conformance: Conformance
    ) -> None:
        c = conformance
        code = c.rig.compartments[0]
        before = c.rig.unlock_count(code)
        await c.rig.disconnect()
        if c.has(F.PRESENCE):
            await c.events.next_matching(
                PresenceChanged, within=c.timing.event_s, locker_id=c.locker_id, online=False
            )
        with pytest.raises(UNREACHABLE):
            await c.open(code)
        assert c.rig.unlock_count(code) == before, "an open released the lock while offline"
        await c.rig.reconnect()
        if c.has(F.PRESENCE):
            await c.events.next_matching(
                PresenceChanged, within=c.timing.ready_s, locker_id=c.locker_id, online=True
            )
        async with asyncio.timeout(c.timing.ready_s):
            await c.rig.wait_ready(c.adapter)
        assert await c.open(code) is OpenOutcome.UNLOCKED
        assert c.rig.unlock_count(code) == before + 1
        if c.has(F.PRESENCE):
            assert (await c.status()).online, "read_status says offline after the reconnect"

    @pytest.mark.asyncio
    async def test_status_of_a_ready_locker(self, conformance: Conformance) -> None:
        c = conformance

        async def complete() -> bool:
            status = await c.status()
            if c.has(F.PRESENCE) and not status.online:
                return False
            known = {x.code: x for x in status.compartments}
            if not c.has(F.DOOR_SENSOR):
                return True
            return all(code in known for code in c.rig.compartments)

        await c.eventually("read_status listing every door of a ready locker", complete)
        if c.has(F.DOOR_SENSOR):
            doors = {x.code: x.door for x in (await c.status()).compartments}
            assert all(doors[code] is DoorState.CLOSED for code in c.rig.compartments), doors

    # ---- events --------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_events_of_a_locker_come_in_order_with_unique_ids(
        self, conformance: Conformance
    ) -> None:
        c = conformance
        need(c, F.DOOR_SENSOR)
        for code in c.rig.compartments[:2]:
            assert await c.open(code) is OpenOutcome.UNLOCKED
            # At once, as a quick courier would: DoorClosed races DoorOpened through the adapter.
            await c.rig.close_door(code, item_inside=True)
            await c.events.next_matching(DoorClosed, within=c.timing.event_s, compartment_code=code)
        mine = c.events.of(c.locker_id)
        for code in c.rig.compartments[:2]:
            doors = [type(e).__name__ for e in mine if getattr(e, "compartment_code", None) == code]
            assert doors[:2] == ["DoorOpened", "DoorClosed"], f"{code}: events in order {doors}"
        overlapping = c.host.overlapping(c.locker_id)
        assert not overlapping, (
            f"host.locker_event was called for {c.locker_id} while its previous event was still "
            f"being applied ({len(overlapping)} time(s)): hand a locker's events over one at a "
            "time, from its lane (gateway.sdk.LockerLanes), or the gateway may apply them out "
            "of order"
        )
        ids = [e.event_id for e in mine]
        assert all(ids), "every event needs an event_id (the gateway dedupes on it)"
        assert len(set(ids)) == len(ids), f"event ids repeat: {ids}"
        assert all(e.at.tzinfo is not None for e in mine), "event times must be timezone-aware"
        seqs = [e.seq for e in mine if e.seq is not None]
        assert seqs == sorted(seqs), f"seq goes backwards: {seqs}"
        journal = [n for e in mine if (n := getattr(e, "event_seq", None)) is not None]
        assert journal == sorted(set(journal)), f"event_seq not increasing: {journal}"

    @pytest.mark.asyncio
    async def test_an_open_asked_for_while_an_event_is_handled_completes(
        self, conformance: Conformance
    ) -> None:
        # The gateway answers some events by opening a door through the same adapter before it
        # is done with the event (a code typed on the keypad opens its compartment). That open
        # must not wait for the event being handled: an adapter that hands events over inline
        # from the loop that also reads the replies, or under a lock its unlocks need, hangs.
        c = conformance
        need(c, F.DOOR_SENSOR)
        first, second = c.rig.compartments[:2]
        result: asyncio.Future[OpenOutcome | Exception] = asyncio.get_running_loop().create_future()

        async def open_second(event: LockerEvent) -> None:
            if result.done() or not isinstance(event, DoorClosed):
                return
            if event.compartment_code != first:
                return
            try:
                result.set_result(await c.open(second))
            except Exception as err:  # reported below, with what it was
                result.set_result(err)

        c.host.on_event = open_second
        try:
            assert await c.open(first) is OpenOutcome.UNLOCKED
            await c.rig.close_door(first, item_inside=False)
            limit = c.timing.event_s + c.timing.deadline_s + c.timing.grace_s
            async with asyncio.timeout(limit):
                outcome = await result
        finally:
            c.host.on_event = None
        if isinstance(outcome, Exception):
            raise AssertionError(
                f"an open of {second} asked for while handling DoorClosed({first}) failed: "
                f"{outcome} (hand events to the gateway from the locker's lane, never from the "
                "loop that reads the hardware's replies or under a lock an unlock needs)"
            ) from outcome
        assert outcome is OpenOutcome.UNLOCKED, outcome
        await c.events.next_matching(DoorOpened, within=c.timing.event_s, compartment_code=second)

    # ---- lifecycle -----------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_exit_leaves_no_task_running(
        self, rig: AdapterRig, conformance_host: RecordingHost, request: pytest.FixtureRequest
    ) -> None:
        timing = _timing(request)
        # A first adapter warms the rig up: whatever the rig itself starts (an emulated
        # board's server, its connections) exists before the count, and is not the adapter's.
        async with rig.make_adapter(conformance_host) as adapter:
            async with asyncio.timeout(timing.ready_s):
                await rig.wait_ready(adapter)
        before = asyncio.all_tasks()
        async with rig.make_adapter(conformance_host) as adapter:
            async with asyncio.timeout(timing.ready_s):
                await rig.wait_ready(adapter)
            # Move a door, so that whatever handing events over starts (a locker's lane) runs.
            code = rig.compartments[0]
            await adapter.open_compartment(
                rig.locker_id,
                code,
                purpose=OpenPurpose.DEPOSIT,
                deadline=conformance_host.now() + timedelta(seconds=timing.deadline_s),
            )
            await rig.close_door(code, item_inside=False)
            await asyncio.sleep(timing.quiet_s / 4)
        await _no_leftover_tasks(before, timing.grace_s)

    @pytest.mark.asyncio
    async def test_exit_fails_a_pending_call_promptly(
        self, rig: AdapterRig, conformance_host: RecordingHost, request: pytest.FixtureRequest
    ) -> None:
        timing = _timing(request)
        code = rig.compartments[0]
        before = rig.unlock_count(code)
        adapter = rig.make_adapter(conformance_host)
        long_deadline = conformance_host.now() + timedelta(seconds=timing.ready_s * 3)
        # The open runs as a task of its own: it must outlive the adapter's block.
        async with TaskSet("conformance") as tasks:
            async with adapter:
                async with asyncio.timeout(timing.ready_s):
                    await rig.wait_ready(adapter)
                await rig.lose_next_reply()
                pending = tasks.start(
                    _settled(
                        adapter.open_compartment(
                            rig.locker_id, code, purpose=OpenPurpose.DEPOSIT, deadline=long_deadline
                        )
                    ),
                    name="conformance-pending-open",
                )
                # The rig offers counts, not notifications: poll until the hardware acted.
                async with asyncio.timeout(timing.event_s):
                    while rig.unlock_count(code) == before and not pending.done():  # noqa: ASYNC110
                        await asyncio.sleep(0.02)
                answered_early = pending.done()
            if not answered_early:
                after_exit = await _settled(
                    sdk_call(
                        "the pending open after exit", lambda: _unwrap(pending), timing.grace_s
                    )
                )
        # Judged after the task set is left, so that a failure reads as itself.
        if answered_early:
            # By its own short timeout or a safe read: legitimate, but nothing was pending.
            early = pending.result()
            if isinstance(early, Exception) and not isinstance(early, OpenLockerError):
                raise early
            pytest.skip("the adapter settled the lost-reply open before exit; nothing pending")
        if isinstance(after_exit, OpenLockerError):
            return
        if isinstance(after_exit, Exception):
            raise after_exit
        raise AssertionError("an open pending at exit returned an outcome; it must fail")


async def _settled(call: Awaitable[T]) -> T | Exception:
    """The call's result or the exception it raised: a task of a TaskSet must not raise."""
    try:
        return await call
    except Exception as err:
        return err


async def _unwrap(task: asyncio.Task[T | Exception]) -> T:
    result = await task
    if isinstance(result, Exception):
        raise result
    return result


def _feature_protocols() -> list[tuple[AdapterFeatures, type]]:
    """Each optional feature and the Protocol an adapter declaring it must implement."""
    from gateway.sdk.adapter import SupportsAvailability, SupportsDisplay, SupportsPickupCheck
    from gateway.sdk.keys import SupportsKeySet

    pairs: list[tuple[AdapterFeatures, type]] = [
        (F.DISPLAY, SupportsDisplay),
        (F.SET_AVAILABILITY, SupportsAvailability),
        (F.OFFLINE_GRANTS, SupportsKeySet),
    ]
    check = getattr(F, "PICKUP_CHECK", None)
    if check is not None:
        pairs.append((check, SupportsPickupCheck))
    replay = getattr(F, "EVENT_REPLAY", None)
    if replay is not None:
        from gateway.sdk import journal

        pairs.append((replay, journal.SupportsEventReplay))
    return pairs


def _timing(request: pytest.FixtureRequest) -> KitTiming:
    from gateway.sdk.testing.plugin import timeout_scale

    return KitTiming().scaled(timeout_scale(request.config))


async def _no_leftover_tasks(before: set[asyncio.Task[object]], grace_s: float) -> None:
    """Tasks started since `before` must all end within `grace_s` of the adapter's exit."""
    current = asyncio.current_task()
    loop = asyncio.get_running_loop()
    until = loop.time() + grace_s
    while True:
        left = [t for t in asyncio.all_tasks() - before if t is not current and not t.done()]
        if not left:
            return
        if loop.time() > until:
            names = ", ".join(sorted(f"{t.get_name()} ({_coro_name(t)})" for t in left))
            raise AssertionError(
                f"tasks still running {grace_s:g} s after the adapter's exit: {names}"
            )
        await asyncio.sleep(0.05)


def _coro_name(task: asyncio.Task[object]) -> str:
    coro = task.get_coro()
    return str(getattr(coro, "__qualname__", coro))
