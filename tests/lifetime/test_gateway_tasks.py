"""The composition root runs every background loop as a named task and leaves none behind."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import adapters
import gateway
from gateway.app import Gateway
from gateway.settings import Settings

# Loops every gateway runs, whatever its adapters (names as `gateway.sdk.background` gives them).
LOOPS = {"housekeeping", "pickup-reminders", "key-distribution", "delivery-engine"}
OURS = tuple(str(Path(p.__file__).parent) for p in (gateway, adapters) if p.__file__)


def running() -> dict[str, str]:
    """Each unfinished task's name -> the file of the code it runs."""
    found = {}
    for task in asyncio.all_tasks():
        if not task.done():
            code = getattr(task.get_coro(), "cr_code", None)
            found[task.get_name()] = code.co_filename if code is not None else ""
    return found


async def test_loops_are_named_and_gone_after_the_block(tmp_path: Path) -> None:
    before = set(running())
    settings = Settings(
        network_id="tasks-net",
        store={"database_url": f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"},
        http={"port": 0},
        mqtt={"embedded_port": 0},
        housekeeping={"interval": timedelta(hours=1)},
    )
    async with Gateway(settings=settings):
        await asyncio.sleep(0.1)
        tasks = {name: where for name, where in running().items() if name not in before}
        assert set(tasks) >= LOOPS, tasks
        assert any(name.startswith("mqtt:") for name in tasks), tasks
        # Unnamed tasks are the libraries' own (the embedded broker's, aiomqtt's), never ours.
        unnamed_ours = {
            name: where
            for name, where in tasks.items()
            if name.startswith("Task-") and where.startswith(OURS)
        }
        assert unnamed_ours == {}
    await asyncio.sleep(0)
    assert set(running()) - before == set()
