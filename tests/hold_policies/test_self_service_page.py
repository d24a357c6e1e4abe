"""The recipient's self-service page in a real Chromium, against a real gateway, PostgreSQL,
broker and emulated locker: the recipient extends the hold, gets a new code from the page and
opens the locker with it; asks for a redirect; a link that ran out shows nothing."""

from __future__ import annotations

import asyncio

import pytest

from tests.browser.conftest import browser, chromium
from tests.browser.test_kiosk import UNNAMED
from tests.console.conftest import ConsoleSite, console_site, eventually
from tests.support.browser import Browser

__all__ = ["browser", "chromium", "console_site"]  # fixtures, used by name


async def self_service_link(site: ConsoleSite, parcel_id: str) -> str:
    answer = await site.client.post(
        f"/v1/parcels/{parcel_id}/self-service-link",
        headers=site.carrier.auth(iat=site.clock().timestamp()),
    )
    assert answer.status_code == 201, answer.text
    url: str = answer.json()["url"]
    return url


@pytest.mark.parametrize("browser", ["phone"], indirect=True)
async def test_a_recipient_extends_gets_a_new_code_and_opens_the_locker(
    browser: Browser, console_site: ConsoleSite
) -> None:
    site = console_site
    door = await site.deposit("SELF-1")
    url = await self_service_link(site, "SELF-1")
    before = (await site.gateway.parcels.get("acme", "SELF-1")).pickup_until
    assert before is not None

    await browser.open(url)
    await browser.wait_text("#parcel-id", "SELF-1")
    await browser.wait_text("#status", "waiting for you in the locker")
    assert await browser.script(UNNAMED) == []
    assert await browser.attribute('meta[name="referrer"]', "content") == "no-referrer"

    # One extension, the most the policy allows (2 days by default), chosen on the page.
    await browser.click("#extend-button")
    await browser.wait_text("#note", "the parcel now waits for you until")
    await browser.wait_text("#extended", "can be extended once only")
    after = (await site.gateway.parcels.get("acme", "SELF-1")).pickup_until
    assert after is not None
    assert (after - before).days == 2
    await browser.wait_text("#pickup-until", after.strftime("%Y-%m-%d %H:%M"))

    # A new code, shown on the page; typed on the locker's keypad it opens the door.
    await browser.click("#code-button")
    await browser.wait_text("#code-title", "Your new code")
    code = await browser.text("#new-code")
    assert code.isdigit()
    await browser.screenshot("self-service-code")
    site.locker.enter_code(code)
    async with asyncio.timeout(10):
        await site.locker.wait_until(lambda: site.locker.compartment(door).door == "open")
    site.locker.take(door)
    await eventually(lambda: site.parcel_state("SELF-1"), "picked_up", 10)

    await browser.open(url)
    await browser.wait_text("#status", "picked up")
    await browser.wait_text("#no-code", "No new code")
    await browser.wait_text("#no-redirect", "cannot be sent elsewhere")


async def test_a_recipient_asks_for_a_redirect_and_a_stale_link_shows_nothing(
    browser: Browser, console_site: ConsoleSite
) -> None:
    site = console_site
    await site.deposit("SELF-2")
    url = await self_service_link(site, "SELF-2")
    await browser.open(url)
    await browser.wait_text("#redirect-title", "Collect it somewhere else?")
    await browser.script(
        "document.querySelector('#redirect-locker').value = arguments[0]", "KRK-MAIN-01"
    )
    await browser.click("#redirect-button")
    await browser.wait_text("#note", "the sender will send the parcel")
    await browser.wait_text("#redirect-asked", "KRK-MAIN-01")
    parcel = await site.gateway.parcels.get("acme", "SELF-2")
    assert parcel.recipient_requests.redirect_locker_id == "KRK-MAIN-01"
    assert parcel.state.value == "ready_for_pickup"  # the carrier decides

    # The recipient extended from another tab meanwhile: this page's form is stale, and the
    # second extension is refused on the page, not with a crash.
    token = url.rsplit("/", 1)[1]
    other_tab = await site.client.post(
        "/v1/self-service/parcel/extend",
        json={"days": 1},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert other_tab.status_code == 200, other_tab.text
    await browser.click("#extend-button")
    await browser.wait_text("#error", "once already")
    await browser.wait_text("#extended", "can be extended once only")

    # Tampered, then expired: the page shows the reason and nothing of the parcel.
    await browser.open(url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB"))
    await browser.wait_text("#error", "signature")
    assert "SELF-2" not in await browser.text("body")
    site.clock.advance(25 * 3600)
    await browser.open(url)
    await browser.wait_text("#error", "expired")
    assert "SELF-2" not in await browser.text("body")
