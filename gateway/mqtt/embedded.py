"""The embedded MQTT broker (amqtt, MQTT 3.1.1) that lets one site run from one command."""

from __future__ import annotations

import contextlib
import logging
from types import TracebackType
from typing import Any

from amqtt.broker import Broker

log = logging.getLogger(__name__)


class EmbeddedBroker:
    """`async with EmbeddedBroker(host=..., port=...)`: a broker for one site, in-process.

    It speaks MQTT 3.1.1 only and has no shared subscriptions: a site with several gateway
    instances, or MQTT 5 lockers, uses an external broker (Mosquitto, EMQX) instead.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 1884) -> None:
        self.host = host
        self.port = port
        self._broker: Broker | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    async def __aenter__(self) -> EmbeddedBroker:
        config: dict[str, Any] = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        self._broker = Broker(config)
        await self._broker.start()
        log.info("embedded MQTT broker on %s", self.url)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._broker is not None:
            with contextlib.suppress(Exception):
                await self._broker.shutdown()
