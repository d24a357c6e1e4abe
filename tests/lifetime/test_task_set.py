"""TaskSet and background(): the one way the gateway runs background work."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from gateway.sdk.lifetime import TaskSet, background


async def test_leaving_the_block_cancels_and_awaits_every_task() -> None:
    stopped: list[str] = []

    async def loop(name: str) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            stopped.append(name)

    async with TaskSet("t") as tasks:
        tasks.start(loop("a"), name="a")
        tasks.start(loop("b"), name="b")
        await asyncio.sleep(0)
        assert len(tasks) == 2
    assert sorted(stopped) == ["a", "b"]
    assert len(tasks) == 0


async def test_a_task_that_swallows_a_cancellation_is_cancelled_again() -> None:
    # What aiomqtt's wait_for does on Python 3.11 now and then: one cancel() is lost.
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed < 3:
                    swallowed += 1
                    continue
                raise

    async with asyncio.timeout(5):
        async with TaskSet("t") as tasks:
            tasks.start(stubborn(), name="stubborn")
            await asyncio.sleep(0)
    assert swallowed == 3


async def test_a_finished_task_leaves_the_set() -> None:
    async def quick() -> int:
        return 1

    async with TaskSet("t") as tasks:
        task = tasks.start(quick(), name="quick")
        assert await task == 1
        assert len(tasks) == 0


async def test_starting_outside_the_block_is_refused_without_leaking_the_coroutine() -> None:
    tasks = TaskSet("t")

    async def never() -> None:
        raise AssertionError("must not run")

    coro = never()
    with pytest.raises(RuntimeError, match="not running"):
        tasks.start(coro, name="never")
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED  # no "never awaited" warning


async def test_a_task_that_raises_takes_the_set_down_with_its_error() -> None:
    async def broken() -> None:
        raise ValueError("boom")

    async def run() -> None:
        async with TaskSet("t") as tasks:
            tasks.start(broken(), name="broken")
            await asyncio.sleep(1)

    with pytest.raises(ExceptionGroup) as caught:
        await run()
    assert caught.group_contains(ValueError, match="boom")


async def test_background_runs_one_named_loop_for_the_block() -> None:
    async def loop() -> None:
        await asyncio.Event().wait()

    async with background(loop(), "housekeeping") as task:
        await asyncio.sleep(0)
        assert task.get_name() == "housekeeping"
        assert not task.done()
    assert task.cancelled()
