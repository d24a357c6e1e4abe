"""MQTT transport: publishes `MqttPublish` to carriers' own brokers, one aiomqtt client each.

A connection is made on the first send to a broker and kept; a send that finds it broken
(broker restarted, network gone) drops it, and the next send connects afresh. Each broker has
its own lock, so a slow or dead broker never holds up deliveries to another one. QoS 1 waits
for the PUBACK. Every failure is an `Outcome`; passwords never reach a log line or an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import uuid
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import urlsplit

import aiomqtt
from paho.mqtt.client import MQTT_CLEAN_START_FIRST_ONLY, MQTT_ERR_NO_CONN
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.delivery.routes import Route
from gateway.delivery.transports.base import Outcome
from gateway.sdk.connectors import BrokerSpec, MqttPublish, Outbound

__all__ = ["MqttTransport"]

log = logging.getLogger(__name__)

# How long closing one connection may take at shutdown or after a failure.
_CLOSE_PATIENCE_S = 2.0


class _Refused(Exception):
    """A publish that no retry can fix (bad URL, properties MQTT 3.1.1 cannot carry)."""


@dataclass(frozen=True, slots=True)
class _Address:
    host: str
    port: int
    tls: bool

    @property
    def label(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def of(cls, spec: BrokerSpec) -> _Address:
        try:
            parts = urlsplit(spec.url)
            port = parts.port
        except ValueError:
            raise _Refused("broker URL is not valid") from None
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise _Refused("broker URL must be mqtt://host:port or mqtts://host:port")
        tls = parts.scheme == "mqtts"
        return cls(parts.hostname, port or (8883 if tls else 1883), tls)


@dataclass
class _Link:
    """One broker's connection; `lock` serialises connecting, not publishing."""

    client_id: str
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    client: aiomqtt.Client | None = None


class MqttTransport:
    """`async with MqttTransport() as mqtt:` then `await mqtt.send(publish, route, ...)`."""

    def __init__(self, *, client_id_prefix: str = "openlocker", keepalive_s: int = 30) -> None:
        self._prefix = client_id_prefix
        self._keepalive_s = keepalive_s
        self._links: dict[BrokerSpec, _Link] = {}

    async def __aenter__(self) -> MqttTransport:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        links, self._links = list(self._links.values()), {}
        await asyncio.gather(*(_close(link.client) for link in links if link.client))

    async def send(
        self, outbound: Outbound, route: Route, *, event_id: str, attempt: int
    ) -> Outcome:
        """Publish, bounded by `route.policy.timeout_s`; an Outcome whatever happens."""
        if not isinstance(outbound, MqttPublish):
            return Outcome(
                ok=False, permanent=True, error=f"MQTT transport got {type(outbound).__name__}"
            )
        try:
            address = _Address.of(outbound.broker)
            properties = _properties(outbound)
        except _Refused as err:
            return Outcome(ok=False, permanent=True, error=f"MQTT: {err}")
        timeout_s = route.policy.timeout_s
        link = self._link(outbound.broker)
        try:
            async with asyncio.timeout(timeout_s):
                await self._publish(link, outbound, address, properties)
        except TimeoutError:
            await self._drop(link, link.client)
            return _failed(address, f"no connection or PUBACK within {timeout_s:g} s")
        except aiomqtt.MqttError as err:
            return _failed(address, str(err) or type(err).__name__)
        except OSError as err:
            # TLS files unreadable or not PEM (ssl.SSLError is an OSError): the operator can
            # fix them, so this is retried.
            return _failed(address, f"{type(err).__name__}: {err}")
        except Exception as err:  # the contract: an Outcome, never a raise
            log.warning("MQTT publish to %s failed unexpectedly: %r", address.label, err)
            return _failed(address, f"{type(err).__name__}: {err}")
        log.debug("event %s attempt %d published to %s", event_id, attempt, address.label)
        return Outcome(ok=True)

    def _link(self, spec: BrokerSpec) -> _Link:
        link = self._links.get(spec)
        if link is None:
            client_id = spec.client_id or f"{self._prefix}-{uuid.uuid4().hex[:12]}"
            link = self._links[spec] = _Link(client_id=client_id)
        return link

    async def _publish(
        self,
        link: _Link,
        message: MqttPublish,
        address: _Address,
        properties: Properties | None,
    ) -> None:
        client, fresh = await self._connected(link, message.broker, address)
        try:
            await _publish_on(client, message, properties)
        except aiomqtt.MqttError as err:
            await self._drop(link, client)
            stale = isinstance(err, aiomqtt.MqttCodeError) and err.rc == MQTT_ERR_NO_CONN
            if fresh or not stale:
                raise
            # The kept connection died since the last send (e.g. the broker restarted) and
            # nothing was sent on it: connect again, once, within the same attempt.
            log.info("MQTT connection to carrier broker %s was lost; reconnecting", address.label)
            client, _ = await self._connected(link, message.broker, address)
            await _publish_on(client, message, properties)

    async def _connected(
        self, link: _Link, spec: BrokerSpec, address: _Address
    ) -> tuple[aiomqtt.Client, bool]:
        """The link's client, connecting first if there is none; True if just connected."""
        async with link.lock:
            if link.client is not None:
                return link.client, False
            client = _new_client(spec, address, link.client_id, self._keepalive_s)
            await client.__aenter__()
            link.client = client
            log.info("MQTT connected to carrier broker %s as %s", address.label, link.client_id)
            return client, True

    async def _drop(self, link: _Link, client: aiomqtt.Client | None) -> None:
        """Forget a broken connection (only if it is still the link's current one)."""
        if client is not None and link.client is client:
            link.client = None
            await _close(client)


async def _publish_on(
    client: aiomqtt.Client, message: MqttPublish, properties: Properties | None
) -> None:
    """Publish; at QoS 1 this returns once the broker's PUBACK is in."""
    await client.publish(
        message.topic,
        message.payload,
        qos=message.qos,
        properties=properties,
        timeout=float("inf"),  # bounded by the caller's asyncio.timeout
    )


def _failed(address: _Address, reason: str) -> Outcome:
    return Outcome(ok=False, error=f"MQTT broker {address.label}: {reason}")


def _properties(message: MqttPublish) -> Properties | None:
    """The PUBLISH properties; _Refused for what the broker's protocol cannot carry."""
    if not message.topic or any(c in message.topic for c in "+#\0"):
        raise _Refused("a topic to publish to must be non-empty and have no wildcards")
    if message.qos not in (0, 1, 2):
        raise _Refused(f"QoS {message.qos} does not exist")
    if message.broker.protocol != 5:
        if message.content_type is not None or message.user_properties:
            raise _Refused("MQTT 3.1.1 cannot carry a content type or user properties")
        return None
    if message.content_type is None and not message.user_properties:
        return None
    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    if message.content_type is not None:
        properties.ContentType = message.content_type
    if message.user_properties:
        properties.UserProperty = list(message.user_properties.items())
    return properties


def _tls_context(spec: BrokerSpec) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=spec.ca_file)
    if spec.cert_file is not None:
        context.load_cert_chain(spec.cert_file, spec.key_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _new_client(
    spec: BrokerSpec, address: _Address, client_id: str, keepalive_s: int
) -> aiomqtt.Client:
    v5 = spec.protocol == 5
    use_tls = address.tls or spec.ca_file is not None or spec.cert_file is not None
    return aiomqtt.Client(
        address.host,
        address.port,
        identifier=client_id,
        username=spec.username,
        password=spec.password.get_secret_value() if spec.password is not None else None,
        protocol=aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
        # A publisher only: no session to keep across connections.
        clean_session=None if v5 else True,
        clean_start=True if v5 else MQTT_CLEAN_START_FIRST_ONLY,
        keepalive=keepalive_s,
        tls_context=_tls_context(spec) if use_tls else None,
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
    )


async def _close(client: aiomqtt.Client | None) -> None:
    if client is None:
        return
    # Best effort: a broker that is gone cannot acknowledge our DISCONNECT.
    with contextlib.suppress(Exception):
        async with asyncio.timeout(_CLOSE_PATIENCE_S):
            await client.__aexit__(None, None, None)
    # aiomqtt keeps why the connection ended in a future only its context manager reads; a
    # lost connection's reason would otherwise be logged as "never retrieved" at every outage.
    ended = client._disconnected
    if ended.done() and not ended.cancelled():
        ended.exception()
