"""A self-healing MQTT connection: reconnects with jittered exponential back-off, resubscribes,
and hands every message to a callback that must not block (it only enqueues)."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import unquote, urlsplit

import aiomqtt
from paho.mqtt.client import MQTT_CLEAN_START_FIRST_ONLY
from paho.mqtt.properties import Properties

from gateway.domain.backoff import backoff_s
from gateway.errors import Unavailable
from gateway.mqtt.read_burst import queued_messages, read_in_bursts
from gateway.sdk.lifetime import TaskSet

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
        self._tasks: TaskSet | None = None
        self._closing = False
        self._up_since_failure = False
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
        name = f"mqtt:{self._options.client_id}"
        self._closing = False
        self._tasks = await TaskSet(name).__aenter__()
        self._tasks.start(self._run(), name=name)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing = True
        try:
            if self._tasks is not None:
                await self._tasks.__aexit__(exc_type, exc, tb)
        finally:
            self._tasks = None
            self._connected.clear()

    async def _run(self) -> None:
        failures = 0  # since the last session that came up
        while not self._closing:
            try:
                await self._session()
                lost = "the broker ended the session"
            except aiomqtt.MqttError as err:
                lost = str(err)
            except Exception:
                # A callback's bug must not end the connection for good (this loop is the
                # only one there is): say so loudly, then reconnect like after a lost link.
                log.exception("MQTT %s: a callback failed", self._options.client_id)
                lost = "a callback failed"
                self._up_since_failure = False  # a bug that recurs backs off too
            finally:
                self._connected.clear()
                self._client = None
            if self._closing:
                return
            failures = 1 if self._up_since_failure else failures + 1
            delay = self._backoff(failures)
            log.warning("MQTT connection lost (%s); retrying in %.2f s", lost, delay)
            await asyncio.sleep(delay)

    async def _session(self) -> None:
        """One connection, from connect to loss (or to closing)."""
        self._up_since_failure = False
        async with self._new_client() as client:
            read_in_bursts(client)  # not one packet per loop turn (read_burst.py)
            self._client = client
            for topic in self._options.subscriptions:
                await client.subscribe(topic, qos=1)
            self._up_since_failure = True
            self.connect_count += 1
            self._connected.set()
            log.info("MQTT connected as %s", self._options.client_id)
            if self._on_connect is not None:
                await self._on_connect()
            async for message in client.messages:
                if self._closing:
                    return
                self._on_message(message)
                # aiomqtt hands out one message per two loop turns; the rest already read
                # goes on now, in order (read_burst.py).
                for queued in queued_messages(client):
                    self._on_message(queued)

    def _backoff(self, failures: int) -> float:
        # Jittered, so many clients that lost the broker together do not reconnect in step.
        o = self._options
        return backoff_s(failures, base_s=o.backoff_initial_s, cap_s=o.backoff_max_s)

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
