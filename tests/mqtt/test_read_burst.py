"""The gateway reads every packet its socket holds per wake-up, not one per event-loop turn.

paho reads as many packets per readable event as the client has messages of its own in
flight: a gateway with none read one per loop turn, and each turn also ran every ready task.
In a boot storm, hundreds of busy locker lanes made each turn long and Boots arrived past
their `exp` (bench/boot_storm.py). Here a few dozen busy tasks stand for those lanes.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiomqtt

from gateway.mqtt.connection import MqttConnection
from tests.mqtt.test_connection_lifetime import options
from tests.support.mosquitto import Mosquitto

MESSAGES = 300
BUSY_TASKS = 40
# What each busy task spends per turn: 40 x 1 ms = ~40 ms per loop turn. One packet a turn
# would need ~12 s for 300 messages; read in bursts, a few turns.
BUSY_STEP_S = 0.001


async def publish_burst(port: int) -> None:
    """The lockers' side in a process of its own (mosquitto_pub, one message per line): its
    pace is not that of the loop under test, nor does it compete for its GIL."""
    process = await asyncio.create_subprocess_exec(
        "mosquitto_pub",
        "-p",
        str(port),
        "-q",
        "1",
        "-t",
        "lifetime/burst",
        "-l",
        stdin=asyncio.subprocess.PIPE,
    )
    await process.communicate(b"x\n" * MESSAGES)
    assert process.returncode == 0


async def test_a_burst_is_read_within_a_few_loop_turns_while_tasks_keep_the_loop_busy(
    tmp_path: Path,
) -> None:
    received = 0
    done = asyncio.Event()

    def on_message(_message: aiomqtt.Message) -> None:
        nonlocal received
        received += 1
        if received == MESSAGES:
            done.set()

    turns = 0

    async def busy() -> None:
        nonlocal turns
        while not done.is_set():
            turns += 1
            until = time.perf_counter() + BUSY_STEP_S
            while time.perf_counter() < until:
                pass  # CPU-bound work of one lane step
            await asyncio.sleep(0)

    with Mosquitto(tmp_path) as broker:
        connection = MqttConnection(options=options(broker, "burst-1"), on_message=on_message)
        async with connection:
            await connection.wait_connected(5)
            async with asyncio.TaskGroup() as group:
                for n in range(BUSY_TASKS):
                    group.create_task(busy(), name=f"busy-{n}")
                await publish_burst(broker.port)
                async with asyncio.timeout(120):
                    await done.wait()
    assert received == MESSAGES
    # Counted in loop turns, not seconds (the host may be loaded): one message per two or
    # three turns before (over 300 turns each of the 40 tasks); in bursts, a turn reads all the
    # broker sent (Mosquitto keeps 20 unacknowledged in flight).
    per_task = turns / BUSY_TASKS
    assert per_task < MESSAGES / 3, per_task
