"""The built-in `olp` adapter under the conformance kit, against the emulator over Mosquitto."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from gateway.sdk import AdapterConnectionError, AdapterTimeout, LockerNotConnected
from gateway.sdk.testing import AdapterContract, AdapterRig, RecordingHost, open_conformance
from tests.adapters.olp_rig import OlpRig


class TestOlpAdapter(AdapterContract):
    @pytest_asyncio.fixture
    async def rig(self, tmp_path: Path) -> AsyncIterator[OlpRig]:
        async with OlpRig(workdir=tmp_path / "mqtt") as running:
            yield running


def test_the_rig_implements_the_rig_protocol(tmp_path: Path) -> None:
    assert isinstance(OlpRig(workdir=tmp_path), AdapterRig)


async def test_a_dead_broker_is_an_sdk_error_not_a_hang(tmp_path: Path) -> None:
    async with (
        OlpRig(workdir=tmp_path / "mqtt") as rig,
        open_conformance(rig, RecordingHost()) as c,
    ):
        rig.kill_broker()
        with pytest.raises((AdapterConnectionError, AdapterTimeout, LockerNotConnected)):
            await c.open("A01", deadline=c.deadline(2.0))
