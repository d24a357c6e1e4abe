"""Fixtures of the emulator tests: a private Mosquitto each, a fake gateway, a bank of lockers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from locker_emulator import EmulatorBank, FaultFlag, LockerConfig, Spec, Timing, preset_lockers

from tests.emulator.fake_gateway import FakeGateway, SpecCheck
from tests.support.grants import TestRoot
from tests.support.mosquitto import Mosquitto

# The network root key the emulated lockers pin (SPEC §9 "Signed key sets").
ROOT = TestRoot(kid="root-emulator-tests")
# Short enough that reconnects and retries happen within a test's second or two.
FAST = Timing(
    call_timeout=2.0,
    call_expiry=10.0,
    boot_retry_initial=0.05,
    boot_retry_max=0.3,
    reconnect_initial=0.05,
    reconnect_max=0.3,
    keepalive=5,
    tick=0.05,
)


@pytest.fixture(scope="session")
def spec() -> Spec:
    """The emulator's compiled view of schemas/v1, loaded once per test session."""
    return Spec.load()


@pytest.fixture(scope="session")
def spec_check() -> SpecCheck:
    """The tests' own, independent validator."""
    return SpecCheck()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path) as running:
        yield running


@pytest.fixture
async def gateway(broker: Mosquitto, spec_check: SpecCheck) -> AsyncIterator[FakeGateway]:
    """Answers Boot Accepted; fails the test if a locker ever sent an invalid message."""
    async with FakeGateway(port=broker.port, check=spec_check) as gw:
        yield gw
    assert gw.invalid == [], gw.invalid


def make_bank(
    broker: Mosquitto,
    spec: Spec,
    *,
    lockers: Sequence[LockerConfig] | None = None,
    mqtt_version: str = "5",
    faults: Sequence[FaultFlag] = (),
    control_port: int | None = None,
    root_key: Mapping[str, Any] | None = None,
) -> EmulatorBank:
    """One small locker (EMU-001: A01 S, A02 M, A03 L) unless told otherwise; its pinned
    network root key is ROOT's unless `root_key` says."""
    return EmulatorBank(
        mqtt_url=broker.url,
        lockers=lockers or preset_lockers(1, "small"),
        mqtt_version=mqtt_version,
        spec=spec,
        timing=FAST,
        faults=faults,
        control_port=control_port,
        root_key=root_key or ROOT.jwk,
    )


@pytest.fixture
async def bank(broker: Mosquitto, spec: Spec, gateway: FakeGateway) -> AsyncIterator[EmulatorBank]:
    """One booted small locker, EMU-001, over MQTT 5."""
    async with make_bank(broker, spec) as running:
        async with asyncio.timeout(5):
            await running.wait_all_booted()
        yield running
        for locker in running:
            assert locker.model.invalid_outgoing == 0
