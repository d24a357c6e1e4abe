"""A self-healing MQTT connection: reconnects with jittered exponential back-off, resubscribes,
and hands every message to a callback that must not block (it only enqueues)."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import unquote, urlsplit

import aiomqtt
from paho.mqtt.client import MQTT_CLEAN_START_FIRST_ONLY
from paho.mqtt.properties import Properties

from gateway.errors import Unavailable

log = logging.getLogger(__name__)

OnMessage = Callable[[aiomqtt.Message], None]
OnConnect = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where and how to connect: `mqtt://user:pass@host:port` or `mqtts://...` for TLS."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
            # Never echo the URL itself: it may carry a password.
            shown = f"{parts.scheme}://{parts.hostname or ''}" + (
                f":{parts.port}" if parts.port else ""
            )
            raise ValueError(f"not an MQTT URL: {shown!r} (expected mqtt://host:port)")
        tls = parts.scheme in ("mqtts", "ssl")
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
        )


@dataclass(frozen=True, slots=True)
class ConnectionOptions:
    address: BrokerAddress
    client_id: str
    protocol_version: int = 5  # 4 = MQTT 3.1.1, 5 = MQTT 5
    keepalive_s: int = 30
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 10.0
    subscriptions: Sequence[str] = field(default_factory=tuple)
    will: aiomqtt.Will | None = None
    tls_context: ssl.SSLContext | None = None
    # Persistent session: QoS 1 messages for us are queued by the broker while we are away.
    persistent_session: bool = True
    session_expiry_s: int = 3600


class MqttConnection:
    """`async with MqttConnection(options=..., on_message=...) as conn:` keeps one session up."""

    def __init__(
        self,
        *,
        options: ConnectionOptions,
        on_message: OnMessage,
        on_connect: OnConnect | None = None,
    ) -> None:
        self._options = options
        self._on_message = on_message
        self._on_connect = on_connect
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.connect_count = 0

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self, timeout_s: float) -> None:
        try:
            await asyncio.wait_for(self._connected.wait(), timeout_s)
        except TimeoutError:
            raise Unavailable(
                f"MQTT broker {self._options.address.host}:{self._options.address.port} "
                f"not reachable within {timeout_s:g} s"
            ) from None

    async def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        retain: bool = False,
        properties: Properties | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        """Publish with QoS 1; waits for a connection up to `timeout_s`, then Unavailable."""
        await self.wait_connected(timeout_s)
        client = self._client
        if client is None:
            raise Unavailable("MQTT connection lost")
        try:
            await client.publish(
                topic, payload, qos=1, retain=retain, properties=properties, timeout=timeout_s
            )
        except aiomqtt.MqttError as err:
            raise Unavailable(f"MQTT publish to {topic} failed: {err}") from err

    async def __aenter__(self) -> MqttConnection:
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"mqtt:{self._options.client_id}"
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing = True
        if self._task is not None:
            await stop_task(self._task)
        self._connected.clear()

    async def _run(self) -> None:
        attempt = 0
        while not self._closing:
            try:
                async with self._new_client() as client:
                    self._client = client
                    for topic in self._options.subscriptions:
                        await client.subscribe(topic, qos=1)
                    attempt = 0
                    self.connect_count += 1
                    self._connected.set()
                    log.info("MQTT connected as %s", self._options.client_id)
                    if self._on_connect is not None:
                        await self._on_connect()
                    async for message in client.messages:
                        if self._closing:
                            return
                        self._on_message(message)
            except aiomqtt.MqttError as err:
                self._connected.clear()
                self._client = None
                delay = self._backoff(attempt)
                attempt += 1
                log.warning("MQTT connection lost (%s); retrying in %.2f s", err, delay)
                await asyncio.sleep(delay)

    def _backoff(self, attempt: int) -> float:
        """Exponential back-off with full jitter, so many clients do not reconnect in step."""
        cap = min(self._options.backoff_max_s, self._options.backoff_initial_s * 2**attempt)
        return random.uniform(self._options.backoff_initial_s / 2, cap)

    def _new_client(self) -> aiomqtt.Client:
        o = self._options
        v5 = o.protocol_version == 5
        properties = None
        if v5 and o.persistent_session:
            from paho.mqtt.packettypes import PacketTypes

            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = o.session_expiry_s
        return aiomqtt.Client(
            o.address.host,
            o.address.port,
            identifier=o.client_id,
            username=o.address.username,
            password=o.address.password,
            protocol=aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
            clean_session=None if v5 else not o.persistent_session,
            clean_start=(not o.persistent_session) if v5 else MQTT_CLEAN_START_FIRST_ONLY,
            properties=properties,
            keepalive=o.keepalive_s,
            will=o.will,
            tls_context=o.tls_context or (ssl.create_default_context() if o.address.tls else None),
            timeout=10,
            # Small request/response packets: without TCP_NODELAY, Nagle's algorithm and
            # delayed ACKs add ~40 ms to every round trip.
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )


async def stop_task(task: asyncio.Task[None], *, patience_s: float = 5.0) -> None:
    """Cancel a task and wait until it has really ended.

    Cancel again while waiting: on Python 3.11 a cancellation that lands while aiomqtt's
    `wait_for` receives its acknowledgement can be swallowed, and one `cancel()` is then lost.
    """
    deadline = asyncio.get_running_loop().time() + patience_s
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.2)
        if asyncio.get_running_loop().time() > deadline:
            log.error("task %s did not stop within %.0f s", task.get_name(), patience_s)
            return
    if not task.cancelled() and task.exception() is not None:
        log.warning("task %s ended with %r", task.get_name(), task.exception())
