"""MQTT plumbing of a locker: broker address, client, v5 properties, back-off, abrupt drop."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiomqtt
import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

QOS = 1  # SPEC §9: every OLP message is QoS 1, never 2


class MqttVersion(StrEnum):
    """The MQTT protocol versions a locker can speak."""

    V311 = "3.1.1"
    V5 = "5"


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the broker listens: `mqtt://host:1883` or `mqtts://host:8883`."""

    host: str
    port: int
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """Parse an mqtt:// or mqtts:// URL; ValueError with the reason otherwise."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
            raise ValueError(
                f"broker URL {url!r}: expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT]"
            )
        tls = parts.scheme in ("mqtts", "ssl")
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError:
            raise ValueError(f"broker URL {url!r}: the port is not a number") from None
        return cls(parts.hostname, port, tls)

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsOptions:
    """PEM files for mqtts://: the CA that signed the broker, a client certificate for mTLS."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    # Skip the broker's host name check only; its certificate chain is still verified.
    insecure: bool = False

    def context(self) -> ssl.SSLContext:
        """The client's SSL context; ValueError naming the file when one cannot be used."""
        if self.key_file is not None and self.cert_file is None:
            raise ValueError("TLS: a client key needs its client certificate")
        for label, path in (
            ("CA file", self.ca_file),
            ("client certificate", self.cert_file),
            ("client key", self.key_file),
        ):
            if path is not None and not os.access(path, os.R_OK):
                reason = "does not exist" if not path.exists() else "is not readable"
                raise ValueError(f"TLS {label} {path} {reason}")
        try:
            context = ssl.create_default_context(cafile=self.ca_file)
            if self.cert_file is not None:
                context.load_cert_chain(self.cert_file, self.key_file)
        except ssl.SSLError as err:
            raise ValueError(f"TLS files cannot be loaded: {err}") from err
        if self.insecure:
            context.check_hostname = False
        return context


class LockerClient(aiomqtt.Client):
    """aiomqtt's client, minus the tasks a fleet cannot afford.

    aiomqtt queues each received message for an `async for` loop that wakes through a fresh
    task per message; a bank of 10,000 lockers would run 20,000 tasks just to listen. Here
    paho's callback (already on the event loop) hands each message straight to `on_message`,
    and `when_lost` tells the session that its connection ended. aiomqtt also wakes every
    client once a second for paho's keep-alive bookkeeping (10,000 wake-ups a second for a
    fleet); a quarter of the keep-alive is often enough: a PINGREQ then goes out at most
    1.25 keep-alives after the last packet, well inside the broker's 1.5. All of this reaches
    into aiomqtt's private members, which is why it lives here, next to `drop_connection`.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.on_message: Callable[[aiomqtt.Message], None] | None = None

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        handler = self.on_message
        if handler is not None:
            handler(aiomqtt.Message._from_paho_message(message))

    async def _misc_loop(self) -> None:
        every = max(1.0, self._keepalive / 4)
        while self._client.loop_misc() == paho.MQTT_ERR_SUCCESS:  # noqa: ASYNC110 - a timer
            await asyncio.sleep(every)

    def _on_socket_close(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        super()._on_socket_close(client, userdata, sock)
        # The link died before the broker's CONNACK (a proxy or a firewall cut it): aiomqtt
        # would wait its whole timeout (10 s) for a CONNACK that cannot come. Fail the
        # connect now instead; the session logs one line and reconnects with back-off. The
        # future is taken now: by the time the loop runs this, a new attempt may have begun.
        # paho may call this from the executor thread that runs its connect().
        self._loop.call_soon_threadsafe(self._lost_before_connack, self._connected)

    def _lost_before_connack(self, connected: asyncio.Future[Any]) -> None:
        if not connected.done():
            lost = aiomqtt.MqttError("connection lost before the broker accepted it")
            connected.set_exception(lost)
            connected.exception()  # raised to whoever awaits it; never logged at GC time
        if self._disconnected.done() and not self._disconnected.cancelled():
            # Set by aiomqtt's socket callbacks; nobody awaits it before the connection was
            # accepted, and asyncio would log it with a traceback when collected.
            self._disconnected.exception()

    def when_lost(self, callback: Callable[[BaseException | None], None]) -> None:
        """Once the connection (entered with `async with`) ends: `callback(error or None)`."""

        def done(future: asyncio.Future[None]) -> None:
            # Retrieving the exception here also keeps asyncio from logging it as unretrieved.
            callback(None if future.cancelled() else future.exception())

        self._disconnected.add_done_callback(done)


class _SocketErrorsAsDebug(logging.Filter):
    """paho logs a link that a peer or a proxy cut ("failed to receive on socket: [Errno
    104] ...") as an ERROR; for a locker that is expected weather, which the session already
    reports in one WARNING line (and reconnects), so paho's own line is demoted to DEBUG."""

    PREFIXES = ("failed to receive on socket", "failed to send")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.DEBUG and str(record.msg).startswith(self.PREFIXES):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


def _quiet_socket_errors(logger: logging.Logger) -> None:
    if not any(isinstance(f, _SocketErrorsAsDebug) for f in logger.filters):
        logger.addFilter(_SocketErrorsAsDebug())


def make_client(
    broker: BrokerAddress,
    *,
    client_id: str,
    password: str | None,
    version: MqttVersion,
    tls_context: ssl.SSLContext | None = None,
    will_topic: str,
    will_payload: bytes,
    keepalive: int,
    logger: logging.Logger,
) -> LockerClient:
    """One clean-session client whose last will is the retained offline Status."""
    _quiet_socket_errors(logger)
    will = aiomqtt.Will(topic=will_topic, payload=will_payload, qos=QOS, retain=True)
    common = {
        "hostname": broker.host,
        "port": broker.port,
        # SPEC §9: the MQTT username of a locker is its locker id; the client id is the same.
        "username": client_id,
        "password": password,
        "identifier": client_id,
        "will": will,
        "keepalive": keepalive,
        "logger": logger,
        "tls_context": (tls_context or ssl.create_default_context()) if broker.tls else None,
        "timeout": 10.0,
        # Small request/response packets: no Nagle delay (it adds ~40 ms per round trip).
        "socket_options": [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
    }
    # A fresh session per connection: a locker that was away re-boots anyway, and commands that
    # piled up meanwhile would mostly be past their `exp`.
    if version is MqttVersion.V5:
        return LockerClient(**common, protocol=aiomqtt.ProtocolVersion.V5, clean_start=True)
    return LockerClient(**common, protocol=aiomqtt.ProtocolVersion.V311, clean_session=True)


def call_properties(
    version: MqttVersion, *, response_topic: str, correlation: str, expiry_seconds: float
) -> Properties | None:
    """MQTT 5 mirrors of a call's body: Response Topic, Correlation Data (= id), Message Expiry."""
    if version is not MqttVersion.V5:
        return None
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.ResponseTopic = response_topic
    props.CorrelationData = correlation.encode()
    props.MessageExpiryInterval = max(1, int(expiry_seconds))
    return props


def reply_properties(version: MqttVersion, correlation: bytes | None) -> Properties | None:
    """MQTT 5: a reply echoes the call's Correlation Data when it had one."""
    if version is not MqttVersion.V5 or correlation is None:
        return None
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.CorrelationData = correlation
    return props


def correlation_of(message: aiomqtt.Message) -> bytes | None:
    """The Correlation Data of a received MQTT 5 message, if any."""
    value = getattr(message.properties, "CorrelationData", None)
    return value if isinstance(value, bytes) else None


def drop_connection(client: aiomqtt.Client) -> bool:
    """Cut the TCP connection without a DISCONNECT packet, so that the broker sends the will.

    aiomqtt has no public way to do this (leaving its context always says goodbye); the paho
    client underneath exposes its socket, and shutting that socket down is exactly what a
    power cut or a pulled cable looks like to the broker.
    """
    sock = client._client.socket()
    if not isinstance(sock, socket.socket):
        return False
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        return False
    return True


def keep_cancellation() -> None:
    """Re-raise a cancellation that an aiomqtt call swallowed.

    On Python 3.11, `asyncio.wait_for` (which aiomqtt awaits every acknowledgement with) drops a
    cancellation that lands just as the acknowledgement arrives; the task then runs on,
    "cancelling" forever, and whoever awaits it hangs. Called after every aiomqtt await.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class Backoff:
    """Jittered exponential back-off: many lockers retrying never do so in lockstep."""

    def __init__(self, *, initial: float, maximum: float) -> None:
        self.initial = initial
        self.maximum = maximum
        self._attempt = 0

    def reset(self) -> None:
        """Start again from the initial delay (after a success)."""
        self._attempt = 0

    def next_delay(self) -> float:
        """The next delay: doubling up to `maximum`, then between half and all of it."""
        ceiling = min(self.maximum, self.initial * 2.0 ** min(self._attempt, 30))
        self._attempt += 1
        return random.uniform(ceiling / 2, ceiling)
