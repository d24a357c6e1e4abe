"""A background pass that fails in a way nobody foresaw is logged; the gateway keeps serving.

`TaskSet` takes its owner down when a task raises (a TaskGroup cancels the task that opened
it: for the composition root, the whole gateway). That suits a loop whose failure means the
gateway cannot work; a periodic pass over the database (housekeeping, pickup reminders) must
instead log and try again at its next interval, as the parked-event sweep and the key
distribution do: one bad row must not stop every locker and the carriers' API.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from gateway.app import Gateway
from gateway.settings import Settings

LOOPS = {"housekeeping", "pickup-reminders"}


def _insert_unreadable_parcel(db: Path) -> None:
    """A due reservation whose size class no version of the gateway knows (a bad migration,
    a manual edit): reading it raises ValueError, not one of our errors."""
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO parcels (uid, carrier_id, parcel_id, direction, state, locker_id,"
            " size_class, reserved_until, pickup_until, pickup_window_s, reservation_ttl_s,"
            " created_at, updated_at, version, last_seq)"
            " VALUES ('bad-1', 'c1', 'p1', 'last_mile', 'reserved', 'L1', 'XXL',"
            " '2000-01-01 00:00:00.000000', '2000-01-01 00:00:00.000000', 60, 60,"
            " '2000-01-01 00:00:00.000000', '2000-01-01 00:00:00.000000', 1, 0)"
        )


async def test_a_failing_pass_is_logged_and_the_gateway_keeps_serving(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "gw.db"
    settings = Settings(
        network_id="loops-net",
        store={"database_url": f"sqlite+aiosqlite:///{db}"},
        http={"port": 0},
        mqtt={"embedded_port": 0},
        housekeeping={"interval": timedelta(seconds=0.1)},
        parcels={"reminder_lead": timedelta(hours=1)},
    )
    caplog.set_level(logging.ERROR)
    async with Gateway(settings=settings) as gateway:
        _insert_unreadable_parcel(db)
        await asyncio.sleep(0.5)  # several passes over the bad row
        running = {t.get_name() for t in asyncio.all_tasks() if not t.done()}
        assert running >= LOOPS
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{gateway.base_url}/healthz") as response,
        ):
            assert response.status == 200
    assert any("housekeeping pass failed" in r.getMessage() for r in caplog.records)
