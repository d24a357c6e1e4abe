"""Locker identity on a real Mosquitto: per-locker passwords and the ACL that confines lockers."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from paho.mqtt import client as paho
from paho.mqtt.enums import CallbackAPIVersion

from gateway.cli import main
from tests.e2e.conftest import eventually
from tests.mqtt.conftest import GW, LOCK_A, LOCK_B, NOT_AUTHORIZED, Access, client, received_until


async def test_unknown_users_wrong_passwords_and_anonymous_clients_are_refused(
    access: Access, tmp_path: Path
) -> None:
    with access.broker(tmp_path / "mqtt") as broker:
        for user, password in [
            (LOCK_A, "not-the-password"),
            (LOCK_A, access.secrets[LOCK_B]),  # another locker's password
            ("LOCK-Z", access.secrets[LOCK_A]),  # no such user
            (None, None),  # anonymous
        ]:
            with pytest.raises(aiomqtt.MqttCodeError) as refused:
                async with client(broker, user, password, identifier="intruder"):
                    pass
            assert refused.value.rc == NOT_AUTHORIZED, (user, refused.value)
        async with client(broker, LOCK_A, access.secrets[LOCK_A]):
            pass  # the right password is accepted: the refusals above were about credentials


async def test_a_locker_is_confined_to_its_own_subtree(access: Access, tmp_path: Path) -> None:
    with access.broker(tmp_path / "mqtt") as broker:
        async with (
            client(broker, GW, access.secrets[GW]) as gw,
            client(broker, LOCK_A, access.secrets[LOCK_A]) as a,
            client(broker, LOCK_B, access.secrets[LOCK_B]) as b,
        ):
            await gw.subscribe("olp/v1/+/evt/#", qos=1)
            await gw.subscribe("olp/v1/+/req/#", qos=1)
            await gw.subscribe("olp/v1/_gw/+/res/+", qos=1)
            await b.publish("olp/v1/LOCK-B/status", b"B online", qos=1, retain=True)
            await b.subscribe("olp/v1/LOCK-B/cmd/+", qos=1)
            # Mosquitto 2 grants every subscription (SUBACK "Granted QoS 1") and applies the
            # `read` rules to each message it would deliver: nothing of B's ever reaches A.
            for foreign in ("olp/v1/LOCK-B/cmd/#", "olp/v1/LOCK-B/status", "#"):
                granted = await a.subscribe(foreign, qos=1)
                assert [int(code.value) for code in granted] == [1]  # type: ignore[union-attr]
            await a.subscribe("olp/v1/LOCK-A/cmd/+", qos=1)

            # A's forgeries in B's name are dropped by the broker; its own traffic passes.
            await a.publish("olp/v1/LOCK-B/evt/DoorClosed", b"forged", qos=1)
            await a.publish("olp/v1/LOCK-B/req/Boot", b"forged", qos=1)
            await a.publish("olp/v1/_gw/gw-1/res/LOCK-B", b"forged", qos=1)
            await a.publish("olp/v1/LOCK-A/req/Boot", b"own call", qos=1)
            await a.publish("olp/v1/_gw/gw-1/res/LOCK-A", b"own reply", qos=1)
            await a.publish("olp/v1/LOCK-A/evt/DoorClosed", b"own event", qos=1)
            assert await received_until(gw, "olp/v1/LOCK-A/evt/DoorClosed") == [
                "olp/v1/LOCK-A/req/Boot",
                "olp/v1/_gw/gw-1/res/LOCK-A",
                "olp/v1/LOCK-A/evt/DoorClosed",
            ]

            # The gateway commands both lockers; each hears only its own command.
            await gw.publish("olp/v1/LOCK-B/cmd/OpenCompartment", b"for B", qos=1)
            await gw.publish("olp/v1/LOCK-A/cmd/OpenCompartment", b"for A", qos=1)
            assert await received_until(b, "olp/v1/LOCK-B/cmd/OpenCompartment") == [
                "olp/v1/LOCK-B/cmd/OpenCompartment"
            ]
            assert await received_until(a, "olp/v1/LOCK-A/cmd/OpenCompartment") == [
                "olp/v1/LOCK-A/cmd/OpenCompartment"
            ]


async def test_the_gateway_user_commands_and_reads_but_cannot_speak_for_a_locker(
    access: Access, tmp_path: Path
) -> None:
    with access.broker(tmp_path / "mqtt") as broker:
        async with (
            client(broker, GW, access.secrets[GW], identifier="gw-listen") as listen,
            client(broker, GW, access.secrets[GW], identifier="gw-speak") as speak,
            client(broker, LOCK_A, access.secrets[LOCK_A]) as a,
        ):
            await a.publish("olp/v1/LOCK-A/status", b"online", qos=1, retain=True)
            await a.publish("olp/v1/LOCK-A/state", b"state", qos=1, retain=True)
            await listen.subscribe("olp/v1/+/status", qos=1)
            await listen.subscribe("olp/v1/+/state", qos=1)
            assert sorted(
                [
                    *await received_until(listen, "olp/v1/LOCK-A/status"),
                    *await received_until(listen, "olp/v1/LOCK-A/state"),
                ]
            ) == ["olp/v1/LOCK-A/state", "olp/v1/LOCK-A/status"]
            await listen.subscribe("$share/olp-gw/olp/v1/+/evt/#", qos=1)

            await a.subscribe("olp/v1/LOCK-A/cmd/+", qos=1)
            await a.subscribe("olp/v1/LOCK-A/res", qos=1)
            await speak.publish("olp/v1/LOCK-A/res", b"reply to A's call", qos=1)
            await speak.publish("olp/v1/LOCK-A/cmd/Display", b"command", qos=1)
            assert await received_until(a, "olp/v1/LOCK-A/cmd/Display") == [
                "olp/v1/LOCK-A/res",
                "olp/v1/LOCK-A/cmd/Display",
            ]

            # A gateway cannot fake a locker's event or presence.
            await speak.publish("olp/v1/LOCK-A/evt/DoorClosed", b"forged", qos=1)
            await speak.publish("olp/v1/LOCK-A/status", b"forged", qos=1, retain=True)
            await a.publish("olp/v1/LOCK-A/evt/DoorOpened", b"real", qos=1)
            assert await received_until(listen, "olp/v1/LOCK-A/evt/DoorOpened") == [
                "olp/v1/LOCK-A/evt/DoorOpened"
            ]


async def test_a_rotated_password_replaces_the_old_one_after_a_reload(
    access: Access, tmp_path: Path
) -> None:
    with access.broker(tmp_path / "mqtt") as broker:
        old = access.secrets[LOCK_A]
        async with client(broker, LOCK_A, old):
            pass
        db = ["--database-url", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"]
        secrets = tmp_path / "rotated"
        rotate = ["--file", str(access.passwd), "--rotate", "--secrets-out", str(secrets)]
        assert await asyncio.to_thread(main, [*db, "mqtt", "passwd", *rotate, LOCK_A]) == 0
        new = secrets.read_text().strip().split(":", 1)[1]
        broker.reload()

        async def old_refused() -> bool:
            try:
                async with client(broker, LOCK_A, old):
                    return False
            except aiomqtt.MqttCodeError:
                return True

        await eventually(old_refused, True)
        async with client(broker, LOCK_A, new):
            pass
        async with client(broker, LOCK_B, access.secrets[LOCK_B]):
            pass  # the other lockers' passwords did not change


def _puback_codes(port: int, user: str, password: str, topics: list[str]) -> list[int]:
    """The MQTT 5 PUBACK reason code of one QoS 1 publish per topic (paho: aiomqtt hides them)."""
    acks: dict[int, int] = {}
    done = threading.Event()

    def on_publish(_c: Any, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        acks[mid] = int(reason.value)
        if len(acks) == len(topics):
            done.set()

    mqtt = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"{user}-acks", protocol=paho.MQTTv5)
    mqtt.username_pw_set(user, password)
    mqtt.on_publish = on_publish
    mqtt.connect("127.0.0.1", port)
    mqtt.loop_start()
    try:
        mids = [mqtt.publish(topic, b"probe", qos=1).mid for topic in topics]
        assert done.wait(10), acks
    finally:
        mqtt.disconnect()
        mqtt.loop_stop()
    return [acks[mid] for mid in mids]


async def test_a_forbidden_publish_is_acknowledged_not_authorized(
    access: Access, tmp_path: Path
) -> None:
    topics = [
        "olp/v1/LOCK-B/evt/DoorClosed",  # another locker's subtree
        "olp/v1/LOCK-A/cmd/OpenCompartment",  # its own, but commands only come from gateways
        "olp/v1/LOCK-A/evt/DoorClosed",  # allowed
    ]
    with access.broker(tmp_path / "mqtt") as broker:
        codes = await asyncio.to_thread(
            _puback_codes, broker.port, LOCK_A, access.secrets[LOCK_A], topics
        )
    no_matching_subscribers = 16  # accepted; nobody listens in this test
    assert codes == [NOT_AUTHORIZED, NOT_AUTHORIZED, no_matching_subscribers]
