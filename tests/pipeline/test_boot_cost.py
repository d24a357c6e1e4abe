"""What a Boot and a Heartbeat cost the database: the boot storm is paid per round trip.

A Boot is one transaction (its statements counted here), its journal report and the
Heartbeat of an up-to-date locker none; a report that looks behind still reads the database.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection

from gateway.domain.enums import SizeClass
from gateway.sdk import BootInfo, BootStatus, CompartmentInfo, JournalReported, PresenceChanged
from gateway.service.event_order import EventMarks
from tests.pipeline.conftest import LOCKER, Rig

INFO = BootInfo(
    vendor="acme",
    model="lb",
    firmware="2.0",
    compartments=(CompartmentInfo(code="C01", size_class=SizeClass.S),),
    serial_number="S-1",
    key_set_version=4,
)


class Cost:
    """BEGINs and statements on the store's engine while the block runs."""

    def __init__(self, rig: Rig) -> None:
        self.transactions = 0
        self.statements: list[str] = []
        engine = rig.store.engine.sync_engine
        event.listen(engine, "begin", self._on_begin)
        event.listen(engine, "before_cursor_execute", self._on_statement)

    def _on_begin(self, _conn: Connection) -> None:
        self.transactions += 1

    def _on_statement(self, _conn: Connection, _cursor: Any, sql: str, *_args: Any) -> None:
        if not sql.startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE: counted as a transaction
            self.statements.append(sql)

    def reset(self) -> None:
        self.transactions = 0
        self.statements.clear()


def report(last_event_seq: int, *, at_boot: bool = False) -> JournalReported:
    return JournalReported(
        locker_id=LOCKER,
        at=datetime.now(UTC),
        event_id=str(uuid.uuid4()),
        last_event_seq=last_event_seq,
        at_boot=at_boot,
    )


async def test_a_boot_is_one_statement_and_its_journal_report_no_transaction(rig: Rig) -> None:
    cost = Cost(rig)
    decision = await rig.side.host.authorize_boot(LOCKER, INFO)
    assert decision.status is BootStatus.ACCEPTED
    await rig.side.host.locker_event(report(0, at_boot=True))
    assert (cost.transactions, len(cost.statements)) == (1, 1), cost.statements
    async with rig.store.transaction() as tx:
        session = await tx.sessions.get(LOCKER)
        version = await tx.sessions.key_set_version(LOCKER)
    assert session is not None
    assert (session.online, session.booted) == (True, True)
    assert (session.firmware, version) == ("2.0", 4)
    assert session.boot_info == {"vendor": "acme", "model": "lb", "serial": "S-1"}


async def test_unprovisioned_compartments_are_named_in_the_same_transaction(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    cost = Cost(rig)
    extra = CompartmentInfo(code="Z99", size_class=SizeClass.S)
    info = BootInfo(vendor="acme", model="lb", firmware="2.0", compartments=(extra,))
    assert (await rig.side.host.authorize_boot(LOCKER, info)).status is BootStatus.ACCEPTED
    assert (cost.transactions, len(cost.statements)) == (1, 2), cost.statements
    assert "reports unprovisioned compartments ['Z99']" in caplog.text


async def test_an_unknown_locker_is_rejected_and_nothing_is_written(rig: Rig) -> None:
    decision = await rig.side.host.authorize_boot("NOBODY", INFO)
    assert decision.status is BootStatus.REJECTED
    async with rig.store.transaction() as tx:
        assert await tx.sessions.get("NOBODY") is None


async def test_a_heartbeat_of_an_up_to_date_locker_costs_no_transaction(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    await rig.side.host.authorize_boot(LOCKER, INFO)
    cost = Cost(rig)
    await rig.side.host.locker_event(report(0))
    assert cost.transactions == 0
    # An applied event moves the remembered mark with it: its Heartbeat is free too.
    await rig.side.host.locker_event(rig.opened("C01"))
    cost.reset()
    await rig.side.host.locker_event(report(1))
    assert cost.transactions == 0
    # A report ahead of the mark reads the database (the mark, the locker's adapter) and asks
    # for the missing events (this rig's adapter cannot replay: logged).
    await rig.side.host.locker_event(report(3))
    assert cost.transactions >= 1
    assert "cannot replay events; 2 onwards stay missing" in caplog.text
    assert await rig.mark() == 1


async def test_a_reset_journal_at_boot_is_seen_after_the_boot_read_the_mark(rig: Rig) -> None:
    await rig.side.host.locker_event(rig.opened("C01"))
    await rig.side.host.locker_event(rig.opened("C01"))
    assert (await rig.side.host.authorize_boot(LOCKER, INFO)).status is BootStatus.ACCEPTED
    await rig.side.host.locker_event(report(0, at_boot=True))
    assert await rig.mark() == 0


def test_a_remembered_mark_is_trusted_only_when_equal_and_only_for_its_lifetime() -> None:
    now = [0.0]
    marks = EventMarks(ttl_s=10.0, monotonic=lambda: now[0])
    assert not marks.up_to_date(LOCKER, 5)  # never seen: read
    marks.saw(LOCKER, 5)
    assert marks.up_to_date(LOCKER, 5)
    assert not marks.up_to_date(LOCKER, 6)  # looks behind: read
    assert not marks.up_to_date(LOCKER, 4)  # looks reset or lagging: read
    now[0] = 10.0
    # Another instance may have moved it back (a reset journal): read again after the ttl.
    assert not marks.up_to_date(LOCKER, 5)
    marks.saw(LOCKER, 5)
    marks.forget(LOCKER)
    assert not marks.up_to_date(LOCKER, 5)


def presence(online: bool) -> PresenceChanged:
    at = datetime.now(UTC)
    return PresenceChanged(locker_id=LOCKER, at=at, event_id=str(uuid.uuid4()), online=online)


async def test_an_online_status_the_boot_already_wrote_costs_no_transaction(rig: Rig) -> None:
    await rig.side.host.authorize_boot(LOCKER, INFO)
    cost = Cost(rig)
    # Applied after the Boot, or a reconnect after a broker restart: the row says online.
    await rig.side.host.locker_event(presence(True))
    await rig.side.host.locker_event(presence(True))
    assert cost.transactions == 0
    assert rig.side.pipeline.counts.presence_skipped == 2
    # Offline ends the session (always written); online is written again until a Boot.
    await rig.side.host.locker_event(presence(False))
    await rig.side.host.locker_event(presence(True))
    assert cost.transactions == 2
    async with rig.store.transaction() as tx:
        session = await tx.sessions.get(LOCKER)
    assert session is not None
    assert (session.online, session.booted) == (True, False)
    await rig.side.host.authorize_boot(LOCKER, INFO)
    cost.reset()
    await rig.side.host.locker_event(presence(True))
    assert cost.transactions == 0
