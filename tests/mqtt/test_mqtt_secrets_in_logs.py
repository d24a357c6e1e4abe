"""An MQTT password given in the broker URL never reaches the log."""

from __future__ import annotations

import logging

import pytest

from gateway.app import Gateway
from tests.http.conftest import settings_for
from tests.support.mosquitto import free_port

PASSWORD = "pw-must-stay-secret-4711"


async def test_an_unreachable_broker_is_logged_without_the_password_of_its_url(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens there: the adapter logs that it keeps trying, naming the broker.
    url = f"mqtt://openlocker:{PASSWORD}@127.0.0.1:{free_port()}"
    settings = settings_for(
        database_url, mqtt_url=url, adapters={"olp": {"connect_timeout_s": 0.2}}
    )
    caplog.set_level(logging.DEBUG)
    async with Gateway(settings=settings):
        pass
    retrying = [r for r in caplog.records if "not reachable" in r.getMessage()]
    assert retrying, "the unreachable broker was not logged at all"
    assert "127.0.0.1" in retrying[0].getMessage()
    leaked = [r.getMessage() for r in caplog.records if PASSWORD in r.getMessage()]
    assert leaked == []
