"""Scenario files, in process and through the `openlocker-emulator` command."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
import yaml
from locker_emulator import EmulatorBank, ScenarioError, Spec
from locker_emulator.cli import main
from locker_emulator.scenario import parse_steps, run_scenario

from tests.emulator.conftest import make_bank
from tests.emulator.fake_gateway import FakeGateway, is_event
from tests.support.mosquitto import Mosquitto


async def open_when_code_entered(gateway: FakeGateway, locker_id: str = "EMU-001") -> None:
    """What a gateway does for a locker that cannot check codes: decide, then open."""
    entered = await gateway.wait_for(is_event("CodeEntered", locker_id), within=15)
    code = entered.payload.get("compartmentCode", "A01")
    await gateway.command(
        locker_id, "OpenCompartment", {"compartmentCode": code, "purpose": "deposit"}
    )


async def test_a_scenario_runs_every_kind_of_step(bank: EmulatorBank, gateway: FakeGateway) -> None:
    steps = parse_steps(
        yaml.safe_load(
            """
            steps:
              - wait_for: {locker: EMU-001, booted: true, online: true}
              - keypad: {locker: EMU-001, code: "123456", compartment: A02}
              - wait_for: {locker: EMU-001, compartment: A02, door: open, timeout: 5}
              - deposit: {locker: EMU-001, compartment: A02}
              - fault: {locker: EMU-001, compartment: A03, lying_sensor: true}
              - fault: {locker: EMU-001, slow_replies: 0.1}
              - offline: {locker: EMU-001, seconds: 0.2}
              - sleep: 0.1
              - wait_for: {locker: EMU-001, booted: true, timeout: 5}
            """
        )
    )
    lines: list[str] = []
    opener = asyncio.create_task(open_when_code_entered(gateway))
    assert await run_scenario(bank.lockers, steps, out=lines.append)
    await opener
    assert lines[0].startswith("[1/9] wait_for")
    assert lines[-1] == "scenario passed: 9 step(s)"
    locker = bank["EMU-001"]
    assert locker.compartment("A02").item_inside
    assert locker.compartment("A03").faults.lying_sensor
    assert locker.faults.slow_replies == 0.1


async def test_a_failed_step_stops_the_scenario(bank: EmulatorBank) -> None:
    steps = parse_steps(
        [
            {
                "wait_for": {
                    "locker": "EMU-001",
                    "compartment": "A01",
                    "door": "open",
                    "timeout": 0.2,
                }
            },
            {"sleep": 100},
        ]
    )
    lines: list[str] = []
    assert not await run_scenario(bank.lockers, steps, out=lines.append)
    assert lines[-1] == "[1/2] FAILED: timed out after 0.2 s"
    for bad in (
        [{"deposit": {"locker": "EMU-001", "compartment": "A01"}}],  # the door is closed
        [{"keypad": {"locker": "EMU-001", "code": "12"}}],
        [{"take": {"locker": "EMU-404", "compartment": "A01"}}],
        [{"fault": {"locker": "EMU-001", "compartment": "A01", "melting": True}}],
        [{"wait_for": {"locker": "EMU-001", "compartment": "Z1", "door": "open"}}],
    ):
        assert not await run_scenario(bank.lockers, parse_steps(bad), out=lines.append)


@pytest.mark.parametrize(
    ("document", "needle"),
    [
        ({}, "non-empty list"),
        ([], "non-empty list"),
        (["deposit"], "exactly one key"),
        ([{"dance": {}}], "unknown step"),
        ([{"sleep": "long"}], "number of seconds"),
        ([{"deposit": {"compartment": "A01"}}], "locker"),
        ([{"close": {"locker": "EMU-001"}}], "compartment"),
        ([{"wait_for": {"locker": "EMU-001", "colour": "red"}}], "wait_for knows only"),
    ],
)
def test_scenario_files_are_checked_before_running(document: object, needle: str) -> None:
    with pytest.raises(ScenarioError, match=needle):
        parse_steps(document)


def test_cli_reports_bad_arguments_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--fault", "EMU-001:explode"]) == 2
    assert "no locker fault" in capsys.readouterr().err
    assert main(["run", "--layout", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read layout" in capsys.readouterr().err
    assert main(["run", "--mqtt-url", "http://x"]) == 2
    assert "expected mqtt://" in capsys.readouterr().err
    assert main(["run", "--fault", "EMU-009:offline"]) == 2
    assert "EMU-009" in capsys.readouterr().err


async def run_cli(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "locker_emulator",
        "run",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(20):
        out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_the_command_runs_a_scenario_and_exits_with_its_result(
    broker: Mosquitto, gateway: FakeGateway, tmp_path: Path
) -> None:
    passing = tmp_path / "pass.yaml"
    passing.write_text(
        "steps:\n"
        "  - wait_for: {locker: EMU-001, booted: true, timeout: 10}\n"
        "  - keypad: {locker: EMU-001, code: '5555', compartment: A01}\n"
        "  - wait_for: {locker: EMU-001, compartment: A01, door: open, timeout: 10}\n"
        "  - deposit: {locker: EMU-001, compartment: A01}\n"
    )
    opener = asyncio.create_task(open_when_code_entered(gateway))
    common = [
        "--mqtt-url",
        broker.url,
        "--lockers",
        "1",
        "--layout",
        "small",
        "--control-port",
        "0",
    ]
    status, out = await run_cli(*common, "--mqtt-version", "3.1.1", "--scenario", str(passing))
    await opener
    assert status == 0, out
    assert "control API listening on http://127.0.0.1:" in out
    assert "scenario passed: 4 step(s)" in out
    await gateway.wait_for(is_event("DoorClosed"))

    failing = tmp_path / "fail.yaml"
    failing.write_text(
        "- wait_for: {locker: EMU-001, compartment: A02, door: open, timeout: 0.3}\n"
    )
    status, out = await run_cli(*common, "--no-control", "--scenario", str(failing))
    assert status == 1, out
    assert "FAILED: timed out" in out


async def test_layout_files_and_fault_flags_reach_the_bank(
    broker: Mosquitto, spec: Spec, gateway: FakeGateway, tmp_path: Path
) -> None:
    from locker_emulator import load_layout, parse_fault_flag

    layout = tmp_path / "layout.yaml"
    layout.write_text(
        "lockers:\n"
        "  - id: KRK-01\n"
        "    vendor: Acme\n"
        "    serialNumber: SN-7\n"
        "    compartments:\n"
        "      - {code: '1', sizeClass: XS}\n"
        "      - code: '2'\n"
        "        sizeClass: XL\n"
        "        insideMm: {width: 600, height: 900, depth: 650}\n"
        "        sensor: false\n"
    )
    flags = [parse_fault_flag("KRK-01/2:stuck_lock"), parse_fault_flag("KRK-01:clock_skew=-5")]
    async with make_bank(broker, spec, lockers=load_layout(layout), faults=flags) as bank:
        async with asyncio.timeout(5):
            await bank.wait_all_booted()
        boot = gateway.where(lambda s: s.action == "Boot")[0]
        assert boot.payload["vendor"] == "Acme"
        assert boot.payload["serialNumber"] == "SN-7"
        assert boot.payload["compartments"][1] == {
            "code": "2",
            "sizeClass": "XL",
            "insideMm": {"width": 600, "height": 900, "depth": 650},
        }
        locker = bank["KRK-01"]
        assert locker.compartment("2").faults.stuck_lock
        assert locker.compartment("2").item_sensor == "unknown"
        assert locker.faults.clock_skew == -5
