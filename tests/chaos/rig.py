"""The running system a chaos run attacks: every part real, every part killable.

A private PostgreSQL cluster, a private Mosquitto, two `openlocker serve` processes sharing
both, the emulated lockers connected through a faulty TCP link, a webhook receiver. Torn down
in reverse order whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from locker_emulator.bank import EmulatorBank
from locker_emulator.layout import CompartmentConfig, LockerConfig
from locker_emulator.olp_client import Timing

from gateway.domain.compartment import Compartment
from gateway.domain.enums import SizeClass
from gateway.domain.locker import Location, Locker
from gateway.domain.sizes import STANDARD_SIZES
from gateway.service.carriers import CarrierService
from gateway.service.lockers import LockerService
from gateway.store import Store
from tests.chaos.witnesses import DoorLedger, WebhookReceiver
from tests.support.carriers import TestCarrier
from tests.support.loopback import ALLOW_ENV
from tests.support.mosquitto import Mosquitto
from tests.support.postgres_cluster import PostgresCluster
from tests.support.tcp_faults import FaultyLink

NETWORK = "chaos-net"
ROOT = Path(__file__).resolve().parents[2]
# The code tree the gateway processes run (another checkout can be put under test).
CODE_ROOT = Path(os.environ.get("OPENLOCKER_CHAOS_CODE_ROOT", ROOT))
GATEWAY = [sys.executable, "-c", "import sys; from gateway.cli import main; sys.exit(main())"]
OPEN_TIMEOUT_S = 3.0
TIMING = Timing(
    call_timeout=2.0,
    boot_retry_initial=0.2,
    boot_retry_max=1.0,
    reconnect_initial=0.1,
    reconnect_max=1.0,
    tick=0.05,
)
# Fast retries and short leases, so a run settles in seconds after its last fault.
GATEWAY_ENV = {
    "OPENLOCKER_HTTP__PORT": "0",
    "OPENLOCKER_NETWORK_ID": NETWORK,
    "OPENLOCKER_LOCKERS__OPEN_TIMEOUT": str(OPEN_TIMEOUT_S),
    "OPENLOCKER_LOCKERS__BUS_LEASE": "3",
    "OPENLOCKER_WEBHOOKS__POLL_INTERVAL": "0.2",
    "OPENLOCKER_WEBHOOKS__TIMEOUT": "2",
    "OPENLOCKER_WEBHOOKS__LEASE": "3",
    "OPENLOCKER_WEBHOOKS__BACKOFF_BASE": "0.2",
    "OPENLOCKER_WEBHOOKS__BACKOFF_CAP": "2",
    "OPENLOCKER_WEBHOOKS__BREAKER_RESET": "2",
    "OPENLOCKER_WEBHOOKS__MAX_ATTEMPTS": "100",
    # Two instances behind $share: a killed one must not keep a share of the lockers' events
    # in a session that outlives it (tests/chaos/test_dead_instance_events.py).
    "OPENLOCKER_MQTT__SESSION_EXPIRY": "0",
    ALLOW_ENV: '["127.0.0.0/8"]',
    # Every instance seals with one KEK from the environment (none made on disk, no race).
    "OPENLOCKER_SECRETS__KEK_ENV": "OPENLOCKER_CHAOS_KEK",
    "OPENLOCKER_CHAOS_KEK": secrets.token_hex(32),
    "PYTHONPATH": f"{CODE_ROOT}{os.pathsep}{CODE_ROOT / 'hardware-emulator'}",
    "PYTHONUNBUFFERED": "1",
}
SERVING = re.compile(r"OpenLocker gateway .* on (http://\S+)")


class GatewayProcess:
    """One `openlocker serve` instance; SIGKILLed and started again on a new port at will."""

    def __init__(self, *, instance: str, env: dict[str, str], logs: Path) -> None:
        self.instance = instance
        self._env = {**GATEWAY_ENV, **env, "OPENLOCKER_INSTANCE": instance}
        self._logs = logs
        self.starts = 0
        self.url: str | None = None  # None while it is down
        self.process: subprocess.Popen[bytes] | None = None
        self._log = logs / f"{instance}-0.log"

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self._log.open("wb") as out:
            return subprocess.Popen(
                [*GATEWAY, "serve"],
                stdout=out,
                stderr=subprocess.STDOUT,
                # Its own folder: files it makes (var/kek) stay in the run's temp dir.
                cwd=self._logs,
                env={**os.environ, **self._env},
            )

    async def start(self) -> str:
        self.starts += 1
        self._log = self._logs / f"{self.instance}-{self.starts}.log"
        self.process = process = await asyncio.to_thread(self._spawn)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = await asyncio.to_thread(self._log.read_text, errors="replace")
            if found := SERVING.search(text):
                self.url = found.group(1)
                return self.url
            if process.poll() is not None:
                raise RuntimeError(f"{self.instance} exited early:\n{text[-3000:]}")
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.instance} did not serve within 60 s")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last transaction."""
        self.url = None
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        self.url = None
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def logs(self) -> list[Path]:
        return sorted(self._logs.glob(f"{self.instance}-*.log"))


@dataclass
class Site:
    pg: PostgresCluster
    database_url: str
    broker: Mosquitto
    link: FaultyLink
    gateways: list[GatewayProcess]
    bank: EmulatorBank
    carriers: list[TestCarrier]
    receiver: WebhookReceiver
    ledger: DoorLedger
    lockers: list[str]
    workdir: Path
    keep: bool = False  # keep the logs and the cluster's files (a run that found violations)

    def urls(self) -> list[str]:
        return [g.url for g in self.gateways if g.url is not None]


def lockers_layout(lockers: int, doors: int) -> list[LockerConfig]:
    return [
        LockerConfig(
            locker_id=f"CHAOS-{n:02d}",
            compartments=tuple(CompartmentConfig(f"C{d:03d}", "S") for d in range(doors)),
        )
        for n in range(1, lockers + 1)
    ]


async def provision(url: str, configs: list[LockerConfig], carriers: list[TestCarrier]) -> None:
    spec = STANDARD_SIZES[SizeClass.S]
    async with Store.connect(url) as store:
        await store.migrate()
        for carrier in carriers:
            await CarrierService(store=store).register(carrier.carrier_id, carrier.jwks)
        service = LockerService(store=store)
        for config in configs:
            doors = [
                Compartment(config.locker_id, c.code, SizeClass.S, spec.inside, spec.max_weight_g)
                for c in config.compartments
            ]
            await service.provision(Locker(config.locker_id, "Chaos", Location(52.2, 21.0)), doors)


async def root_key(url: str) -> dict[str, Any]:
    """The network root key's public JWK, made by the first gateway instance at its start."""
    async with Store.connect(url) as store, store.transaction() as tx:
        roots = await tx.network_keys.roots()
    return dict(next(r.public_jwk for r in roots if r.retired_at is None))


async def subscribe(site: Site) -> None:
    """Each carrier subscribes its receiver to every event type."""
    async with httpx.AsyncClient(base_url=site.urls()[0], timeout=30) as http:
        for carrier in site.carriers:
            answer = await http.post(
                "/v1/webhooks",
                json={"url": site.receiver.url(carrier.carrier_id)},
                headers=carrier.auth() | {"Idempotency-Key": f"hook-{carrier.carrier_id}"},
            )
            answer.raise_for_status()


@contextlib.asynccontextmanager
async def running_site(*, lockers: int, doors: int, instances: int = 2) -> AsyncIterator[Site]:
    workdir = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="openlocker-chaos-"))
    # The cluster runs as the `postgres` user inside this folder: it must be able to enter it.
    os.chmod(workdir, 0o711)  # noqa: S103 - traverse only, nothing readable
    carriers = [TestCarrier.ed25519(f"carrier-{n}", NETWORK) for n in (1, 2)]
    configs = lockers_layout(lockers, doors)
    receiver = WebhookReceiver()
    gateways: list[GatewayProcess] = []
    keep = False
    try:
        async with _site(workdir, configs, carriers, receiver, gateways, instances) as site:
            yield site
            keep = site.keep
    except BaseException:
        keep = True  # what went wrong is in the logs
        raise
    finally:
        if not keep:
            await asyncio.to_thread(shutil.rmtree, workdir, True)


@contextlib.asynccontextmanager
async def _site(
    workdir: Path,
    configs: list[LockerConfig],
    carriers: list[TestCarrier],
    receiver: WebhookReceiver,
    gateways: list[GatewayProcess],
    instances: int,
) -> AsyncIterator[Site]:
    with PostgresCluster(workdir=workdir / "pg") as pg:
        admin = await asyncpg.connect(pg.admin_url)
        try:
            await admin.execute('CREATE DATABASE "chaos"')
        finally:
            await admin.close()
        url = pg.url("chaos")
        await provision(url, configs, carriers)
        with Mosquitto(workdir / "mqtt") as broker:
            await receiver.start()
            try:
                async with FaultyLink(upstream_port=broker.port) as link:
                    env = {
                        "OPENLOCKER_STORE__DATABASE_URL": url,
                        "OPENLOCKER_MQTT__URL": broker.url,
                    }
                    for n in range(1, instances + 1):
                        gateways.append(GatewayProcess(instance=f"gw-{n}", env=env, logs=workdir))
                    try:
                        # Together: the instances agree on one root key through the database.
                        await asyncio.gather(*(g.start() for g in gateways))
                        async with EmulatorBank(
                            mqtt_url=link.url,
                            lockers=configs,
                            timing=TIMING,
                            root_key=await root_key(url),  # pinned at provisioning
                        ) as bank:
                            ledger = DoorLedger()
                            ledger.attach(bank)
                            async with asyncio.timeout(60):
                                await bank.wait_all_booted()
                            site = Site(
                                pg, url, broker, link, gateways, bank, carriers, receiver,
                                ledger, [c.locker_id for c in configs], workdir,
                            )  # fmt: skip
                            await subscribe(site)
                            yield site
                    finally:
                        for gateway in gateways:
                            gateway.stop()
            finally:
                await receiver.stop()
