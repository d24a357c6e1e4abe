"""A gateway SIGKILLed while `POST /v1/parcels/{id}/open` is in flight, then started again.

Real parts: a gateway process (`openlocker serve`) on its own PostgreSQL database, a private
Mosquitto, the emulated locker (run in this process, so the test can count its physical opens).
A replay of the killed request must get the recorded outcome, or, once the open's deadline has
passed (the locker refuses a command after its `exp`), perform it afresh: never 409 for ever,
never a second physical open within the deadline.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from locker_emulator.bank import EmulatorBank
from sqlalchemy.engine import make_url

from gateway.service.carriers import CarrierService
from gateway.service.layouts import parse_layout
from gateway.service.lockers import LockerService
from gateway.store import Store
from tests.conftest import PG_ADMIN_URL, PG_CONNECT_TIMEOUT_S
from tests.e2e.conftest import FAST, LOCKER, emulated_lockers
from tests.support.carriers import TestCarrier
from tests.support.mosquitto import Mosquitto
from tests.support.requirements import missing
from tests.support.root_key import pinned_root

pytestmark = pytest.mark.postgres

NETWORK = "test-net"
ROOT = Path(__file__).resolve().parents[2]
LAYOUT = ROOT / "tests" / "fixtures" / "waw-central.yaml"
OPEN_TIMEOUT_S = 3.0
# How long after an open's deadline the gateway frees its key (gateway/service/unlocks.py).
EXP_GRACE_S = 2.0
GATEWAY = [sys.executable, "-c", "import sys; from gateway.cli import main; sys.exit(main())"]


async def _admin() -> Any:
    try:
        return await asyncpg.connect(PG_ADMIN_URL, timeout=PG_CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, asyncpg.PostgresError) as err:
        missing("postgres", f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {err!r}")


@pytest.fixture
async def database() -> AsyncIterator[str]:
    """A database of its own, migrated, with the carrier and the locker provisioned."""
    name = f"openlocker_recovery_{secrets.token_hex(5)}"
    admin = await _admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        admin = await _admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


class GatewayProcess:
    """`openlocker serve` in a process of its own, on the flat OPENLOCKER_* environment."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self._env = env
        self._logs = logs
        self._log = logs / "gateway-0.log"
        self.starts = 0
        self.process: subprocess.Popen[bytes] | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        self.starts += 1
        self._log = self._logs / f"gateway-{self.starts}.log"
        with self._log.open("wb") as out:
            return subprocess.Popen(
                [*GATEWAY, "serve"],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env={**os.environ, **self._env},
            )

    async def start(self) -> str:
        """Starts the gateway; its HTTP base URL once it serves (it binds port 0)."""
        self.process = self._spawn()
        deadline = time.monotonic() + 30
        wanted = re.compile(r"OpenLocker gateway .* on (http://\S+)")
        while time.monotonic() < deadline:
            text = self._log.read_text(errors="replace")
            if found := wanted.search(text):
                return found.group(1)
            if self.process.poll() is not None:
                raise RuntimeError(f"the gateway exited early:\n{text[-3000:]}")
            await asyncio.sleep(0.1)
        raise RuntimeError("the gateway did not serve within 30 s")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last transaction."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_text(self) -> str:
        return self._log.read_text(errors="replace")


@dataclass
class Site:
    gateway: GatewayProcess
    bank: EmulatorBank
    carrier: TestCarrier
    database_url: str
    url: str = ""

    async def post(self, path: str, *, key: str, body: Any = None) -> httpx.Response:
        headers = self.carrier.auth() | {"Idempotency-Key": key}
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as client:
            return await client.post(path, json=body if body is not None else {}, headers=headers)

    async def book(self, parcel_id: str) -> str:
        body = {"parcelId": parcel_id, "lockerId": LOCKER, "sizeClass": "S"}
        response = await self.post("/v1/parcels", key=f"book-{parcel_id}", body=body)
        assert response.status_code == 201, response.text
        code: str = response.json()["compartmentCode"]
        return code

    async def restart(self) -> None:
        self.url = await self.gateway.start()

    async def kill_once_requested(self, request: asyncio.Task[Any]) -> None:
        """SIGKILL the gateway as soon as its door session is stored (the command is out)."""
        conn = await asyncpg.connect(self.database_url)
        try:
            async with asyncio.timeout(10):
                while not await conn.fetchval(
                    "SELECT count(*) FROM door_sessions WHERE state = 'requested'"
                ):
                    await asyncio.sleep(0.01)
        finally:
            await conn.close()
        await asyncio.sleep(0.1)  # the OpenCompartment is on its way to the locker
        self.gateway.kill()
        with pytest.raises(httpx.HTTPError):
            await request

    async def replay_until_answered(self, path: str, key: str, within: float) -> httpx.Response:
        """Replays the request while it is refused as still running (409), at most `within`."""
        deadline = time.monotonic() + within
        while True:
            response = await self.post(path, key=key)
            if response.status_code != 409 or time.monotonic() > deadline:
                return response
            await asyncio.sleep(0.2)


@pytest.fixture
async def site(database: str, tmp_path: Path) -> AsyncIterator[Site]:
    carrier = TestCarrier.ed25519("acme", NETWORK)
    async with Store.connect(database) as store:
        await store.migrate()
        await CarrierService(store=store).register("acme", carrier.jwks)
        locker, doors = parse_layout(LAYOUT.read_text()).to_domain()
        await LockerService(store=store).provision(locker, doors)
    with Mosquitto(tmp_path / "mqtt") as broker:
        env = {
            "OPENLOCKER_DATABASE_URL": database,
            "OPENLOCKER_MQTT_URL": broker.url,
            "OPENLOCKER_HTTP_PORT": "0",
            "OPENLOCKER_NETWORK_ID": NETWORK,
            "OPENLOCKER_INSTANCE": "gw-1",
            "OPENLOCKER_LOCKERS__OPEN_TIMEOUT": str(OPEN_TIMEOUT_S),
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'hardware-emulator'}",
            "PYTHONUNBUFFERED": "1",
        }
        gateway = GatewayProcess(env, tmp_path)
        try:
            url = await gateway.start()
            async with EmulatorBank(
                mqtt_url=broker.url,
                lockers=emulated_lockers(),
                timing=FAST,
                root_key=await pinned_root(database),  # pinned at provisioning
            ) as bank:
                await asyncio.wait_for(bank.wait_all_booted(), 15)
                yield Site(gateway, bank, carrier, database, url)
        finally:
            gateway.stop()


async def test_killed_open_replays_its_outcome_or_is_redone_after_the_deadline(
    site: Site,
) -> None:
    locker = site.bank[LOCKER]

    # 1. The locker acts (1 s, within the 3 s deadline) while the gateway lies dead: the
    #    replay answers what the locker did, and the door is not opened a second time.
    acted = await site.book("KILL-ACTED")
    locker.update_faults({"slow_replies": 1.0})
    path = "/v1/parcels/KILL-ACTED/open"
    first = asyncio.create_task(site.post(path, key="open-acted"))
    await site.kill_once_requested(first)
    await site.restart()
    replay = await site.replay_until_answered(path, "open-acted", OPEN_TIMEOUT_S + 15)
    assert replay.status_code == 200, replay.text
    assert replay.json()["outcome"] == "Unlocked", replay.json()
    assert locker.unlock_count(acted) == 1, "opened a second time"
    again = await site.post(path, key="open-acted")
    assert (again.status_code, again.json()) == (200, replay.json())

    # 2. The locker refuses the command (its exp passes while it is busy): nothing opened.
    #    Before the deadline a replay is refused as running; after it, it is done afresh.
    refused = await site.book("KILL-REFUSED")
    locker.update_faults({"slow_replies": OPEN_TIMEOUT_S + 1.0})
    path = "/v1/parcels/KILL-REFUSED/open"
    sent_at = time.monotonic()
    first = asyncio.create_task(site.post(path, key="open-refused"))
    await site.kill_once_requested(first)
    await site.restart()
    locker.update_faults({"slow_replies": 0.0})
    replay = await site.replay_until_answered(
        path, "open-refused", OPEN_TIMEOUT_S + EXP_GRACE_S + 15
    )
    answered_after = time.monotonic() - sent_at
    assert replay.status_code == 200, replay.text
    assert replay.json()["outcome"] == "Unlocked", replay.json()
    assert answered_after > OPEN_TIMEOUT_S, "redone before the first command's deadline"
    async with asyncio.timeout(5):
        while locker.unlock_count(refused) < 1:
            await asyncio.sleep(0.05)
    assert locker.unlock_count(refused) == 1
