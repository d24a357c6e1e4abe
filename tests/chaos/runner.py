"""One chaos run: workload and faults together, then settle, collect from the witnesses, check.

`Plan.short()` runs inside the test command; `Plan.long()` is `python -m bench.chaos --long`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from gateway.service.audit import AuditService
from gateway.store import Store
from tests.chaos import evidence
from tests.chaos import invariants as inv
from tests.chaos.rig import Site, running_site
from tests.chaos.workload import Workload

SETTLE_S = 60.0


@dataclass(frozen=True, kw_only=True)
class Plan:
    parcels: int
    concurrency: int
    lockers: int
    kills: int
    broker_restarts: int
    pg_restarts: int
    partitions: int
    slow_links: int
    gap_s: float  # between two faults
    seed: int = 1

    @classmethod
    def short(cls, seed: int = 1) -> Plan:
        return cls(
            parcels=12, concurrency=6, lockers=3, kills=3, broker_restarts=1, pg_restarts=1,
            partitions=1, slow_links=1, gap_s=1.0, seed=seed,
        )  # fmt: skip

    @classmethod
    def long(cls, seed: int = 1) -> Plan:
        return cls(
            parcels=160, concurrency=10, lockers=8, kills=24, broker_restarts=4, pg_restarts=4,
            partitions=4, slow_links=4, gap_s=2.0, seed=seed,
        )  # fmt: skip


@dataclass
class Report:
    faults: collections.Counter[str] = field(default_factory=collections.Counter)
    requests: collections.Counter[str] = field(default_factory=collections.Counter)
    violations: list[inv.Violation] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    parcels: int = 0
    completed: int = 0
    explained: int = 0
    physical_opens: int = 0
    webhooks: int = 0
    audit_entries: int = 0
    gateway_starts: int = 0
    seconds: float = 0.0
    slowest_s: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    # Per parcel a violation is about: what every witness recorded of it.
    evidence: dict[str, list[str]] = field(default_factory=dict)
    # Every fault as it began (UTC), for the evidence.
    timeline: list[tuple[datetime, str]] = field(default_factory=list)

    def fault(self, kind: str, detail: str = "") -> None:
        self.faults[kind] += 1
        self.timeline.append((datetime.now(UTC), f"{kind} {detail}".rstrip()))

    def lines(self) -> list[str]:
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items())) or "none"
        requests = ", ".join(f"{k} {v}" for k, v in sorted(self.requests.items()))
        out = [
            f"chaos run: {self.seconds:.0f} s ("
            + ", ".join(f"{k} {v:.0f} s" for k, v in self.phases.items())
            + f"), 2 gateway instances ({self.gateway_starts} starts)",
            f"faults injected: {faults} (total {sum(self.faults.values())})",
            f"lifecycles: {self.completed} of {self.parcels} completed, {self.explained} stopped "
            "with a reason",
            f"requests: {requests}",
            f"slowest door close to parcel state: {self.slowest_s:.1f} s",
            f"physical opens {self.physical_opens}, webhook deliveries {self.webhooks}, "
            f"audit entries verified {self.audit_entries}",
            f"violations: {len(self.violations)}",
        ]
        out += [f"  VIOLATION {v}" for v in self.violations]
        out += [f"  finding: {f}" for f in self.findings]
        for parcel_id, lines in self.evidence.items():
            out.append(f"evidence for {parcel_id}:")
            out += [f"    {line}" for line in lines]
        return out


class Faults:
    """Injects the plan's faults one after another, in a seeded random order."""

    def __init__(self, site: Site, plan: Plan, report: Report) -> None:
        self.site = site
        self.plan = plan
        self.report = report
        self.rng = random.Random(plan.seed)

    def schedule(self) -> list[Callable[[], Coroutine[Any, Any, None]]]:
        kinds: list[Callable[[], Coroutine[Any, Any, None]]] = []
        kinds += [self.kill_gateway] * self.plan.kills
        kinds += [self.restart_broker] * self.plan.broker_restarts
        kinds += [self.restart_postgres] * self.plan.pg_restarts
        kinds += [self.partition] * self.plan.partitions
        kinds += [self.slow_link] * self.plan.slow_links
        self.rng.shuffle(kinds)
        return kinds

    async def run(self) -> None:
        for fault in self.schedule():
            await asyncio.sleep(self.plan.gap_s * (0.5 + self.rng.random()))
            await fault()

    async def _door_in_flight(self, patience_s: float) -> None:
        """Until a door session is requested (a kill then lands mid-open), at most `patience_s`."""
        with contextlib.suppress(Exception):
            conn = await asyncpg.connect(self.site.database_url, timeout=2)
            try:
                deadline = time.monotonic() + patience_s
                while time.monotonic() < deadline and not await conn.fetchval(
                    "SELECT count(*) FROM door_sessions WHERE state = 'requested'"
                ):
                    await asyncio.sleep(0.02)
            finally:
                await conn.close()

    async def kill_gateway(self) -> None:
        gateway = self.site.gateways[self.rng.randrange(len(self.site.gateways))]
        await self._door_in_flight(2.0)
        gateway.kill()
        self.report.fault("gateway SIGKILL", gateway.instance)
        await asyncio.sleep(self.rng.random())
        await gateway.start()
        self.report.timeline.append((datetime.now(UTC), f"{gateway.instance} serving again"))

    async def restart_broker(self) -> None:
        self.report.fault("broker restart")
        await asyncio.to_thread(self.site.broker.restart)

    async def restart_postgres(self) -> None:
        self.report.fault("postgres restart")
        await asyncio.to_thread(self.site.pg.restart, "immediate")

    async def partition(self) -> None:
        self.site.link.partition()
        self.report.fault("locker-broker partition")
        await asyncio.sleep(1.0 + 2 * self.rng.random())
        self.site.link.heal()
        self.report.timeline.append((datetime.now(UTC), "locker-broker link healed"))

    async def slow_link(self) -> None:
        if self.rng.random() < 0.5:
            self.site.link.latency_s = 0.2 + 0.3 * self.rng.random()
            self.report.fault("locker-broker latency", f"{self.site.link.latency_s:.2f} s")
            await asyncio.sleep(3.0)
            self.site.link.latency_s = 0.0
            self.report.timeline.append((datetime.now(UTC), "locker-broker latency over"))
        else:
            self.site.link.stall()
            self.report.fault("locker-broker stall")
            await asyncio.sleep(1.0 + self.rng.random())
            self.site.link.heal()
            self.report.timeline.append((datetime.now(UTC), "locker-broker link healed"))


async def _collect(site: Site) -> tuple[dict[str, list[inv.ParcelRow]], dict[str, list[int]]]:
    conn = await asyncpg.connect(site.database_url)
    try:
        rows: dict[str, list[inv.ParcelRow]] = collections.defaultdict(list)
        for r in await conn.fetch(
            "SELECT parcel_id, state, locker_id, compartment_code FROM parcels"
        ):
            rows[r["parcel_id"]].append(
                inv.ParcelRow(
                    parcel_id=r["parcel_id"],
                    state=r["state"],
                    locker_id=r["locker_id"],
                    compartment_code=r["compartment_code"],
                )
            )
        events: dict[str, list[int]] = collections.defaultdict(list)
        for r in await conn.fetch(
            "SELECT p.parcel_id, e.seq FROM parcel_events e JOIN parcels p ON p.uid = e.parcel_uid"
            " ORDER BY p.parcel_id, e.seq"
        ):
            events[r["parcel_id"]].append(int(r["seq"]))
        return rows, events
    finally:
        await conn.close()


async def _at_rest(
    site: Site, patience_s: float
) -> tuple[dict[str, list[inv.ParcelRow]], dict[str, list[int]]]:
    """Until every parcel is in a terminal state (or the patience ran out: the checks then say
    which is stuck), e.g. a close the workload stopped waiting for that is still replayed."""
    deadline = time.monotonic() + patience_s
    while True:
        rows, events = await _collect(site)
        resting = all(r.state in inv.TERMINAL for stored in rows.values() for r in stored)
        if resting or time.monotonic() > deadline:
            return rows, events
        await asyncio.sleep(0.5)


async def _outbox_drained(site: Site, events: dict[str, list[int]], patience_s: float) -> None:
    """Until every stored event reached the receiver (or the patience ran out: the check says
    what is missing)."""
    deadline = time.monotonic() + patience_s
    while time.monotonic() < deadline:
        if not inv.webhooks_in_order(events, site.receiver.deliveries):
            return
        await asyncio.sleep(0.2)


async def _audit(site: Site, report: Report) -> str | None:
    async with Store.connect(site.database_url) as store:
        verdict = await AuditService(store=store).verify()
    report.audit_entries = verdict.checked
    return (
        None if verdict.problem is None else f"{verdict.problem.breach}: {verdict.problem.message}"
    )


async def _evidence(
    site: Site,
    workload: Workload,
    report: Report,
    opens: list[inv.PhysicalOpen],
) -> dict[str, list[str]]:
    """For each parcel a violation is about, what the database, the hardware, the workload
    and the gateways' logs recorded of it."""
    known = [o.parcel_id for o in workload.outcomes]
    found: dict[str, list[str]] = {}
    for violation in report.violations:
        parcel_id = evidence.parcel_of(violation, known)
        if parcel_id is None or parcel_id in found:
            continue
        lines = [f"workload {line}" for line in workload.trace.get(parcel_id, [])]
        try:
            stored = await evidence.from_database(site.database_url, parcel_id)
        except (OSError, asyncpg.PostgresError) as err:
            stored = [f"database unreadable: {err!r}"]
        lines += stored
        rows = await _parcel_rows(site, parcel_id)
        for locker_id, code, _uid, since in rows:
            lines += evidence.from_hardware(opens, locker_id, code, since)
            lines += evidence.faults_during(report.timeline, since)
        logs = [log for g in site.gateways for log in g.logs()]
        keypad = [f"locker {row[0]}: {what}" for row in rows for what in ("keypad", "code")]
        since = min((row[3] for row in rows), default=datetime.now(UTC))
        lines += evidence.from_logs(logs, [parcel_id, *(row[2] for row in rows), *keypad], since)
        found[parcel_id] = lines
    return found


async def _parcel_rows(site: Site, parcel_id: str) -> list[tuple[str, str | None, str, datetime]]:
    with contextlib.suppress(OSError, asyncpg.PostgresError):
        conn = await asyncpg.connect(site.database_url, timeout=10)
        try:
            return [
                (r["locker_id"], r["compartment_code"], r["uid"], r["created_at"])
                for r in await conn.fetch(
                    "SELECT locker_id, compartment_code, uid, created_at FROM parcels"
                    " WHERE parcel_id = $1",
                    parcel_id,
                )
            ]
        finally:
            await conn.close()
    return []


async def run(plan: Plan, *, log: Callable[[str], None] = print) -> Report:
    report = Report()
    began = time.monotonic()
    async with running_site(lockers=plan.lockers, doors=plan.parcels // plan.lockers + 2) as site:
        report.phases["start"] = time.monotonic() - began
        log(f"site up in {report.phases['start']:.1f} s (logs in {site.workdir})")
        mark = time.monotonic()
        workload = Workload(site, plan.seed)
        faults_done = asyncio.Event()
        injector = asyncio.create_task(Faults(site, plan, report).run())
        injector.add_done_callback(lambda _: faults_done.set())
        try:
            await workload.run(plan.parcels, plan.concurrency, faults_done)
        finally:
            if not injector.done():
                injector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await injector
        report.phases["workload and faults"] = time.monotonic() - mark
        mark = time.monotonic()
        # Faults are over: every instance up, the link healed; now let the system settle.
        site.link.heal()
        site.link.latency_s = 0.0
        for gateway in site.gateways:
            if gateway.url is None:
                await gateway.start()
        rows, events = await _at_rest(site, SETTLE_S)
        await _outbox_drained(site, events, SETTLE_S)
        rows, events = await _collect(site)
        report.phases["settle"] = time.monotonic() - mark
        opens = list(site.ledger.opens)
        report.violations += inv.lost_or_stuck(workload.outcomes, rows)
        report.violations += inv.duplicate_parcels(rows, workload.answers)
        report.violations += inv.double_opens(opens, workload.holdings)
        report.violations += inv.late_opens(opens)
        report.violations += inv.webhooks_in_order(events, site.receiver.deliveries)
        report.violations += inv.audit_chain(await _audit(site, report))
        report.evidence = await _evidence(site, workload, report, opens)
        site.keep = bool(report.violations)
        if site.keep:
            workload.findings.append(f"logs and database files kept in {site.workdir}")
        report.findings = workload.findings
        report.requests = workload.requests
        report.slowest_s = workload.slowest_s
        report.parcels = len(workload.outcomes)
        report.completed = sum(1 for o in workload.outcomes if o.completed)
        report.explained = sum(1 for o in workload.outcomes if o.reason is not None)
        report.physical_opens = len(opens)
        report.webhooks = len(site.receiver.deliveries)
        report.gateway_starts = sum(g.starts for g in site.gateways)
    report.seconds = time.monotonic() - began
    return report
