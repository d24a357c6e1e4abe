"""The emulator's kiosk page in a real Chromium, against a real gateway, broker and emulator.

A carrier books over HTTP; the test is the courier and the recipient at the locker, clicking.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from locker_emulator.bank import EmulatorBank
from selenium.webdriver.common.keys import Keys

from gateway.app import Gateway
from tests.e2e.conftest import FAST, LOCKER, Site, emulated_lockers, eventually
from tests.http.conftest import NETWORK, provision, settings_for
from tests.support.browser import Browser
from tests.support.carriers import TestCarrier
from tests.support.clock import MovableClock
from tests.support.mosquitto import Mosquitto


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    """The e2e site on SQLite (the store is tested on both engines elsewhere), with the kiosk."""
    carrier = TestCarrier.ed25519("acme", NETWORK)
    clock = MovableClock()
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'openlocker.db'}"
    with Mosquitto(tmp_path / "mqtt") as broker:
        settings = settings_for(database_url, mqtt_url=broker.url, open_timeout_s=3.0)
        async with Gateway(settings=settings, clock=clock) as gateway:
            await gateway.carriers.register("acme", carrier.jwks)
            await provision(gateway, "waw-central.yaml")
            async with EmulatorBank(
                mqtt_url=broker.url,
                lockers=emulated_lockers(),
                timing=FAST,
                control_port=0,
                root_key=gateway.root_key.public_jwk,  # pinned: the locker installs key sets
            ) as bank:
                await asyncio.wait_for(bank.wait_all_booted(), 15)
                async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
                    yield Site(gateway, bank, broker, client, carrier, clock)


# Controls a screen reader could not name: a field without a label, a button without words.
UNNAMED = """
const bad = [];
document.querySelectorAll("input:not([type=hidden]), textarea, select").forEach(function (f) {
  if (!f.labels || f.labels.length === 0) bad.push(f.outerHTML.slice(0, 80));
});
document.querySelectorAll("button, a, summary").forEach(function (b) {
  if (!(b.textContent.trim() || b.getAttribute("aria-label"))) bad.push(b.outerHTML.slice(0, 80));
});
return bad;
"""


async def open_kiosk(browser: Browser, site: Site) -> None:
    await browser.open(f"{site.bank.control_url}/kiosk/{LOCKER}")
    await browser.wait_attribute("#live", "data-live", "live")
    await browser.wait_attribute("#status-badge", "data-status", "online")
    assert await browser.script(UNNAMED) == []


async def test_a_whole_delivery_by_clicking(browser: Browser, site: Site) -> None:
    await open_kiosk(browser, site)
    door = (await site.book("KIOSK-1"))["compartmentCode"]
    card = f"#door-{door}"

    # The courier taps the drop-off code on the on-screen keypad.
    for digit in await site.code("KIOSK-1"):
        await browser.click(f"#key-{digit}")
    await browser.click("#key-enter")
    await browser.wait_attribute(card, "data-door", "open")
    await browser.wait_text(f"#door-state-{door}", "Door open")
    await browser.click(f"#put-in-{door}")
    await browser.wait_text(card, "Parcel placed")
    await browser.click(f"#close-{door}")
    await browser.wait_attribute(card, "data-door", "closed")
    assert await browser.attribute(card, "data-inside") == "yes"
    await site.wait_state("KIOSK-1", "ready_for_pickup")

    # The recipient types the pickup code on a keyboard and presses Enter.
    await browser.click("#keypad-code")
    await browser.keys(await site.code("KIOSK-1") + Keys.ENTER)
    await browser.wait_attribute(card, "data-door", "open")
    await browser.wait_text("#feedback", "Code entered")
    await browser.screenshot("door-open")
    await browser.click(f"#take-out-{door}")
    await browser.click(f"#close-{door}")
    await browser.wait_attribute(card, "data-inside", "no")
    await site.wait_state("KIOSK-1", "picked_up")
    assert site.locker.compartment(door).door == "closed"


@pytest.mark.parametrize("browser", ["phone"], indirect=True)
async def test_a_scanned_grant_opens_the_door_on_a_phone(browser: Browser, site: Site) -> None:
    await open_kiosk(browser, site)
    door = (await site.book("KIOSK-2"))["compartmentCode"]
    version = site.gateway.network_keys.version
    await eventually(lambda: _held(site), version, 15)
    response = await site.post("/v1/parcels/KIOSK-2/grants")
    assert response.status_code == 201, response.text

    await browser.type("#scan-token", response.json()["qr"])
    await browser.click("#scan-button")
    await browser.wait_text("#feedback", "Grant accepted")
    await browser.wait_attribute(f"#door-{door}", "data-door", "open")
    await browser.wait_text("#region-display", f"Compartment {door} is open")
    await browser.click(f"#put-in-{door}")
    await browser.wait_attribute(f"#door-{door}", "data-inside", "yes")
    await browser.screenshot("page")
    await browser.scroll_to("#region-display")
    await browser.screenshot("front-panel", full_page=False)
    await browser.scroll_to(f"#door-{door}")
    await browser.screenshot("door-open", full_page=False)
    await browser.click(f"#close-{door}")
    await site.wait_state("KIOSK-2", "ready_for_pickup")

    # The same grant again: refused by the locker itself, and the page says why.
    await browser.type("#scan-token", response.json()["qr"])
    await browser.click("#scan-button")
    await browser.wait_text("#feedback", "Grant refused")
    assert await browser.attribute(f"#door-{door}", "data-door") == "closed"


async def _held(site: Site) -> int | None:
    return site.locker.key_set_version


async def test_fault_buttons_show_on_the_page(browser: Browser, site: Site) -> None:
    await open_kiosk(browser, site)
    door = (await site.book("KIOSK-3"))["compartmentCode"]
    card = f"#door-{door}"

    await browser.click(f"#faults-summary-{door}")
    await browser.click(f"#fault-jammed-{door}")
    await browser.wait_attribute(f"#fault-jammed-{door}", "aria-pressed", "true")
    assert site.locker.compartment(door).faults.jammed
    # The keyboard keeps its place across the live update that redrew the button.
    assert await browser.focused_id() == f"fault-jammed-{door}"

    # Typed on the keyboard with no field focused: the page's keypad takes the digits.
    await browser.click("#front-h")
    assert await browser.focused_id() == ""
    await browser.keys(await site.code("KIOSK-3") + Keys.ENTER)
    await browser.wait_attribute(card, "data-door", "jammed")
    await browser.wait_text(f"#door-faults-{door}", "DoorJammed")
    await site.wait_state("KIOSK-3", "deposit_failed")

    await browser.type("#outage-seconds", "1")
    await browser.click("#outage-offline")
    await browser.wait_attribute("#status-badge", "data-status", "offline")
    await browser.wait_attribute("#status-badge", "data-status", "online")
