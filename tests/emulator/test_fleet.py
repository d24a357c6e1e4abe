"""Fleets: many lockers in one process, what they cost, their counts, and reconnect jitter."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from locker_emulator import EmulatorBank, Spec, Timing, preset_lockers
from locker_emulator.fleet import report
from locker_emulator.messages import Kind, envelope
from locker_emulator.spec import OutgoingCheck

from tests.emulator.conftest import FAST
from tests.emulator.fake_gateway import FakeGateway
from tests.emulator.test_protocol import OPEN_A01
from tests.emulator.test_scenario_and_cli import run_cli
from tests.support.mosquitto import Mosquitto

# What a booted, idle locker may keep running: its own task, its session, boot/heartbeats,
# the outbox, and aiomqtt's keep-alive loop. (It was nine before fleets mattered.)
TASKS_PER_IDLE_LOCKER = 5


async def test_a_booted_idle_locker_runs_few_tasks_and_no_door_timer(
    broker: Mosquitto, spec: Spec, gateway: FakeGateway
) -> None:
    before = len(asyncio.all_tasks())
    lockers = preset_lockers(8, "small")
    async with EmulatorBank(mqtt_url=broker.url, lockers=lockers, spec=spec, timing=FAST) as bank:
        async with asyncio.timeout(10):
            await bank.wait_all_booted()
            # The outbox drains the State each locker queues when accepted.
            await gateway.wait_for(lambda seen: seen.action == "State", within=10)
        await asyncio.sleep(0.2)
        running = len(asyncio.all_tasks()) - before
        assert running <= TASKS_PER_IDLE_LOCKER * len(lockers) + 1, running
        # Shut doors never need a timer; an open one with DoorLeftOpen armed does.
        locker = bank["EMU-001"]
        assert locker._door_timer is None
        locker.update_compartment_faults("A01", {"door_left_open": 0.2})
        cmd = await gateway.command("EMU-001", "OpenCompartment", OPEN_A01)
        await gateway.reply_to(cmd)
        locker.leave_open("A01")
        assert locker._door_timer is not None
        async with asyncio.timeout(5):
            await gateway.wait_for(
                lambda seen: seen.action == "Fault" and seen.payload["fault"] == "DoorLeftOpen"
            )
        assert locker._door_timer is None  # raised once, nothing left to time


async def test_a_fleet_report_counts_boots_connects_and_heartbeats(
    broker: Mosquitto, spec: Spec, gateway: FakeGateway
) -> None:
    gateway.heartbeat_seconds = 1
    lockers = preset_lockers(3, "small")
    async with EmulatorBank(mqtt_url=broker.url, lockers=lockers, spec=spec, timing=FAST) as bank:
        async with asyncio.timeout(10):
            await bank.wait_all_booted()
            while report(bank.models()).counters.heartbeats < 3:
                await asyncio.sleep(0.1)
        now = report(bank.models())
    assert (now.lockers, now.online, now.accepted, now.key_set) == (3, 3, 3, 0)
    assert now.counters.connects == 3
    assert now.counters.boots_accepted == 3
    assert now.counters.boot_errors == now.counters.boots_rejected == 0
    assert now.counters.heartbeat_failures == 0
    assert now.rss_bytes > 0
    assert now.cpu_s > 0
    assert now.tasks > 0
    line = json.loads(now.json())
    assert line["boots_accepted"] == 3
    assert line["lockers"] == 3


async def test_after_a_broker_restart_reconnects_spread_over_the_jitter_window(
    broker: Mosquitto, spec: Spec, gateway: FakeGateway
) -> None:
    timing = replace(FAST, reconnect_jitter=1.5)
    lockers = preset_lockers(10, "small")
    async with EmulatorBank(mqtt_url=broker.url, lockers=lockers, spec=spec, timing=timing) as bank:
        async with asyncio.timeout(10):
            await bank.wait_all_booted()
        broker.kill()
        broker.start()
        async with asyncio.timeout(20):
            while report(bank.models()).counters.connects < 20:
                await asyncio.sleep(0.05)
        moments = [_last_online_status(locker.log_entries()) for locker in bank]
    spread = (max(moments) - min(moments)).total_seconds()
    # Ten uniform draws over 1.5 s all within 0.3 s of each other: odds below 1 in 10^5.
    assert spread > 0.3, spread


def test_the_jitter_window_cannot_be_negative() -> None:
    with pytest.raises(ValueError, match="reconnect_jitter"):
        Timing(reconnect_jitter=-1)


def test_a_call_expires_when_the_locker_stops_waiting_for_it_unless_told_otherwise() -> None:
    # A gateway that is behind then drops a Boot its locker gave up on, instead of working
    # through it while the locker's next Boot waits behind it.
    assert Timing(call_timeout=7).expiry == 7
    assert Timing(call_timeout=7, call_expiry=30).expiry == 30


def test_checking_the_first_message_of_each_action_still_catches_a_bad_first_one(
    spec: Spec,
) -> None:
    check = OutgoingCheck(spec, "first")
    bad = envelope(kind=Kind.EVENT, action="Status", src="EMU-001", ts=_now(), payload={})
    bad["seq"] = 0
    assert check.problems(bad)
    good = envelope(
        kind=Kind.EVENT,
        action="Status",
        src="EMU-001",
        ts=_now(),
        payload={"online": True, "sessionId": "s1"},
    )
    good["seq"] = 1
    assert check.problems(good) == []
    # Trusted from now on: the same code builds every later Status.
    assert check.problems(bad) == []
    assert OutgoingCheck(spec).problems(bad)
    with pytest.raises(ValueError, match="outgoing check"):
        OutgoingCheck(spec, "some")


async def test_the_command_runs_a_fleet_and_prints_its_reports(
    broker: Mosquitto, gateway: FakeGateway, tmp_path: Path
) -> None:
    scenario = tmp_path / "boot.yaml"
    scenario.write_text(
        "- wait_for: {locker: F-001, booted: true, timeout: 10}\n"
        "- wait_for: {locker: F-004, booted: true, timeout: 10}\n"
        "- sleep: 0.3\n"
    )
    status, out = await run_cli(
        "--mqtt-url",
        broker.url,
        "--count",
        "4",
        "--preset",
        "small",
        "--id-prefix",
        "F",
        "--no-control",
        "--reconnect-jitter",
        "2",
        "--check-outgoing",
        "first",
        "--report-every",
        "0.1",
        "--scenario",
        str(scenario),
    )
    assert status == 0, out
    reports = [json.loads(line[6:]) for line in out.splitlines() if line.startswith("fleet ")]
    assert reports[0]["lockers"] == 0  # the process before any locker: the memory baseline
    assert reports[-1]["lockers"] == 4
    assert reports[-1]["accepted"] == 4
    assert "lockers F-001, F-002, F-003, F-004 ->" in out


def _now() -> datetime:
    return datetime.now(UTC)


def _last_online_status(entries: list[dict[str, object]]) -> datetime:
    online = [
        entry
        for entry in entries
        if entry["direction"] == "sent"
        and isinstance(entry.get("envelope"), dict)
        and entry["envelope"]["action"] == "Status"  # type: ignore[index]
        and entry["envelope"]["payload"]["online"]  # type: ignore[index]
    ]
    return datetime.fromisoformat(str(online[-1]["at"]).replace("Z", "+00:00"))
