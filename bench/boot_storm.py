"""Benchmark: a fleet of lockers booting at once, cold and after a broker restart (boot storm).

One run starts a private Mosquitto, a fresh database (PostgreSQL by default), the gateway IN
this process (so its CPU time and asyncio tasks are read directly) and the emulator fleet in a
process of its own (`openlocker-emulator run --count N --report-every ...`, one MQTT client and
session per locker, as in the field). It provisions the lockers in bulk through the store, then:
  (a) cold start: every locker connects and boots at once;
  steady: heartbeats only, for one heartbeat interval or more;
  (b) storm: the broker is killed and started again on the same port, so every locker
      reconnects (spread over the emulator's reconnect jitter window) and boots again.
Per phase it prints the time until all were accepted, boots refused or rejected (must be 0),
gateway CPU per locker, peak and steady gateway tasks per locker, gateway and emulator memory
per locker, and per heartbeat the CPU of both sides; next to the raw limits measured in the
same run: the bare MQTT QoS 1 round trip and the raw transaction rate of the same database.
Usage: python -m bench.boot_storm [--lockers 1000] [--database postgresql|sqlite]
           [--jitter 5] [--heartbeat 60] [--steady 60]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from locker_emulator.fleet import resident_bytes
from locker_emulator.layout import LockerConfig, preset_lockers
from sqlalchemy import text

from adapters.olp import OlpAdapter
from bench.raw_limits import mqtt_round_trip
from bench.support import bench_settings, database, event_loop_choice, percentiles, run
from gateway.app import Gateway
from gateway.domain.compartment import Compartment
from gateway.domain.enums import SizeClass
from gateway.domain.locker import Location, Locker
from gateway.domain.sizes import STANDARD_SIZES
from gateway.store import Store
from tests.support.mosquitto import Mosquitto, free_port

ID_PREFIX = "STORM"
PRESET = "small"
# Both sides sample by walking every locker (fleet report) or every task (peak tasks): at
# 10,000 lockers that is 10-20 ms a walk, so large fleets are sampled less often.
REPORT_EVERY_S = 0.25
LARGE_FLEET = 2000
LARGE_FLEET_SAMPLE_S = 1.0


def sample_every(lockers: int) -> float:
    return REPORT_EVERY_S if lockers <= LARGE_FLEET else LARGE_FLEET_SAMPLE_S


# A broker for a fleet: no connection cap, and no cap on the QoS 1 messages queued for a
# subscriber that is behind (Mosquitto's default of 1000 would silently drop the gateway's
# share of a storm: lost Boots, not slow ones).
BROKER_CONF = "max_connections -1\nmax_inflight_messages 0\nmax_queued_messages 0\n"
PROVISION_BATCH = 500
# How long a phase may take before the bench gives up on it (the goal is 30 s at 1,000).
PHASE_LIMIT_S = 300.0
# A phase has settled once the gateway used less than this share of one core for a second.
QUIET_CPU_SHARE = 0.3


# ----- the emulator fleet, in its own process -----


@dataclass
class FleetView:
    """The newest `fleet {json}` line the emulator process printed."""

    base_rss: int = 0  # the emulator process before any locker existed
    last: dict[str, Any] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # may be a group's, shared

    def feed(self, line: str) -> None:
        if not line.startswith("fleet "):
            return
        report = json.loads(line.removeprefix("fleet "))
        if report["lockers"] == 0:
            self.base_rss = report["rss_bytes"]
        self.last = report
        self.changed.set()

    async def until(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The first report that satisfies `predicate` (bound it with asyncio.timeout)."""
        while not (self.last and predicate(self.last)):
            self.changed.clear()
            await self.changed.wait()
        return self.last


class FleetGroup:
    """Several emulator processes seen as one fleet: their newest reports summed.

    One process could not hold 10,000 MQTT sessions on the 2-core host (its acknowledgements
    waited past aiomqtt's 10 s operation timeout and sessions were re-opened: 18,413 connects,
    no Boot through, session 7), so a large fleet is split over `--fleet-processes`."""

    def __init__(self, processes: int) -> None:
        self.changed = asyncio.Event()
        self.views = [FleetView(changed=self.changed) for _ in range(processes)]

    @property
    def base_rss(self) -> int:
        return sum(view.base_rss for view in self.views)

    @property
    def last(self) -> dict[str, Any]:
        """Every count summed, `at` the newest; empty until every process has reported."""
        if not all(view.last for view in self.views):
            return {}
        total: dict[str, Any] = {}
        for view in self.views:
            for key, value in view.last.items():
                if key == "at":
                    total[key] = max(total.get(key, value), value)
                elif isinstance(value, int | float):
                    total[key] = total.get(key, 0) + value
        return total

    async def until(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The first summed report that satisfies `predicate` (bound it with asyncio.timeout)."""
        while not ((last := self.last) and predicate(last)):
            self.changed.clear()
            await self.changed.wait()
        return last


def fleet_prefixes(processes: int) -> list[str]:
    """Locker id prefixes, one per emulator process (the plain prefix for a single one)."""
    return [ID_PREFIX] if processes == 1 else [f"{ID_PREFIX}{n}" for n in range(processes)]


def fleet_split(lockers: int, processes: int) -> list[int]:
    """How many lockers each emulator process runs (the first ones take the remainder)."""
    share, extra = divmod(lockers, processes)
    return [share + (1 if n < extra else 0) for n in range(processes)]


@contextlib.asynccontextmanager
async def fleet_processes(
    *, mqtt_url: str, count: int, processes: int, jitter_s: float, log_path: Path, root_key: Path
) -> AsyncIterator[FleetGroup]:
    """`processes` emulator processes sharing `count` lockers, until the block ends."""
    group = FleetGroup(processes)
    async with contextlib.AsyncExitStack() as stack:
        for n, (prefix, share) in enumerate(
            zip(fleet_prefixes(processes), fleet_split(count, processes), strict=True)
        ):
            log = log_path if processes == 1 else log_path.with_suffix(f".{n}.log")
            await stack.enter_async_context(
                fleet_process(
                    mqtt_url=mqtt_url,
                    count=share,
                    id_prefix=prefix,
                    report_every_s=sample_every(count),
                    jitter_s=jitter_s,
                    log_path=log,
                    root_key=root_key,
                    view=group.views[n],
                )
            )
        yield group


@contextlib.asynccontextmanager
async def fleet_process(
    *,
    mqtt_url: str,
    count: int,
    id_prefix: str,
    report_every_s: float,
    jitter_s: float,
    log_path: Path,
    root_key: Path,
    view: FleetView,
) -> AsyncIterator[FleetView]:
    """`openlocker-emulator run` with N lockers, until the block ends (then SIGTERM)."""
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "locker_emulator",
            "run",
            "--mqtt-url",
            mqtt_url,
            "--count",
            str(count),
            "--preset",
            PRESET,
            "--id-prefix",
            id_prefix,
            "--no-control",
            "--reconnect-jitter",
            str(jitter_s),
            "--report-every",
            str(report_every_s),
            # Every locker builds its messages with the same code: check the first of each
            # action against the spec, not 10,000 copies (the gateway validates them all).
            "--check-outgoing",
            "first",
            # The same for the gateway's replies: the first of each action in full, the rest
            # only as far as a locker routes them (a third of the fleet's validation time).
            "--check-replies",
            "first",
            "--log-level",
            "WARNING",
            "--root-key",
            str(root_key),
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
        )
        assert process.stdout is not None
        stdout = process.stdout

        async def read() -> None:
            async for raw in stdout:
                view.feed(raw.decode())
            view.changed.set()

        reader = asyncio.get_running_loop().create_task(read(), name="fleet-reader")
        try:
            yield view
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    async with asyncio.timeout(30):
                        await process.wait()
                except TimeoutError:
                    process.kill()
                    await process.wait()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


# ----- the gateway side, measured in this process -----


class TaskPeak:
    """Samples `len(asyncio.all_tasks())` of this process (the gateway's) now and then."""

    def __init__(self, every_s: float) -> None:
        self.peak = 0
        self._every_s = every_s

    def reset(self) -> None:
        self.peak = len(asyncio.all_tasks())

    async def run_forever(self) -> None:
        while True:
            self.peak = max(self.peak, len(asyncio.all_tasks()))
            await asyncio.sleep(self._every_s)


async def provision(store: Store, configs: list[LockerConfig]) -> float:
    """Every locker and compartment in a few big transactions; the seconds it took."""
    began = time.perf_counter()
    for start in range(0, len(configs), PROVISION_BATCH):
        async with store.transaction() as tx:
            for config in configs[start : start + PROVISION_BATCH]:
                locker = Locker(config.locker_id, config.locker_id, Location(52.0, 13.0))
                compartments = []
                for comp in config.compartments:
                    size = SizeClass(comp.size_class)
                    spec = STANDARD_SIZES[size]
                    compartments.append(
                        Compartment(
                            config.locker_id, comp.code, size, spec.inside, spec.max_weight_g
                        )
                    )
                await tx.lockers.add(locker, compartments)
    return time.perf_counter() - began


async def raw_transactions(store: Store, count: int, concurrency: int) -> float:
    """Transactions/s of the bare engine: read one locker row, upsert one row, commit.

    The same shape as the least a Boot needs (is the locker known? record its session), with
    none of the gateway's code around it: the database's own ceiling for boot transactions.
    """
    engine = store.engine
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE bench_raw (id TEXT PRIMARY KEY, n INTEGER)"))
    upsert = text(
        "INSERT INTO bench_raw (id, n) VALUES (:id, 1) "
        "ON CONFLICT (id) DO UPDATE SET n = bench_raw.n + 1"
    )
    probe = text("SELECT id FROM lockers WHERE id = :id")
    ids = [f"{ID_PREFIX}-{n:03d}" for n in range(1, count + 1)]
    queue = iter(ids)

    async def worker() -> None:
        for locker_id in queue:
            async with engine.begin() as conn:
                await conn.execute(probe, {"id": locker_id})
                await conn.execute(upsert, {"id": locker_id})

    began = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for n in range(concurrency):
            group.create_task(worker(), name=f"raw-tx-{n}")
    elapsed = time.perf_counter() - began
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE bench_raw"))
    return count / elapsed


@dataclass
class Phase:
    name: str
    lockers: int
    complete: bool = True  # False: the limit passed before every locker was accepted
    accepted: int = 0  # lockers accepted at the end of the phase
    accepted_s: float = 0.0  # until every locker was accepted (or the limit)
    settled_s: float = 0.0  # until key sets were installed and the gateway was quiet again
    cpu_accepted_s: float = 0.0
    cpu_settled_s: float = 0.0
    baseline_tasks: int = 0
    peak_tasks: int = 0
    settled_tasks: int = 0
    gateway_rss_delta: int = 0
    fleet_rss: int = 0
    fleet_base_rss: int = 0
    fleet_cpu_s: float = 0.0
    counters: dict[str, int] = field(default_factory=dict)
    # The OLP adapter's intake (adapters/olp/boot_intake.py): Boots answered `Pending` in the
    # receive loop, before any decoding, and Boots already expired when they arrived.
    pending_at_receipt: int = 0
    expired_at_receipt: int = 0

    def per_locker_ms(self, cpu_s: float) -> float:
        return cpu_s * 1000 / max(self.accepted, 1)


COUNTERS = (
    "boots_accepted",
    "boots_pending",
    "boots_rejected",
    "boot_errors",
    "boot_timeouts",
    "connects",
)


async def wait_quiet(max_cpu_share: float, limit_s: float) -> None:
    """Until this process used less than `max_cpu_share` of a core over one second."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = time.process_time()
        await asyncio.sleep(1.0)
        if time.process_time() - before < max_cpu_share:
            return


async def progress(name: str, fleet: FleetGroup, started_at: float) -> None:
    """A line every 10 s while a phase runs: a long storm shows where it stands."""
    while True:
        await asyncio.sleep(10)
        r = fleet.last
        print(
            f"    ... {name}: {r['accepted']}/{r['lockers']} accepted after "
            f"{time.time() - started_at:.0f} s ({r['boot_timeouts']} boots unanswered so far)",
            flush=True,
        )


@dataclass
class PhaseStart:
    """Where the gateway and the fleet stood when a phase began."""

    at: float  # wall clock
    connects: int
    cpu_s: float
    baseline_tasks: int
    rss: int


async def measure_phase(
    name: str,
    *,
    fleet: FleetGroup,
    count: int,
    start: PhaseStart,
    tasks: TaskPeak,
    limit_s: float,
    olp: OlpAdapter,
) -> Phase:
    """From `start` until all N lockers booted again and things settled, or `limit_s` passed."""
    phase = Phase(name, count, baseline_tasks=start.baseline_tasks)
    before = dict(fleet.last)
    intake_before = olp.boot_intake()
    reporter = asyncio.get_running_loop().create_task(progress(name, fleet, start.at))
    try:
        async with asyncio.timeout(limit_s):
            done = await fleet.until(
                lambda r: r["accepted"] == count and r["connects"] >= start.connects + count
            )
            phase.cpu_accepted_s = time.process_time() - start.cpu_s
            phase.accepted_s = done["at"] - start.at
            await fleet.until(lambda r: r["key_set"] == count)
            await wait_quiet(QUIET_CPU_SHARE, 30.0)
    except TimeoutError:
        phase.complete = False
        phase.cpu_accepted_s = time.process_time() - start.cpu_s
        phase.accepted_s = time.time() - start.at
    finally:
        reporter.cancel()
    phase.accepted = fleet.last["accepted"]
    phase.cpu_settled_s = time.process_time() - start.cpu_s
    phase.settled_s = time.time() - start.at
    phase.peak_tasks = tasks.peak
    phase.settled_tasks = len(asyncio.all_tasks())
    phase.gateway_rss_delta = resident_bytes() - start.rss
    phase.fleet_rss = fleet.last["rss_bytes"]
    phase.fleet_base_rss = fleet.base_rss
    phase.fleet_cpu_s = fleet.last["cpu_s"] - before.get("cpu_s", 0.0)
    phase.counters = {k: fleet.last[k] - before.get(k, 0) for k in COUNTERS}
    intake = olp.boot_intake()
    phase.pending_at_receipt = intake.pending_at_receipt - intake_before.pending_at_receipt
    phase.expired_at_receipt = intake.expired_at_receipt - intake_before.expired_at_receipt
    return phase


@dataclass
class Steady:
    seconds: float
    heartbeats: int
    failures: int
    gateway_cpu_s: float
    fleet_cpu_s: float
    tasks: int


async def measure_steady(fleet: FleetGroup, seconds: float) -> Steady:
    first = dict(fleet.last)
    cpu = time.process_time()
    await asyncio.sleep(seconds)
    last = dict(fleet.last)
    return Steady(
        seconds=last["at"] - first["at"],
        heartbeats=last["heartbeats"] - first["heartbeats"],
        failures=last["heartbeat_failures"] - first["heartbeat_failures"],
        gateway_cpu_s=time.process_time() - cpu,
        fleet_cpu_s=last["cpu_s"] - first["cpu_s"],
        tasks=len(asyncio.all_tasks()),
    )


def raise_open_files() -> int:
    """Soft open-file limit up to the hard one (Mosquitto and the fleet inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


@dataclass
class Args:
    lockers: int
    database: str
    jitter: float
    heartbeat: int
    steady: float
    limit: float
    event_loop: str
    fleet_log: Path
    fleet_processes: int


async def main(args: Args) -> None:
    # Ctrl-C or kill: leave through the `finally` blocks, so that the fleet process, the broker
    # and the database go too.
    task = asyncio.current_task()
    assert task is not None
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, task.cancel)
    open_files = raise_open_files()
    if args.lockers + 100 > open_files:
        raise SystemExit(f"{args.lockers} lockers need more than the {open_files} open files")
    configs = [
        config
        for prefix, share in zip(
            fleet_prefixes(args.fleet_processes),
            fleet_split(args.lockers, args.fleet_processes),
            strict=True,
        )
        for config in preset_lockers(share, PRESET, id_prefix=prefix)
    ]
    n = args.lockers
    print(
        f"Boot storm: {n} lockers ({PRESET}: 3 compartments each), gateway on {args.database}, "
        f"Mosquitto, emulator fleet in {args.fleet_processes} process(es) of its own; "
        f"reconnect jitter window {args.jitter:g} s, "
        f"heartbeat every {args.heartbeat} s; gateway event loop {args.event_loop}",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp) / "mqtt", extra_conf=BROKER_CONF)
        broker.start()
        try:
            rtt_p50, rtt_p99 = percentiles(await mqtt_round_trip(broker.port, 200))
            print(
                f"  raw: bare MQTT QoS 1 round trip    p50 {rtt_p50 * 1000:6.2f} ms  p99 "
                f"{rtt_p99 * 1000:6.2f} ms",
                flush=True,
            )
            async with database(args.database) as url:
                settings = bench_settings(
                    url,
                    mqtt={"url": broker.url, "embedded_port": free_port()},
                    lockers={"heartbeat_interval": args.heartbeat},
                )
                async with Gateway(settings=settings) as gateway:
                    raw_seq = await raw_transactions(gateway.store, 500, 1)
                    raw_par = await raw_transactions(gateway.store, 1000, 8)
                    provision_s = await provision(gateway.store, configs)
                    print(
                        f"  raw: {args.database} transactions (read 1 + upsert 1)  "
                        f"{raw_seq:7.0f}/s on one connection ({1000 / raw_seq:.2f} ms), "
                        f"{raw_par:7.0f}/s with 8",
                        flush=True,
                    )
                    print(
                        f"  raw: {n} boots at that rate of 8 connections: {n / raw_par:.1f} s; "
                        f"{n} lockers provisioned in {provision_s:.1f} s",
                        flush=True,
                    )
                    # The lockers pin the network root key (SPEC §9 "Signed key sets").
                    root_key = Path(tmp) / "root-key.json"
                    root_key.write_text(json.dumps(gateway.root_key.public_jwk))
                    olp = gateway.adapters.running["olp"]
                    assert isinstance(olp, OlpAdapter)
                    await run_fleet(args, broker, raw_par, root_key, olp)
        finally:
            broker.kill()


def print_phase(phase: Phase, raw_rate: float) -> None:
    n = phase.lockers
    c = phase.counters
    refused = c["boots_pending"] + c["boot_errors"] + c["boot_timeouts"]
    if phase.complete:
        headline = (
            f"all {n} accepted in {phase.accepted_s:6.1f} s "
            f"({n / max(phase.accepted_s, 1e-9):.0f} boots/s, raw DB ceiling {raw_rate:.0f}/s); "
            f"settled in {phase.settled_s:.1f} s"
        )
    else:
        headline = (
            f"NOT DONE: {phase.accepted} of {n} accepted when the {phase.accepted_s:.0f} s "
            f"limit passed (raw DB ceiling {raw_rate:.0f} boots/s)"
        )
    print(f"  {phase.name}: {headline}")
    print(
        f"      boots: {c['boots_accepted']} accepted, {refused} refused "
        f"({c['boots_pending']} pending, {c['boot_errors']} error replies, "
        f"{c['boot_timeouts']} unanswered), {c['boots_rejected']} rejected; "
        f"{c['connects']} connects; gateway: {phase.pending_at_receipt} answered Pending at "
        f"receipt, {phase.expired_at_receipt} expired on arrival"
    )
    print(
        f"      gateway CPU per accepted locker: {phase.per_locker_ms(phase.cpu_accepted_s):.2f} "
        f"ms until accepted, {phase.per_locker_ms(phase.cpu_settled_s):.2f} ms until settled "
        f"(incl. key-set push and State); emulator {phase.per_locker_ms(phase.fleet_cpu_s):.2f} ms"
    )
    print(
        f"      gateway tasks: peak {phase.peak_tasks} "
        f"({(phase.peak_tasks - phase.baseline_tasks) / n:.2f} per locker), settled "
        f"{phase.settled_tasks} ({(phase.settled_tasks - phase.baseline_tasks) / n:.2f}), "
        f"baseline {phase.baseline_tasks}"
    )
    print(
        f"      memory per locker: gateway +{phase.gateway_rss_delta / n / 1024:.1f} KiB, "
        f"emulator {(phase.fleet_rss - phase.fleet_base_rss) / n / 1024:.1f} KiB "
        f"(emulator RSS {phase.fleet_rss / 2**20:.0f} MiB)",
        flush=True,
    )


def print_steady(steady: Steady, lockers: int, baseline_tasks: int) -> None:
    beats = max(steady.heartbeats, 1)
    print(
        f"  steady ({steady.seconds:.0f} s): {steady.heartbeats} heartbeats "
        f"({steady.heartbeats / max(steady.seconds, 1e-9):.0f}/s, {steady.failures} failed); "
        f"CPU per heartbeat: gateway {steady.gateway_cpu_s * 1000 / beats:.2f} ms, "
        f"emulator {steady.fleet_cpu_s * 1000 / beats:.2f} ms; gateway tasks {steady.tasks} "
        f"({(steady.tasks - baseline_tasks) / lockers:.2f} per locker)",
        flush=True,
    )


async def run_fleet(
    args: Args, broker: Mosquitto, raw_rate: float, root_key: Path, olp: OlpAdapter
) -> None:
    n = args.lockers
    tasks = TaskPeak(sample_every(n) / 5)
    sampler = asyncio.get_running_loop().create_task(tasks.run_forever(), name="task-peak")
    try:
        baseline = len(asyncio.all_tasks())
        rss_before = resident_bytes()
        tasks.reset()
        cpu_before = time.process_time()
        async with fleet_processes(
            mqtt_url=broker.url,
            count=n,
            processes=args.fleet_processes,
            jitter_s=args.jitter,
            log_path=args.fleet_log,
            root_key=root_key,
        ) as fleet:
            async with asyncio.timeout(120):
                started = await fleet.until(lambda r: r["lockers"] == n)
            start = PhaseStart(started["at"], 0, cpu_before, baseline, rss_before)
            cold = await measure_phase(
                "cold start",
                fleet=fleet,
                count=n,
                start=start,
                tasks=tasks,
                limit_s=args.limit,
                olp=olp,
            )
            print_phase(cold, raw_rate)
            if not cold.complete:
                return  # a storm on a fleet that never booted would measure nothing new
            print_steady(await measure_steady(fleet, args.steady), n, baseline)
            tasks.reset()
            start = PhaseStart(
                time.time(), fleet.last["connects"], time.process_time(), baseline, rss_before
            )
            broker.kill()
            broker.start()
            storm = await measure_phase(
                "storm (broker restart)",
                fleet=fleet,
                count=n,
                start=start,
                tasks=tasks,
                limit_s=args.limit,
                olp=olp,
            )
            print_phase(storm, raw_rate)
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler


def parse() -> Args:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lockers", type=int, default=1000)
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument(
        "--jitter", type=float, default=5.0, help="the emulator's reconnect jitter window, s"
    )
    parser.add_argument(
        "--heartbeat", type=int, default=60, help="heartbeat interval the gateway gives, s"
    )
    parser.add_argument(
        "--steady", type=float, default=None, help="steady-state window, s (default: 1.2 x hb)"
    )
    parser.add_argument(
        "--limit", type=float, default=PHASE_LIMIT_S, help="give a phase up after this many s"
    )
    parser.add_argument(
        "--fleet-log",
        type=Path,
        default=Path(tempfile.gettempdir()) / "boot_storm_fleet.log",
        help="the emulator fleet's warnings (lost connections, unanswered Boots) go here",
    )
    parser.add_argument(
        "--fleet-processes",
        type=int,
        default=1,
        help="split the emulator fleet over this many processes (10,000 lockers: 4)",
    )
    event_loop_choice(parser)
    ns = parser.parse_args()
    if ns.fleet_processes < 1 or ns.fleet_processes > ns.lockers:
        parser.error("--fleet-processes must be between 1 and --lockers")
    steady = ns.steady if ns.steady is not None else ns.heartbeat * 1.2
    return Args(
        ns.lockers,
        ns.database,
        ns.jitter,
        ns.heartbeat,
        steady,
        ns.limit,
        ns.event_loop,
        ns.fleet_log,
        ns.fleet_processes,
    )


if __name__ == "__main__":
    arguments = parse()
    run(main(arguments), arguments.event_loop)
