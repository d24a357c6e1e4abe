"""Drops the serial board adapters count (Kerong noise and stale replies, Modbus bad replies)
reach /metrics' exposition as they stand, parsed by prometheus_client's own parser."""

from __future__ import annotations

import asyncio

from locker_emulator.boards import TcpBus
from locker_emulator.boards.modbus import Framing
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from adapters.kerong_cu16 import KerongCu16Adapter
from adapters.modbus import ModbusAdapter
from gateway.observability.runtime import RuntimeCounters
from gateway.sdk import LockerAdapter, SupportsDropCounts
from gateway.sdk.testing.host import RecordingHost
from tests.adapters.kerong_rig import KerongRig
from tests.adapters.modbus_rig import ModbusRig
from tests.fuzz.serial.spoiler import Spoiler

NOISE = b"\x55\xaa\x13"


def exposed(adapters: dict[str, LockerAdapter]) -> dict[tuple[str, str], float]:
    """openlocker_adapter_dropped_total by (adapter, reason), as a scraper reads it."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(RuntimeCounters(pipeline=dict, adapters=lambda: adapters))
    text = generate_latest(registry).decode()
    return {
        (sample.labels["adapter"], sample.labels["reason"]): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "openlocker_adapter_dropped_total"
    }


async def test_kerong_line_noise_is_exposed() -> None:
    rig = KerongRig()
    spoiler = Spoiler(rig.boards)
    rig.bus = TcpBus(handler=spoiler, name="kerong-noise")
    async with rig:
        adapter = rig.make_adapter(RecordingHost())
        assert isinstance(adapter, KerongCu16Adapter)
        assert isinstance(adapter, SupportsDropCounts)
        async with adapter:
            await rig.wait_ready(adapter)
            assert exposed({"kerong": adapter})[("kerong", "noise-bytes")] == 0
            # Garbage before the next three replies: the reader skips it, the poll goes on.
            spoiler.plan = [("noise", lambda reply: [NOISE, reply])] * 3
            async with asyncio.timeout(10):
                while adapter.noise_bytes < 3 * len(NOISE):
                    await asyncio.sleep(0.01)
            figures = exposed({"kerong": adapter})
    assert figures[("kerong", "noise-bytes")] >= 3 * len(NOISE)  # the noise, counted once
    assert figures[("kerong", "noise-bytes")] <= adapter.noise_bytes
    assert figures[("kerong", "stale-reply")] <= adapter.stale_replies


async def test_modbus_bad_replies_are_exposed() -> None:
    rig = ModbusRig(framing=Framing.RTU)
    spoiler = Spoiler(rig.line)
    rig.bus = TcpBus(handler=spoiler, name="modbus-short")
    async with rig:
        adapter = rig.make_adapter(RecordingHost())
        assert isinstance(adapter, ModbusAdapter)
        async with adapter:
            # A reply cut short: counted by the link as "short" (or a missing reply).
            spoiler.plan = [("short", lambda reply: [reply[:3]])] * 3
            async with asyncio.timeout(15):
                while sum(adapter.bad_replies().values()) < 3:
                    await asyncio.sleep(0.01)
            # The poll goes on meanwhile: read between two reads of the adapter's own counts.
            before = adapter.bad_replies()
            figures = {reason: n for (_, reason), n in exposed({"modbus": adapter}).items()}
            after = adapter.bad_replies()
    assert set(figures) == set(after)
    assert all(before.get(reason, 0) <= n <= after[reason] for reason, n in figures.items())
    assert sum(figures.values()) >= 3
