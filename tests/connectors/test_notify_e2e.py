"""End to end: a parcel announced over HTTP with a recipient, deposited at the emulated locker;
the recipient's e-mail arrives at a real SMTP server and its code opens the door."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from locker_emulator.bank import EmulatorBank

from gateway.app import Gateway
from gateway.service.connectors import NewAttachment
from tests.connectors.notify_support import EMAIL, NAME, PERSONAL, PHONE
from tests.connectors.notify_world import NOTIFIER_EVENTS, no_personal_data_in_logs
from tests.e2e.conftest import FAST, LOCKER, Site, emulated_lockers
from tests.http.conftest import NETWORK, provision, settings_for
from tests.support.carriers import TestCarrier
from tests.support.clock import MovableClock
from tests.support.mosquitto import Mosquitto
from tests.support.smtpd import SmtpServer, smtp_server

__all__ = ["no_personal_data_in_logs"]  # a fixture, used by name

CODE = re.compile(r"Kod odbioru: (\d+)")


@pytest.fixture
async def mail_site(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Site, SmtpServer]]:
    carrier = TestCarrier.ed25519("acme", NETWORK)
    clock = MovableClock()
    with smtp_server() as smtp, Mosquitto(tmp_path / "mqtt") as broker:
        settings = settings_for(
            database_url, mqtt_url=broker.url, open_timeout_s=3.0, webhook_poll_interval_s=0.1
        )
        async with Gateway(settings=settings, clock=clock) as gateway:
            await gateway.carriers.register("acme", carrier.jwks)
            await gateway.connectors.add(
                NewAttachment(
                    id="recipient-mail",
                    carrier_id="acme",
                    connector="email",
                    config={
                        "smtp": {"host": smtp.host, "port": smtp.port, "starttls": False},
                        "from_address": "parcels@network.example",
                    },
                    events=NOTIFIER_EVENTS,
                )
            )
            await provision(gateway, "waw-central.yaml")
            async with EmulatorBank(
                mqtt_url=broker.url,
                lockers=emulated_lockers(),
                timing=FAST,
                root_key=gateway.root_key.public_jwk,  # pinned at provisioning (SPEC §9)
            ) as bank:
                await asyncio.wait_for(bank.wait_all_booted(), 15)
                async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
                    yield Site(gateway, bank, broker, client, carrier, clock), smtp


async def mails(smtp: SmtpServer, count: int, timeout: float = 15) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while len(smtp.received) < count:
        assert asyncio.get_running_loop().time() < deadline, f"{len(smtp.received)} mail(s)"
        await asyncio.sleep(0.05)


async def test_the_mailed_code_opens_the_door(mail_site: tuple[Site, SmtpServer]) -> None:
    site, smtp = mail_site
    who = {"name": NAME, "email": EMAIL, "phone": PHONE, "language": "pl"}
    body = {"parcelId": "MAIL-1", "lockerId": LOCKER, "sizeClass": "S", "recipient": who}
    booked = await site.post("/v1/parcels", body, key="book-MAIL-1")
    assert booked.status_code == 201, booked.text
    # Personal data is taken, never echoed: not in the answer, not in a later read.
    assert "recipient" not in booked.json()
    read = await site.get("/v1/parcels/MAIL-1")
    assert not any(item in read.text for item in PERSONAL)
    door = booked.json()["compartmentCode"]

    site.locker.enter_code(await site.code("MAIL-1"))
    await asyncio.wait_for(site.locker.wait_door(door, "open"), 10)
    site.locker.deposit(door)
    await site.wait_state("MAIL-1", "ready_for_pickup")

    await mails(smtp, 1)
    ready = smtp.received[0]
    assert ready.rcpt_tos == (EMAIL,)
    text = ready.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    match = CODE.search(text)
    assert match, "no pickup code in the mail"

    site.locker.enter_code(match.group(1))
    await asyncio.wait_for(site.locker.wait_door(door, "open"), 10)
    site.locker.take(door)
    await site.wait_state("MAIL-1", "picked_up")

    await mails(smtp, 2)
    assert smtp.received[1].message["Subject"] == "Paczka MAIL-1 została odebrana"


async def test_a_bad_recipient_is_a_problem_naming_the_field(
    mail_site: tuple[Site, SmtpServer],
) -> None:
    site, _ = mail_site
    body = {"parcelId": "MAIL-2", "lockerId": LOCKER, "sizeClass": "S",
            "recipient": {"phone": "0601 234 567"}}  # fmt: skip
    answer = await site.post("/v1/parcels", body, key="book-MAIL-2")
    assert answer.status_code == 422
    problem = answer.json()
    assert any(i["pointer"] == "/recipient/phone" for i in problem["errors"])
    assert "0601" not in answer.text  # the bad value is not echoed back
