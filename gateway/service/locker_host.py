"""The gateway's locker side: what adapters talk to (LockerHost) and the one builder of it all."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.clock import Clock, utc_now
from gateway.domain.keypad import KeypadPolicy
from gateway.domain.scan import ScanAnswer, ScanQuery, ScanRules
from gateway.observability import correlation, tracing
from gateway.observability.metrics import Metrics
from gateway.sdk import BootDecision, BootInfo, LockerEvent
from gateway.sdk.telemetry import LaneOverload
from gateway.service.adapters import AdapterDirectory
from gateway.service.boot_admission import BootAdmission
from gateway.service.boot_gate import DEFAULT_BOOT_CONCURRENCY, BootGate, BootListener
from gateway.service.codes import CodeService
from gateway.service.door_events import DoorEvents
from gateway.service.event_order import EventOrder
from gateway.service.event_pipeline import EventPipeline, RetryPolicy, Sleep
from gateway.service.keypad_entry import KeypadEntry
from gateway.service.lane_overloads import LaneOverloads
from gateway.service.parcels import ParcelService
from gateway.service.presence import Presence
from gateway.service.scan_queries import ScanQueries
from gateway.service.unlocks import Unlocks
from gateway.store import Store


class LockerHost:
    """`gateway.sdk.AdapterHost`: boots go to the BootGate, events into the EventPipeline;
    adapters that time their messages report here (`gateway.sdk.telemetry.MessageTimer`), and
    so do their lanes' overload episodes (`OverloadWatcher`, audited by LaneOverloads)."""

    def __init__(
        self,
        *,
        boot_gate: BootGate,
        pipeline: EventPipeline,
        clock: Clock,
        metrics: Metrics | None = None,
        scans: ScanQueries | None = None,
        overloads: LaneOverloads | None = None,
    ) -> None:
        self._boot_gate = boot_gate
        self._overloads = overloads
        self._pipeline = pipeline
        self._scans = scans
        self._clock = clock
        self._metrics = metrics or Metrics()

    def message_handled(self, kind: str, action: str, seconds: float) -> None:
        self._metrics.mqtt_message(kind, action, seconds)

    def command_answered(self, action: str, outcome: str, seconds: float) -> None:
        self._metrics.mqtt_command(action, outcome, seconds)

    def lane_overloaded(self, overload: LaneOverload) -> None:
        if self._overloads is not None:
            self._overloads.lane_overloaded(overload)

    async def authorize_boot(self, locker_id: str, info: BootInfo) -> BootDecision:
        return await self._boot_gate.authorize_boot(locker_id, info)

    async def is_booted(self, locker_id: str) -> bool:
        return await self._boot_gate.is_booted(locker_id)

    def now(self) -> datetime:
        return self._clock()

    async def scan_parcel(self, query: ScanQuery) -> ScanAnswer:
        if self._scans is None:
            raise NotImplementedError("this gateway was built without query on scan")
        return await self._scans.answer(query)

    async def locker_event(self, event: LockerEvent) -> None:
        # An adapter that bound its message's id keeps it; a board adapter's polled event
        # gets its own, so the event's log lines and outbox rows carry one.
        with (
            correlation.bind(None if correlation.current() else event.event_id),
            tracing.event_span(type(event).__name__, event.locker_id, event.event_id),
        ):
            await self._pipeline.locker_event(event)


@dataclass(frozen=True, slots=True)
class LockerSide:
    """Every service of the gateway's locker side, built in order by `build`."""

    boot_gate: BootGate
    unlocks: Unlocks
    order: EventOrder
    doors: DoorEvents
    presence: Presence
    keypad: KeypadEntry
    pipeline: EventPipeline
    host: LockerHost
    scans: ScanQueries

    @classmethod
    def build(
        cls,
        *,
        store: Store,
        parcels: ParcelService,
        codes: CodeService,
        adapters: AdapterDirectory,
        on_booted: BootListener | None = None,
        open_timeout: timedelta = timedelta(seconds=10),
        heartbeat_interval_s: int = 60,
        boot_concurrency: int = DEFAULT_BOOT_CONCURRENCY,
        keypad_policy: KeypadPolicy | None = None,
        retry: RetryPolicy | None = None,
        sweep_interval_s: float = 5.0,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = utc_now,
        metrics: Metrics | None = None,
        scan_rules: ScanRules | None = None,
        overloads: LaneOverloads | None = None,
    ) -> LockerSide:
        """`on_booted` is told of every accepted Boot (key distribution); `sleep` is the wait
        between an event's attempts and between sweeps of parked events."""
        order = EventOrder(store=store, adapters=adapters, clock=clock)
        presence = Presence()
        boot_gate = BootGate(
            store=store,
            heartbeat_interval_s=heartbeat_interval_s,
            on_booted=on_booted,
            clock=clock,
            marks=order.marks,
            presence=presence,
            admission=BootAdmission(limit=boot_concurrency),
        )
        unlocks = Unlocks(
            store=store, parcels=parcels, adapters=adapters, open_timeout=open_timeout, clock=clock
        )
        doors = DoorEvents(parcels=parcels)
        keypad = KeypadEntry(
            store=store,
            codes=codes,
            unlocks=unlocks,
            adapters=adapters,
            policy=keypad_policy,
            clock=clock,
            metrics=metrics,
        )
        pipeline = EventPipeline(
            store=store,
            order=order,
            doors=doors,
            presence=presence,
            keypad=keypad,
            retry=retry,
            sweep_interval_s=sweep_interval_s,
            sleep=sleep,
            clock=clock,
        )
        # Query on scan: the network's and the carriers' policies (`[scan]` settings).
        scans = ScanQueries(
            store=store, parcels=parcels, unlocks=unlocks, rules=scan_rules, clock=clock
        )
        host = LockerHost(
            boot_gate=boot_gate,
            pipeline=pipeline,
            clock=clock,
            metrics=metrics,
            scans=scans,
            overloads=overloads,
        )
        return cls(boot_gate, unlocks, order, doors, presence, keypad, pipeline, host, scans)
