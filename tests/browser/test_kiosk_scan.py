"""Query on scan on the emulator's kiosk page, in a real Chromium against a real gateway: the
courier types (scans) a parcel label; the locker asks the gateway; a door opens or the page
says why not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.app import Gateway
from tests.browser.test_kiosk import open_kiosk
from tests.e2e.conftest import LOCKER, Site, emulated_site
from tests.http.conftest import NETWORK, provision, settings_for
from tests.support.browser import Browser
from tests.support.carriers import TestCarrier
from tests.support.clock import MovableClock
from tests.support.mosquitto import Mosquitto


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    """The kiosk site (SQLite) where carrier acme takes parcels it never pre-advised in."""
    carrier = TestCarrier.ed25519("acme", NETWORK)
    clock = MovableClock()
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'openlocker.db'}"
    scan = {"policy": "refuse", "carriers": {"acme": "hold"}}
    with Mosquitto(tmp_path / "mqtt") as broker:
        settings = settings_for(database_url, mqtt_url=broker.url, open_timeout_s=3.0, scan=scan)
        async with Gateway(settings=settings, clock=clock) as gateway:
            await gateway.carriers.register("acme", carrier.jwks)
            await provision(gateway, "waw-central.yaml")
            async with emulated_site(gateway, broker, carrier, clock, control_port=0) as site:
                yield site
                await gateway.locker_side.scans.settle()


async def test_a_courier_scans_a_label_never_pre_advised(browser: Browser, site: Site) -> None:
    await open_kiosk(browser, site)

    # No courier round open: nobody owns the parcel, nothing opens.
    await browser.type("#label-parcel", "KIOSK-SCAN-0")
    await browser.click("#label-button")
    await browser.wait_text("#feedback", "not accepted here (NoCarrier)")
    assert await browser.attribute("#feedback", "class") == "feedback feedback--error"

    # acme's courier opens a round; the label is taken in.
    headers = site.carrier.auth(iat=site.clock().timestamp()) | {"Idempotency-Key": "round"}
    opened = await site.client.post(
        "/v1/courier-sessions", json={"lockerId": LOCKER}, headers=headers
    )
    assert opened.status_code == 201, opened.text
    await browser.type("#label-parcel", "KIOSK-SCAN-1")
    await browser.script("document.querySelector('#label-size').value = 'L';")
    await browser.click("#label-button")
    await browser.wait_text("#feedback", "Put parcel KIOSK-SCAN-1 into compartment L01")
    await browser.wait_attribute("#door-L01", "data-door", "open")
    await browser.wait_text("#region-display", "compartment L01")
    await browser.screenshot("label-scanned")
    await browser.click("#put-in-L01")
    await browser.wait_attribute("#door-L01", "data-inside", "yes")
    await browser.click("#close-L01")
    await site.wait_state("KIOSK-SCAN-1", "ready_for_pickup")
    # The form was reset for the next parcel.
    assert await browser.script("return document.querySelector('#label-parcel').value;") == ""
