"""`openlocker demo` runs a whole site and narrates it; it must finish and exit 0."""

from __future__ import annotations

from gateway.demo import run_demo


async def test_demo_runs_every_step() -> None:
    lines: list[str] = []
    assert await run_demo(lines.append) == 0
    text = "\n".join(lines)
    for step in (
        "booted and accepted",
        "DEMO-0001: reserved -> ready_for_pickup",
        "DEMO-0001: ready_for_pickup -> picked_up",
        "remote open for the courier: Unlocked",
        "scans the grant at the offline locker",
        "DEMO-0003: reserved -> ready_for_pickup",
        "DEMO-0003: ready_for_pickup -> picked_up",
        "DEMO-0002: ready_for_pickup -> expired",
        "DEMO-0002: expired -> collected",
        "DoorClosed",
    ):
        assert step in text, step
