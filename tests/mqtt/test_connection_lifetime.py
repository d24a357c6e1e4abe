"""MqttConnection: its loop runs in a TaskSet, survives a callback's bug and a broker restart,
and is gone when the block ends."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import aiomqtt
import pytest

from gateway.mqtt.connection import BrokerAddress, ConnectionOptions, MqttConnection
from tests.support.mosquitto import Mosquitto


def options(broker: Mosquitto, client_id: str) -> ConnectionOptions:
    return ConnectionOptions(
        address=BrokerAddress.parse(broker.url),
        client_id=client_id,
        subscriptions=("lifetime/#",),
        backoff_initial_s=0.05,
        backoff_max_s=0.2,
    )


async def publish(broker: Mosquitto, payload: bytes) -> None:
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="lifetime-pub") as client:
        await client.publish("lifetime/x", payload, qos=1)


async def test_a_callback_bug_reconnects_instead_of_ending_the_connection(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    received: list[bytes] = []

    def on_message(message: aiomqtt.Message) -> None:
        assert isinstance(message.payload, bytes)
        if message.payload == b"boom":
            raise RuntimeError("a bug in the callback")
        received.append(message.payload)

    with Mosquitto(tmp_path) as broker:
        connection = MqttConnection(options=options(broker, "lifetime-1"), on_message=on_message)
        with caplog.at_level(logging.WARNING, logger="gateway.mqtt.connection"):
            async with connection:
                await connection.wait_connected(5)
                await publish(broker, b"boom")
                async with asyncio.timeout(10):
                    while connection.connect_count < 2:
                        await asyncio.sleep(0.02)
                    await connection.wait_connected(5)
                    await publish(broker, b"after")
                    while b"after" not in received:
                        await asyncio.sleep(0.02)
                tasks = {t.get_name() for t in asyncio.all_tasks()}
                assert "mqtt:lifetime-1" in tasks
            assert "mqtt:lifetime-1" not in {t.get_name() for t in asyncio.all_tasks()}
    assert "a callback failed" in caplog.text
    assert not connection.connected


async def test_it_comes_back_after_a_broker_restart(tmp_path: Path) -> None:
    with Mosquitto(tmp_path) as broker:
        connection = MqttConnection(options=options(broker, "lifetime-2"), on_message=print)
        async with connection:
            await connection.wait_connected(5)
            broker.kill()
            async with asyncio.timeout(5):
                while connection.connected:
                    await asyncio.sleep(0.02)
            broker.start()
            await connection.wait_connected(10)
            assert connection.connect_count == 2
