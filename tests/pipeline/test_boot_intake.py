"""Boots answered `Pending` at receipt while the lanes are behind, and booting later.

At 10,000 lockers every Boot passed its `exp` while it waited in its locker's lane, before the
boot admission saw it; the lockers' retries kept the backlog full and none was accepted
(bench/boot_storm.py). The OLP adapter now answers `Pending` in its receive loop, before any
decoding, while the Boots already queued are too old to be answered in time. The unit half
checks the arithmetic with a fake clock; the other half runs the real gateway, Mosquitto and
the emulator, with the database's write lock held by another connection so the lanes fall
behind for real.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
from locker_emulator import EmulatorBank, Timing, preset_lockers

from adapters.olp import OlpAdapter
from adapters.olp.adapter import _MESSAGE_ID
from adapters.olp.boot_intake import (
    MAX_WAIT_S,
    MIN_BACKLOG,
    BootIntake,
    peek_boot,
)
from gateway.app import Gateway
from gateway.domain.enums import SizeClass
from tests.http.conftest import settings_for
from tests.store.builders import compartments, locker
from tests.support.mosquitto import Mosquitto


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _intake_with_backlog(clock: FakeTime, queued: int) -> BootIntake:
    intake = BootIntake(monotonic=clock, rand=lambda: 0.0)
    for n in range(queued):
        assert intake.wait_for(f"Q{n}", remaining_s=10) is None
        intake.queued(f"Q{n}")
    return intake


def test_a_boot_is_queued_while_the_lanes_can_answer_it_in_time() -> None:
    clock = FakeTime()
    intake = _intake_with_backlog(clock, MIN_BACKLOG)
    clock.now += 4.9  # the oldest waited less than half of a 10 s exp
    assert intake.wait_for("NEW", remaining_s=10) is None


def test_a_boot_is_turned_away_once_the_oldest_queued_one_is_too_old() -> None:
    clock = FakeTime()
    intake = _intake_with_backlog(clock, MIN_BACKLOG)
    clock.now += 6.0
    wait = intake.wait_for("NEW", remaining_s=10)
    # Not before the queue in front of it can have drained (the oldest has waited 6 s).
    assert wait == 6
    stats = intake.stats()
    assert (stats.queued, stats.told_to_wait, stats.pending_at_receipt) == (MIN_BACKLOG, 1, 1)


def test_a_short_remaining_time_turns_a_boot_away_sooner() -> None:
    clock = FakeTime()
    intake = _intake_with_backlog(clock, MIN_BACKLOG)
    clock.now += 1.5
    assert intake.wait_for("NEW", remaining_s=10) is None
    assert intake.wait_for("LATE", remaining_s=2) is not None


def test_a_quiet_gateway_never_turns_a_boot_away() -> None:
    clock = FakeTime()
    intake = _intake_with_backlog(clock, MIN_BACKLOG - 1)
    clock.now += 60
    assert intake.wait_for("NEW", remaining_s=10) is None


def test_a_locker_whose_boot_is_queued_is_not_turned_away() -> None:
    clock = FakeTime()
    intake = _intake_with_backlog(clock, MIN_BACKLOG)
    clock.now += 60
    assert intake.wait_for("Q0", remaining_s=10) is None  # its lane answers the newest Boot


def test_the_wait_spreads_the_turned_away_over_the_accept_rate_and_is_capped() -> None:
    clock = FakeTime()
    intake = BootIntake(monotonic=clock, rand=lambda: 1.0)
    for n in range(240):
        intake.queued(f"Q{n}")
    # The lanes answered and accepted 200 Boots over the last 1 s: 200 per second, above the
    # floor (PRIOR_RATE), so the measured rate spreads them.
    for n in range(200):
        intake.answered(f"Q{n}")
        intake.accepted(f"Q{n}")
        clock.now += 0.005
    assert intake.stats().queued == 40
    waits = [intake.wait_for(f"N{n}", remaining_s=1) for n in range(13000)]
    # The first waits at least as long as the oldest Boot in hand has (1 s), plus its share of
    # the spread; the 2,400th waits behind 2,399 others and 40 in hand at 200/s: 12.2 s; the
    # 12,000th 60.2 s, capped.
    first, nth, last = waits[0], waits[2399], waits[11999]
    assert first == 2
    assert nth == 13
    assert last == MAX_WAIT_S
    # Accepted: no longer counted among those expected back.
    intake.accepted("N0")
    assert intake.stats().told_to_wait == 12999


def test_a_slow_return_does_not_make_the_spread_slower() -> None:
    clock = FakeTime()
    intake = BootIntake(monotonic=clock, rand=lambda: 1.0)
    for n in range(MIN_BACKLOG):
        intake.queued(f"Q{n}")
    # One Boot accepted a second: the lockers are away, waiting, not the gateway slow.
    for n in range(10):
        intake.accepted(f"A{n}")
        clock.now += 1.0
    waits = [intake.wait_for(f"N{n}", remaining_s=1) for n in range(320)]
    # Not 336 s (320 told + 16 in hand at the 1/s return rate, capped at 60): the oldest in
    # hand waited 10 s, and the floor rate spreads the rest within the next second.
    assert waits[-1] == 11


def test_peek_reads_the_id_and_exp_of_a_boot_and_nothing_doubtful() -> None:
    exp = "2026-12-06T10:00:10Z"
    good = {"kind": "call", "action": "Boot", "id": "boot-1", "exp": exp, "payload": {}}
    header = peek_boot(json.dumps(good).encode(), _MESSAGE_ID.fullmatch)
    assert header is not None
    assert header.call_id == "boot-1"
    assert header.remaining_s(datetime(2026, 12, 6, 10, 0, 4, tzinfo=UTC)) == 6.0
    no_exp = peek_boot(json.dumps(good | {"exp": None}).encode(), _MESSAGE_ID.fullmatch)
    assert no_exp is not None
    assert no_exp.remaining_s(datetime.now(UTC)) == 10.0
    for bad in (
        b"not json",
        b"[1]",
        json.dumps(good | {"kind": "event"}).encode(),
        json.dumps(good | {"id": "x" * 37}).encode(),
        json.dumps(good | {"exp": "tomorrow"}).encode(),
        json.dumps(good | {"exp": "2026-12-06T10:00:10"}).encode(),  # no zone
        json.dumps(good | {"exp": 5}).encode(),
    ):
        assert peek_boot(bad, _MESSAGE_ID.fullmatch) is None, bad


# ---- the real thing: gateway, Mosquitto, emulator ------------------------------------------

EARLY, LATE = 20, 4
# A locker that waits 1 s for a reply and gives its calls 4 s: half of that (2 s) is what a
# Boot may wait in its lane, so the lanes are "behind" soon after the database stops.
TIMING = Timing(
    call_timeout=1.0,
    call_expiry=4.0,
    boot_retry_initial=0.05,
    boot_retry_max=0.3,
    reconnect_initial=0.05,
    reconnect_max=0.3,
    keepalive=5,
    tick=0.05,
)


async def test_lockers_arriving_while_the_lanes_are_behind_are_told_to_wait_then_boot(
    tmp_path: Path,
) -> None:
    db_file = tmp_path / "gateway.db"
    with Mosquitto(tmp_path / "mqtt") as broker:
        settings = settings_for(f"sqlite:///{db_file}", mqtt_url=broker.url)
        async with Gateway(settings=settings) as gateway:
            early = preset_lockers(EARLY, "small", id_prefix="EARLY")
            late = preset_lockers(LATE, "small", id_prefix="LATE")
            for locker_id in [*(c.locker_id for c in [*early, *late]), RAW]:
                doors = compartments(locker_id, [SizeClass.S, SizeClass.M, SizeClass.L])
                await gateway.lockers.provision(locker(locker_id), doors)
            raw_locker = aiomqtt.Client("127.0.0.1", broker.port, identifier=RAW)
            adapter = gateway.adapters.running["olp"]
            assert isinstance(adapter, OlpAdapter)
            root = gateway.root_key.public_jwk
            # Another connection holds the write lock: every transaction of the gateway (its
            # one SQLite connection) waits, and the lanes fall behind with it.
            holder = sqlite3.connect(db_file, isolation_level=None, timeout=5)
            holder.execute("BEGIN IMMEDIATE")
            try:
                async with EmulatorBank(
                    mqtt_url=broker.url, lockers=early, timing=TIMING, root_key=root
                ) as early_bank:
                    # Every early locker's Boot is queued (or retried into the queue), and
                    # the oldest has waited past half of a Boot's `exp`.
                    await _until(lambda: adapter.boot_intake().queued >= MIN_BACKLOG, 10)
                    await asyncio.sleep(2.5)
                    async with EmulatorBank(
                        mqtt_url=broker.url, lockers=late, timing=TIMING, root_key=root
                    ) as late_bank:
                        await _until(
                            lambda: all(lk.model.counters.boots_pending >= 1 for lk in late_bank),
                            10,
                        )
                        late_pending = adapter.boot_intake().pending_at_receipt
                        assert late_pending >= LATE
                        # Their online Status (sent before the Boot) waits for the Boot:
                        # not a presence transaction each while Boots pile up.
                        assert all(lk.locker_id in adapter._status_slot for lk in late_bank)
                        # A locker whose Boot came before its Status was applied (as in a
                        # storm's receive batch): its Status waits for its next Boot, not in a
                        # transaction of its own that would keep the gateway behind.
                        raw = await raw_locker.__aenter__()
                        await raw.subscribe(f"olp/v1/{RAW}/res", qos=1)
                        answers = _answers(raw)
                        boot = _raw(RAW, "call", "Boot", BOOT_PAYLOAD, seq=1, exp_s=4)
                        await raw.publish(f"olp/v1/{RAW}/req/Boot", boot, qos=1)
                        reply = await asyncio.wait_for(answers.__anext__(), 5)
                        assert reply["payload"]["status"] == "Pending"
                        status = _raw(RAW, "event", "Status", {"online": True}, seq=2)
                        await raw.publish(f"olp/v1/{RAW}/status", status, qos=1, retain=True)
                        await asyncio.sleep(0.5)
                        assert RAW in adapter._status_slot  # held, not in a transaction
                        holder.execute("ROLLBACK")
                        # Nothing lost: the early ones boot from the queue, the late ones
                        # after the wait they were given.
                        async with asyncio.timeout(30):
                            await early_bank.wait_all_booted()
                            await late_bank.wait_all_booted()
                        assert all(lk.model.counters.boots_accepted >= 1 for lk in late_bank)
                        # ...and is free once the Boot was accepted (the Boot wrote online).
                        await _until(
                            lambda: all(
                                lk.locker_id not in adapter._status_slot for lk in late_bank
                            ),
                            5,
                        )
                        assert adapter.boot_intake().statuses_folded >= LATE
                        folded = adapter.boot_intake().statuses_folded
                        boot = _raw(RAW, "call", "Boot", BOOT_PAYLOAD, seq=3, exp_s=10)
                        await raw.publish(f"olp/v1/{RAW}/req/Boot", boot, qos=1)
                        reply = await asyncio.wait_for(answers.__anext__(), 10)
                        assert reply["payload"]["status"] == "Accepted"
                        await _until(lambda: RAW not in adapter._status_slot, 5)
                        assert adapter.boot_intake().statuses_folded >= folded + 1
                        async with gateway.store.transaction() as tx:
                            session = await tx.sessions.get(RAW)
                        assert session is not None
                        assert session.online
            finally:
                holder.close()
                await raw_locker.__aexit__(None, None, None)


RAW = "RAW-001"
BOOT_PAYLOAD = {
    "vendor": "v",
    "model": "m",
    "firmware": "1",
    "features": [],
    "compartments": [{"code": "A01", "sizeClass": "S"}],
    "lastEventSeq": 0,  # a locker with a journal, as the emulator's
}


def _raw(
    src: str, kind: str, action: str, payload: dict[str, Any], *, seq: int, exp_s: float = 0
) -> bytes:
    now = datetime.now(UTC)
    message: dict[str, Any] = {
        "olp": "1.0",
        "id": str(uuid.uuid4()),
        "kind": kind,
        "action": action,
        "ts": _ts(now),
        "src": src,
        "seq": seq,
        "payload": payload,
    }
    if exp_s:
        message["exp"] = _ts(now + timedelta(seconds=exp_s))
    return json.dumps(message).encode()


def _ts(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def _answers(client: aiomqtt.Client) -> AsyncIterator[dict[str, Any]]:
    async for message in client.messages:
        assert isinstance(message.payload, bytes)
        reply: dict[str, Any] = json.loads(message.payload)
        yield reply


async def _until(predicate: object, timeout_s: float) -> None:
    assert callable(predicate)
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not reached within {timeout_s} s")
        await asyncio.sleep(0.05)


def test_a_default_budget_applies_without_exp() -> None:
    header = peek_boot(b'{"kind":"call","id":"b","payload":{}}', _MESSAGE_ID.fullmatch)
    assert header is not None
    assert header.remaining_s(datetime.now(UTC) + timedelta(days=1)) == 10.0
