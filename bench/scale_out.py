"""Benchmark: full parcel lifecycles through 1, 2 and 4 gateway instances on one database+broker.

Each round gets a fresh PostgreSQL database and a private Mosquitto 5 (shared subscriptions,
`set_tcp_nodelay true`), then starts, each in its own process:
  - N gateway instances (`openlocker serve`, distinct `instance` and HTTP port, same database
    and broker, events and requests shared by `$share/olp-gw/...`),
  - the emulated lockers (`python -m locker_emulator run`, control API for deposit/take),
  - the load generator (`python -m bench.scale_out load ...`), which drives full lifecycles
    (book, open, deposit, ready, open, take, picked up) with its HTTP calls spread round-robin
    over the instances.
Rounds of 1, 2 and 4 instances interleave (`--repeat` turns), each after unmeasured warm-up
lifecycles; the medians per instance count are compared, so load from other work on a shared
machine weighs on every count alike. Printed per round, next to lifecycles/s and the p50/p99 of
one lifecycle, is what explains the figure, measured in the same run: CPU per lifecycle of the
instances, the emulator and PostgreSQL, how busy the machine was before and during the round,
PostgreSQL's wait events sampled from pg_stat_activity (row locks, the audit chain's advisory
lock, "idle in transaction" = waiting for a gateway process), and per-instance log counts of
event-order gaps, replay requests, database retries and parked events. `--py-spy DIR` records
a raw profile of every instance during each round.

Usage: python -m bench.scale_out [--instances 1 2 4] [--lifecycles 60] [--concurrency 8]
           [--repeat 2] [--warmup 8] [--lockers 8] [--poll-ms 50] [--py-spy /tmp/scale-prof]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy.engine import make_url

from gateway.client import nodelay_transport
from gateway.domain.compartment import Compartment
from gateway.domain.enums import SizeClass
from gateway.domain.locker import Location, Locker
from gateway.domain.sizes import STANDARD_SIZES
from gateway.service.carriers import CarrierService
from gateway.service.lockers import LockerService
from gateway.store import Store
from tests.support.carriers import TestCarrier
from tests.support.mosquitto import Mosquitto

NETWORK = "bench-scale"
CARRIER = "bench"
PG_ADMIN_URL = os.environ.get(
    "OPENLOCKER_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BIN = Path(sys.executable).parent
# The children run the code tree this file is in (also when it is a copy of the checkout).
ROOT = Path(__file__).resolve().parents[1]
CHILD_ENV = {
    "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'hardware-emulator'}",
    # Their "serving on <url>" lines are read from their logs as they are written.
    "PYTHONUNBUFFERED": "1",
}
GATEWAY = [sys.executable, "-c", "import sys; from gateway.cli import main; sys.exit(main())"]
# What the instances' logs say when events of one locker reach them out of order.
LOG_SIGNS = {
    "gaps": re.compile(r"arrived after"),
    "replays asked": re.compile(r"asking for a replay"),
    "replays done": re.compile(r"replayed \d+ event"),
    "not booted": re.compile(r"has not booted|Boot first"),
    "seq missing": re.compile(r"message\(s\) missing before seq"),
    "db retries": re.compile(r"not applied yet"),
    "parked": re.compile(r"PARKED"),
    "errors": re.compile(r" ERROR "),
}


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


# ---- the load generator (its own process) ------------------------------------------------


@dataclass(frozen=True)
class Plan:
    urls: list[str]
    control_url: str
    carrier_key_pem: str
    lockers: list[str]
    lifecycles: int
    concurrency: int
    poll_s: float
    prefix: str = "LIFE"


async def load(plan: Plan) -> dict[str, Any]:
    key = serialization.load_pem_private_key(plan.carrier_key_pem.encode(), password=None)
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    carrier = TestCarrier(CARRIER, key, "k1", "EdDSA", NETWORK)
    clients = [
        httpx.AsyncClient(base_url=url, timeout=60, transport=nodelay_transport())
        for url in plan.urls
    ]
    control = httpx.AsyncClient(
        base_url=plan.control_url, timeout=30, transport=nodelay_transport()
    )
    turn = iter(range(10**9))
    calls = collections.Counter[str]()

    def http() -> httpx.AsyncClient:
        # Every call goes to the next instance, as a round-robin load balancer would send it.
        return clients[next(turn) % len(clients)]

    async def post(path: str, body: object) -> dict[str, Any]:
        headers = carrier.auth() | {"Idempotency-Key": uuid.uuid4().hex}
        calls["post"] += 1
        response = await http().post(path, json=body, headers=headers)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    async def until(pid: str, wanted: str) -> None:
        while True:
            calls["poll"] += 1
            response = await http().get(f"/v1/parcels/{pid}", headers=carrier.auth())
            if response.json()["state"] == wanted:
                return
            await asyncio.sleep(plan.poll_s)

    async def door(locker: str, code: str, action: str) -> None:
        response = await control.post(f"/lockers/{locker}/compartments/{code}/{action}")
        response.raise_for_status()

    async def lifecycle(n: int) -> float:
        pid = f"{plan.prefix}-{n:05d}"
        locker = plan.lockers[n % len(plan.lockers)]
        started = time.perf_counter()
        booked = await post("/v1/parcels", {"parcelId": pid, "lockerId": locker, "sizeClass": "S"})
        code = str(booked["compartmentCode"])
        opened = await post(f"/v1/parcels/{pid}/open", {})
        assert opened["outcome"] == "Unlocked", opened
        await door(locker, code, "deposit")
        await until(pid, "ready_for_pickup")
        opened = await post(f"/v1/parcels/{pid}/open", {})
        assert opened["outcome"] == "Unlocked", opened
        await door(locker, code, "take")
        await until(pid, "picked_up")
        return time.perf_counter() - started

    gate = asyncio.Semaphore(plan.concurrency)

    async def bounded(n: int) -> float:
        async with gate:
            return await lifecycle(n)

    try:
        began = time.perf_counter()
        durations = await asyncio.gather(*(bounded(n) for n in range(plan.lifecycles)))
        elapsed = time.perf_counter() - began
    finally:
        for client in [*clients, control]:
            await client.aclose()
    return {"elapsed": elapsed, "durations": durations, "calls": dict(calls)}


# ---- the rounds (this process) -----------------------------------------------------------


@dataclass
class Round:
    instances: int
    lifecycles: int
    rate: float
    p50: float
    p99: float
    waits: collections.Counter[str]
    samples: int
    signs: dict[str, list[int]]
    cpu: dict[str, float]
    calls: dict[str, int]


@contextlib.asynccontextmanager
async def fresh_database() -> Any:
    name = f"openlocker_scale_{secrets.token_hex(5)}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        admin = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def layout(lockers: int, doors: int) -> tuple[list[str], dict[str, Any]]:
    ids = [f"SCALE-{n:03d}" for n in range(1, lockers + 1)]
    document = {
        "lockers": [
            {
                "id": locker,
                "compartments": [{"code": f"C{d:03d}", "sizeClass": "S"} for d in range(doors)],
            }
            for locker in ids
        ]
    }
    return ids, document


async def provision(url: str, document: dict[str, Any], carrier: TestCarrier) -> None:
    spec = STANDARD_SIZES[SizeClass.S]
    async with Store.connect(url) as store:
        await store.migrate()
        await CarrierService(store=store).register(CARRIER, carrier.jwks)
        lockers = LockerService(store=store)
        for entry in document["lockers"]:
            compartments = [
                Compartment(entry["id"], c["code"], SizeClass.S, spec.inside, spec.max_weight_g)
                for c in entry["compartments"]
            ]
            await lockers.provision(Locker(entry["id"], "Bench", Location(0, 0)), compartments)


def spawn(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **CHILD_ENV, **(env or {})},
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def announced(pattern: str, process: subprocess.Popen[bytes], log: Path) -> str:
    """The URL a child prints once it serves (it bound port 0: no port can be taken from
    under it by other work on the machine)."""
    deadline = time.monotonic() + 60
    wanted = re.compile(pattern)
    while time.monotonic() < deadline:
        text = await asyncio.to_thread(log.read_text, errors="replace")
        if found := wanted.search(text):
            return found.group(1)
        if process.poll() is not None:
            raise RuntimeError(f"{log.name}: exited early:\n{text[-3000:]}")
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{log.name}: not serving within 60 s")


async def wait_booted(control_url: str, count: int) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=control_url, timeout=2) as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                lockers = (await client.get("/lockers")).json()["lockers"]
                if sum(1 for one in lockers if one["booted"]) == count:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"not all {count} lockers booted within 60 s")


async def sample_waits(
    url: str, stop_sampling: asyncio.Event
) -> tuple[collections.Counter[str], int]:
    """What the instances' connections are doing, every 50 ms: running, idle, or waiting
    for what (a row lock shows as Lock:transactionid / Lock:tuple, an advisory lock as
    Lock:advisory)."""
    database = make_url(url).database
    seen: collections.Counter[str] = collections.Counter()
    samples = 0
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        while not stop_sampling.is_set():
            rows = await conn.fetch(
                "SELECT state, wait_event_type, wait_event FROM pg_stat_activity"
                " WHERE datname = $1 AND pid <> pg_backend_pid()",
                database,
            )
            samples += 1
            for row in rows:
                if row["state"] == "idle":
                    continue
                if row["wait_event_type"] in (None, "Client"):
                    what = f"{row['state']}" + (
                        f" ({row['wait_event']})" if row["wait_event"] else ""
                    )
                else:
                    what = f"wait {row['wait_event_type']}:{row['wait_event']}"
                seen[what] += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_sampling.wait(), 0.05)
    finally:
        await conn.close()
    return seen, samples


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def kernel_side(pid: int) -> tuple[float, int]:
    """(system CPU seconds, times preempted) of one process so far: preemptions (involuntary
    context switches) count how often it was runnable but another process had the core."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0, 0
    preempted = re.search(r"nonvoluntary_ctxt_switches:\s+(\d+)", status)
    return int(stat[12]) / os.sysconf("SC_CLK_TCK"), int(preempted.group(1)) if preempted else 0


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = ticks[3] + ticks[4]
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - idle) / hz, sum(ticks) / hz


async def backend_pids(url: str) -> list[int]:
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1", make_url(url).database
        )
    finally:
        await conn.close()
    return [int(row["pid"]) for row in rows]


class CpuMeter:
    """CPU seconds spent by each group of processes between start() and stop()."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self._groups = groups
        self._before: dict[int, float] = {}
        self._machine: tuple[float, float] = (0.0, 0.0)

    def start(self) -> None:
        self._before = {pid: cpu_seconds(pid) for pids in self._groups.values() for pid in pids}
        self._machine = machine_busy()

    def stop(self, late: dict[str, list[int]] | None = None) -> dict[str, float]:
        # Processes that started during the window (pooled connections opened late) count
        # from zero; those that ended during it count for nothing (their time is unknown).
        for name, pids in (late or {}).items():
            self._groups[name] = sorted(set(self._groups[name]) | set(pids))
        busy, total = machine_busy()
        spent: dict[str, float] = {}
        for name, pids in self._groups.items():
            now = {pid: cpu_seconds(pid) for pid in pids}
            spent[name] = sum(now[pid] - self._before.get(pid, 0.0) for pid in pids if now[pid] > 0)
        spent["machine busy"] = busy - self._machine[0]
        spent["machine total"] = total - self._machine[1]
        return spent


async def transactions(url: str) -> int:
    """Transactions committed or rolled back in the database so far (PostgreSQL's counters)."""
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        count = await conn.fetchval(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1",
            make_url(url).database,
        )
    finally:
        await conn.close()
    return int(count)


def py_spy(pid: int, out: Path, seconds: int) -> subprocess.Popen[bytes]:
    tool = shutil.which("py-spy") or str(BIN / "py-spy")
    return subprocess.Popen(
        [
            tool,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--rate",
            "50",
            "--format",
            "raw",
            "--nonblocking",
            "-o",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def run_loader(plan: Plan, result_file: Path) -> None:
    """The load generator in its own process; its result lands in `result_file`."""
    plan_file = result_file.with_suffix(".plan")
    plan_file.write_text(json.dumps(dataclasses.asdict(plan)))
    loader = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.scale_out",
        "load",
        str(plan_file),
        str(result_file),
        cwd=ROOT,
        env={**os.environ, **CHILD_ENV},
    )
    if await loader.wait() != 0:
        raise RuntimeError(f"the load generator failed ({plan.prefix} lifecycles)")


async def one_round(n: int, args: argparse.Namespace, carrier: TestCarrier, tmp: Path) -> Round:
    ids, document = layout(args.lockers, args.doors)
    workdir = tmp / f"round-{n}"
    workdir.mkdir()
    (workdir / "layout.json").write_text(json.dumps(document))
    processes: list[subprocess.Popen[bytes]] = []
    async with fresh_database() as url:
        await provision(url, document, carrier)
        with Mosquitto(workdir / "mqtt") as broker:
            try:
                logs = [workdir / f"gw-{i + 1}.log" for i in range(n)]
                for i, log in enumerate(logs):
                    env = {
                        "OPENLOCKER_DATABASE_URL": url,
                        "OPENLOCKER_MQTT_URL": broker.url,
                        "OPENLOCKER_INSTANCE": f"gw-{i + 1}",
                        "OPENLOCKER_HTTP_PORT": "0",
                        "OPENLOCKER_NETWORK_ID": NETWORK,
                    }
                    processes.append(spawn([*GATEWAY, "serve"], log, env))
                urls = [
                    await announced(r"OpenLocker gateway .* on (http://\S+)", process, log)
                    for process, log in zip(processes, logs, strict=True)
                ]
                emulator_log = workdir / "emulator.log"
                emulator = spawn(
                    [
                        sys.executable,
                        "-m",
                        "locker_emulator",
                        "run",
                        "--mqtt-url",
                        broker.url,
                        "--layout",
                        str(workdir / "layout.json"),
                        "--control-port",
                        "0",
                        "--log-level",
                        "WARNING",
                    ],
                    emulator_log,
                )
                processes.append(emulator)
                control_url = await announced(
                    r"control API listening on (http://\S+)", emulator, emulator_log
                )
                await wait_booted(control_url, len(ids))
                plan = Plan(
                    urls=urls,
                    control_url=control_url,
                    carrier_key_pem=carrier.private_key.private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption(),
                    ).decode(),
                    lockers=ids,
                    lifecycles=args.lifecycles,
                    concurrency=args.concurrency,
                    poll_s=args.poll_ms / 1000,
                )
                if args.warmup:
                    # Every instance compiles its SQL, prepares its statements and fills its
                    # connection pool once: not what a long-running instance pays per parcel.
                    warm = dataclasses.replace(plan, lifecycles=args.warmup * n, prefix="WARM")
                    await run_loader(warm, workdir / "warmup.json")
                result_file = workdir / "result.json"
                profilers = []
                if args.py_spy is not None:
                    args.py_spy.mkdir(parents=True, exist_ok=True)
                    profilers = [
                        py_spy(p.pid, args.py_spy / f"n{n}-gw-{i + 1}.txt", args.py_spy_seconds)
                        for i, p in enumerate(processes[:n])
                    ]
                meter = CpuMeter(
                    {
                        "gateways": [p.pid for p in processes[:n]],
                        "emulator": [emulator.pid],
                        "postgres": await backend_pids(url),
                    }
                )
                # The load already on the machine (other processes) before ours starts.
                quiet = machine_busy()
                gateways_quiet = sum(cpu_seconds(p.pid) for p in processes[:n])
                await asyncio.sleep(2)
                busy, total = machine_busy()
                idle_busy = (busy - quiet[0]) / max(total - quiet[1], 1e-9)
                # What the instances spend with no load at all (their own polls and timers).
                idle_gateways = sum(cpu_seconds(p.pid) for p in processes[:n]) - gateways_quiet
                meter.start()
                xacts_before = await transactions(url)
                kernel_before = [kernel_side(p.pid) for p in processes[:n]]
                stop_sampling = asyncio.Event()
                sampler = asyncio.create_task(sample_waits(url, stop_sampling))
                await run_loader(plan, result_file)
                cpu = meter.stop({"postgres": await backend_pids(url)})
                await asyncio.sleep(1)  # backends report their counters within a second
                cpu["transactions"] = await transactions(url) - xacts_before
                kernel_after = [kernel_side(p.pid) for p in processes[:n]]
                cpu["gateways sys"] = sum(
                    a[0] - b[0] for a, b in zip(kernel_after, kernel_before, strict=True)
                )
                cpu["gateways preempted"] = sum(
                    a[1] - b[1] for a, b in zip(kernel_after, kernel_before, strict=True)
                )
                stop_sampling.set()
                waits, samples = await sampler
                for profiler in profilers:
                    profiler.wait()
            finally:
                for process in reversed(processes):
                    stop(process)
    result = json.loads(result_file.read_text())
    durations = sorted(result["durations"])
    signs = {
        name: [len(pattern.findall(log.read_text(errors="replace"))) for log in logs]
        for name, pattern in LOG_SIGNS.items()
    }
    return Round(
        instances=n,
        lifecycles=args.lifecycles,
        rate=args.lifecycles / result["elapsed"],
        p50=statistics.median(durations),
        p99=percentile(durations, 0.99),
        waits=waits,
        samples=samples,
        signs=signs,
        cpu=cpu | {"busy before": idle_busy, "idle gateways": idle_gateways / 2},
        calls=result["calls"],
    )


async def main(args: argparse.Namespace) -> None:
    carrier = TestCarrier.ed25519(CARRIER, NETWORK)
    rounds: list[Round] = []
    # Rounds interleave (1, 2, 4, 1, 2, 4...): load from other work on a shared machine then
    # weighs on every instance count alike, and the medians compare like with like.
    with tempfile.TemporaryDirectory() as tmp:
        for turn in range(args.repeat):
            for n in args.instances:
                workdir = Path(tmp) / f"turn-{turn + 1}"
                workdir.mkdir(exist_ok=True)
                try:
                    rounds.append(await one_round(n, args, carrier, workdir))
                finally:
                    if args.keep_logs is not None:
                        shutil.copytree(
                            workdir / f"round-{n}",
                            args.keep_logs / f"turn-{turn + 1}-round-{n}",
                            dirs_exist_ok=True,
                        )
                report(rounds[-1], turn + 1)
    print()
    print(
        f"Scale-out on PostgreSQL + Mosquitto 5 ($share), {args.lockers} lockers, "
        f"{args.lifecycles} lifecycles x {args.repeat}, concurrency {args.concurrency}, "
        f"{os.cpu_count()} CPUs; medians over the repeats"
    )
    medians = {}
    for n in args.instances:
        mine = [one for one in rounds if one.instances == n]
        medians[n] = (
            statistics.median(one.rate for one in mine),
            statistics.median(one.p50 for one in mine),
            statistics.median(one.p99 for one in mine),
            statistics.median(one.cpu["gateways"] / one.lifecycles for one in mine),
        )
    base = medians[args.instances[0]][0]
    for n, (rate, p50, p99, cpu) in medians.items():
        print(
            f"  {n} instance(s)   {rate:6.2f} lifecycles/s   p50 {p50 * 1000:7.0f} ms   "
            f"p99 {p99 * 1000:7.0f} ms   gateway CPU {cpu * 1000:4.0f} ms/lifecycle   "
            f"x{rate / base:4.2f} of {args.instances[0]}"
        )
    if 1 in medians and 2 in medians:
        ratio = medians[2][0] / medians[1][0]
        goal = "meets" if ratio >= 1.6 else "MISSES"
        print(f"  goal: 2 instances >= 1.6x one instance: {ratio:.2f}x ({goal} it)")


def report(one: Round, turn: int) -> None:
    print(
        f"turn {turn}, {one.instances} instance(s): {one.rate:.2f} lifecycles/s, "
        f"p50 {one.p50 * 1000:.0f} ms, p99 {one.p99 * 1000:.0f} ms",
        flush=True,
    )
    print(f"  instances' log signs: {one.signs}")
    busy = ", ".join(
        f"{what} {count / one.samples:.2f}" for what, count in one.waits.most_common(8)
    )
    per = {k: v for k, v in one.cpu.items() if k in ("gateways", "emulator", "postgres")}
    print(
        "  CPU ms per lifecycle: "
        + ", ".join(f"{k} {v * 1000 / one.lifecycles:.0f}" for k, v in per.items())
        + f"; machine busy {one.cpu['machine busy'] / max(one.cpu['machine total'], 1e-9):.0%}"
        + f" of {os.cpu_count()} CPUs (before the load: {one.cpu['busy before']:.0%}; "
        f"idle instances then used {one.cpu['idle gateways'] * 1000:.0f} ms CPU/s together)"
    )
    print(
        f"  gateways: {one.cpu['gateways sys'] * 1000 / one.lifecycles:.0f} ms of it in the "
        f"kernel, preempted {one.cpu['gateways preempted'] / one.lifecycles:.0f} times "
        "per lifecycle (runnable while another process had the core)"
    )
    calls = sum(one.calls.values())
    print(f"  database transactions per lifecycle: {one.cpu['transactions'] / one.lifecycles:.1f}")
    print(
        f"  HTTP calls per lifecycle: {calls / one.lifecycles:.1f} "
        f"({one.calls.get('poll', 0) / one.lifecycles:.1f} state polls); gateway CPU per call "
        f"{one.cpu['gateways'] * 1000 / max(calls, 1):.2f} ms"
    )
    print(f"  PostgreSQL connections by state (mean over {one.samples} samples): {busy}")


def run_load(plan_file: Path, result_file: Path) -> None:
    plan = Plan(**json.loads(plan_file.read_text()))
    result_file.write_text(json.dumps(asyncio.run(load(plan))))


def cli() -> None:
    if sys.argv[1:2] == ["load"]:
        run_load(Path(sys.argv[2]), Path(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--lifecycles", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--lockers", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=2, help="turns over the instance counts")
    parser.add_argument(
        "--warmup", type=int, default=8, help="unmeasured lifecycles per instance first"
    )
    parser.add_argument(
        "--poll-ms", type=float, default=50, help="how often a client polls a parcel's state"
    )
    parser.add_argument("--doors", type=int, default=0, help="per locker; 0 = enough for all")
    parser.add_argument("--py-spy", type=Path, help="record raw py-spy profiles into this folder")
    parser.add_argument("--py-spy-seconds", type=int, default=20)
    parser.add_argument("--keep-logs", type=Path, help="copy the instances' logs here")
    args = parser.parse_args()
    if args.doors == 0:
        args.doors = (args.lifecycles + args.warmup * max(args.instances)) // args.lockers + 2
    asyncio.run(main(args))


if __name__ == "__main__":
    cli()
