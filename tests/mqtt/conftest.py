"""What the MQTT identity tests share: operator-made password/ACL files, a PKI, a client."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import pytest

from gateway.cli import main
from tests.e2e.conftest import LOCKER
from tests.support.mosquitto import BrokerTls, Mosquitto
from tests.support.pki import Issued, TestCa

LOCK_A, LOCK_B, GW = "LOCK-A", "LOCK-B", "gw-main"
NOT_AUTHORIZED = 135  # MQTT 5 CONNACK reason code


@dataclass
class Access:
    """Files as an operator makes them with `openlocker mqtt passwd | acl`, and a test PKI."""

    passwd: Path
    acl: Path
    secrets: dict[str, str]
    ca: TestCa
    server: Issued

    def broker(self, folder: Path, *, tls: bool = False, mutual: bool = False) -> Mosquitto:
        broker_tls = None
        if tls:
            broker_tls = BrokerTls(
                ca_file=self.ca.ca_file,
                cert_file=self.server.cert_file,
                key_file=self.server.key_file,
                require_certificate=mutual,
            )
        return Mosquitto(folder, password_file=self.passwd, acl_file=self.acl, tls=broker_tls)


@pytest.fixture
def access(tmp_path: Path) -> Access:
    # A sync fixture: the CLI runs its own event loop.
    db = ["--database-url", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"]
    passwd, acl, secrets = tmp_path / "passwd", tmp_path / "acl", tmp_path / "secrets"
    users = [LOCKER, LOCK_A, LOCK_B]
    passwd_args = ["--file", str(passwd), "--gateway-user", GW, "--secrets-out", str(secrets)]
    assert main([*db, "mqtt", "passwd", *passwd_args, *users]) == 0
    assert main([*db, "mqtt", "acl", "--file", str(acl), "--gateway-user", GW]) == 0
    pairs = dict(line.split(":", 1) for line in secrets.read_text().splitlines())
    ca = TestCa(tmp_path / "pki")
    return Access(passwd, acl, pairs, ca, ca.server())


def client(
    broker: Mosquitto,
    user: str | None,
    password: str | None,
    *,
    identifier: str | None = None,
    tls: ssl.SSLContext | None = None,
    timeout: float = 10,
) -> aiomqtt.Client:
    return aiomqtt.Client(
        "127.0.0.1",
        broker.port,
        username=user,
        password=password,
        identifier=identifier or f"{user}-test",
        protocol=aiomqtt.ProtocolVersion.V5,
        tls_context=tls,
        timeout=timeout,
    )


async def received_until(mqtt: aiomqtt.Client, last_topic: str) -> list[str]:
    """Topics received up to and including `last_topic` (bounded by a timeout)."""
    topics: list[str] = []

    async def read() -> None:
        async for message in mqtt.messages:
            topics.append(str(message.topic))
            if str(message.topic) == last_topic:
                return

    await asyncio.wait_for(read(), 10)
    return topics
