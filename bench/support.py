"""What the hot-path benches share: a throw-away database, a bench locker of S doors, the
event loop choice, percentiles."""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from gateway.cli.run import run_event_loop
from gateway.domain.compartment import Compartment
from gateway.domain.enums import SizeClass
from gateway.domain.locker import Location, Locker
from gateway.domain.sizes import STANDARD_SIZES
from gateway.settings import Settings

if TYPE_CHECKING:
    from gateway.app import Gateway

GATEWAY_NETWORK = "bench-net"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
EVENT_LOOPS = ("asyncio", "uvloop")

T = TypeVar("T")


def bench_settings(database_url: str, **groups: Any) -> Settings:
    """The gateway's settings for a bench: an ephemeral HTTP port, the bench network; `groups`
    are further settings groups (`mqtt={"url": ...}`)."""
    return Settings(
        network_id=GATEWAY_NETWORK,
        store={"database_url": database_url},
        http={"port": 0},
        **groups,
    )


async def provision_s_locker(gateway: Gateway, locker_id: str, doors: int) -> None:
    """Provision `locker_id` ("Bench") with `doors` standard S compartments C00000, C00001..."""
    spec = STANDARD_SIZES[SizeClass.S]
    compartments = [
        Compartment(locker_id, f"C{n:05d}", SizeClass.S, spec.inside, spec.max_weight_g)
        for n in range(doors)
    ]
    await gateway.lockers.provision(Locker(locker_id, "Bench", Location(0, 0)), compartments)


@contextlib.asynccontextmanager
async def database(kind: str) -> AsyncIterator[str]:
    """A fresh, empty database of `kind` ("sqlite" or "postgresql"), dropped afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        return
    name = f"openlocker_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


class StatementLog:
    """Every statement the engines of this process send (BEGIN aside), and every transaction
    they begin, recorded by SQLAlchemy event hooks; `mark()` then subtract to count a span."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.begins = 0

    @classmethod
    @contextlib.contextmanager
    def attached(cls) -> Iterator[StatementLog]:
        """Listen on the Engine class, before the gateway starts: adding a listener to a
        running engine races with connections iterating its listeners."""
        log = cls()
        event.listen(Engine, "before_cursor_execute", log._on_execute)
        event.listen(Engine, "begin", log._on_begin)
        try:
            yield log
        finally:
            event.remove(Engine, "before_cursor_execute", log._on_execute)
            event.remove(Engine, "begin", log._on_begin)

    def _on_execute(
        self, _conn: Connection, _cursor: Any, statement: str, *_args: Any, **_kw: Any
    ) -> None:
        if not statement.startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE: counted as a begin
            self.statements.append(" ".join(statement.split()))

    def _on_begin(self, _conn: Connection) -> None:
        self.begins += 1

    def mark(self) -> tuple[int, int]:
        return len(self.statements), self.begins


def event_loop_choice(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--event-loop",
        choices=EVENT_LOOPS,
        default="asyncio",
        help="the event loop of every process the bench starts (default: asyncio)",
    )


def run(main: Coroutine[Any, Any, T], event_loop: str) -> T:
    """`main` on the chosen loop, the way `openlocker serve` runs it."""
    return run_event_loop(main, event_loop)


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 of `samples`, in the samples' unit."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered), p99


def per_call_us(
    call: Callable[[], object], count: int, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Microseconds per call, best of three runs of `count` (the machine is shared)."""
    call()  # warm caches (regexes, lazily built validator state)
    best = float("inf")
    for _ in range(3):
        start = clock()
        for _ in range(count):
            call()
        best = min(best, (clock() - start) / count)
    return best * 1e6
