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

    `port=0` binds a free port chosen by the OS; `url` names it once the broker runs.

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
        if self.port == 0:
            # Port 0 lets the OS pick a free port at bind time: tests and the demo run side by
            # side without the race of a port picked first and bound later.
            self.port = _bound_port(self._broker, self.port)
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


def _bound_port(broker: Broker, configured: int) -> int:
    # amqtt has no public accessor for the bound address: read its listener's asyncio server.
    servers = getattr(broker, "_servers", {})
    server = getattr(servers.get("default"), "instance", None)
    for sock in getattr(server, "sockets", None) or ():
        return int(sock.getsockname()[1])
    log.warning("embedded MQTT broker: could not read the bound port; keeping %s", configured)
    return configured
