"""A command to a locker that its caller gives up on leaves nothing behind in the adapter."""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta

import pytest

from adapters.olp import OlpAdapter, OlpConfig
from gateway.sdk import OpenPurpose
from tests.adapters.test_olp_overload import FLOOD, JournalHost


def _closed_port() -> int:
    """A local port nothing listens on: the broker is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_call_cancelled_while_it_waits_for_the_broker_is_forgotten() -> None:
    # The caller's own timeout (an HTTP request's, a key push's) cancels the call while it
    # still waits for a connection to publish on: its reply slot must go with it, or every
    # such call would stay in memory for as long as the adapter runs.
    host = JournalHost(booted={FLOOD})
    url = f"mqtt://127.0.0.1:{_closed_port()}"
    config = OlpConfig(mqtt_url=url, instance="gw-calls", connect_timeout_s=0.1)
    async with OlpAdapter(config=config, host=host) as adapter:
        for _ in range(3):
            deadline = host.now() + timedelta(seconds=30)
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.2):
                    await adapter.open_compartment(
                        FLOOD, "A01", purpose=OpenPurpose.DEPOSIT, deadline=deadline
                    )
        assert adapter.stats().calls_waiting == 0
