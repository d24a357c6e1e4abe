"""The console in a real Chromium against a real gateway, PostgreSQL, broker and emulated
locker: sign in, watch a deposit arrive live, act on a compartment, replay a dead letter, be
sent to sign in when the session ends; and the manifest on a desktop and a phone."""

from __future__ import annotations

import asyncio

from gateway.domain.webhooks import DeliveryState
from tests.browser.test_kiosk import UNNAMED
from tests.console.conftest import IDLE_S, ConsoleSite, eventually, sign_in
from tests.support.browser import PHONE, Browser

LOCKER = "WAW-CENTRAL-01"


async def test_a_deposit_shows_live_and_a_compartment_goes_out_of_service(
    browser: Browser, console_site: ConsoleSite
) -> None:
    site = console_site
    await browser.open(f"{site.url}/login")
    await browser.type("#operator_id", "oscar")
    await browser.type("#password", "not the right password")
    await browser.click("#sign-in")
    await browser.wait_text("#login-error", "wrong operator id or password")
    assert await browser.script(UNNAMED) == []

    await sign_in(browser, site, "oscar", f"/lockers/{LOCKER}")
    await browser.wait_attribute("#live", "data-live", "live")
    assert await browser.script(UNNAMED) == []
    await browser.script("window.sameDocument = true")

    # The courier deposits at the locker; the page shows it without a reload.
    door = await site.book("CONSOLE-1")
    await browser.wait_attribute(f"#cell-{door}", "data-state", "reserved")
    await site.deposit("CONSOLE-1", booked=door)
    await browser.wait_attribute(f"#cell-{door}", "data-state", "occupied")
    await browser.wait_text(f"#cell-{door}", "CONSOLE-1")
    await browser.wait_text("#live", f"{door}: occupied, door closed")  # said to screen readers
    assert await browser.script("return window.sameDocument === true")
    assert await site.parcel_state("CONSOLE-1") == "ready_for_pickup"

    # The operator takes a free compartment out of service from the page.
    await browser.click("#pick-M01")
    assert await browser.script("return document.activeElement.id") == "action-code"
    await browser.click("#act-out")
    await browser.type("#action-reason", "door hinge loose")
    await browser.click("#action-submit")
    await browser.wait_text("#note", "Compartment M01 is out of service.")
    await browser.wait_attribute("#cell-M01", "data-state", "out_of_service")
    await site.book("CONSOLE-2")  # one reserved too, for the picture
    await browser.wait_text("#grid", "CONSOLE-2")
    await browser.screenshot("locker")

    async with site.gateway.store.transaction() as tx:
        (entry,) = await tx.audit.latest(1, action="admin.action")
    assert (entry.actor, entry.details["reason"]) == ("operator:oscar", "door hinge loose")

    # A remote open of the parcel's door, with a reason: the locker opens it, the grid shows it.
    await browser.click(f"#pick-{door}")
    await browser.click("#act-open")
    await browser.type("#action-reason", "recipient on the phone, code lost")
    await browser.click("#action-submit")
    await browser.wait_text("#note", f"Door {door}: the locker opened it.")
    await browser.wait_attribute(f"#cell-{door}", "data-door", "open")
    assert site.locker.compartment(door).door == "open"
    async with site.gateway.store.transaction() as tx:
        (entry,) = await tx.audit.latest(1, action="admin.action")
    assert entry.details["what"] == "door.remote_open"
    assert entry.details["reason"] == "recipient on the phone, code lost"

    await browser.open(site.url)
    await browser.wait_text("#faults", "1 compartment out of service")
    assert await browser.script(UNNAMED) == []
    await browser.screenshot("overview")


async def test_a_dead_letter_is_replayed_from_the_page(
    browser: Browser, console_site: ConsoleSite
) -> None:
    site = console_site
    receiver = site.receiver
    receiver.on().always_fail = True
    receiver.on().fail_status = 422
    # One event only: its four failed attempts stay below the circuit breaker's five.
    body = {"url": receiver.url(), "events": ["parcel.reserved"]}
    hook = await site.post("/v1/webhooks", body, "hook-console-1")
    assert hook.status_code == 201, hook.text
    await site.book("CONSOLE-DEAD")

    async def dead() -> int:
        items, _ = await site.gateway_deliveries(DeliveryState.DEAD)
        return len(items)

    await eventually(dead, 1, 15)
    (letter,), _ = await site.gateway_deliveries(DeliveryState.DEAD)
    receiver.on().always_fail = False

    await sign_in(browser, site, "oscar", "/deliveries")
    await browser.wait_text(f"#dead-{letter.id}", "422")
    await browser.wait_text("#targets", "webhook")
    cells = await browser.script(
        "return [...document.querySelectorAll('#targets tbody td')].map(c => c.textContent)"
    )
    assert cells == ["acme", "0", "0", "—", "0", "1", "0"]  # one dead, nothing pending
    assert await browser.script(UNNAMED) == []
    await browser.screenshot("dead-letter")
    await browser.click(f"#replay-{letter.id}")
    await browser.wait_text("#note", f"Delivery {letter.id} queued again.")

    async def arrived() -> bool:
        return letter.event_id in {r.event_id for r in receiver.delivered()}

    await eventually(arrived, True, 10)


async def test_an_ended_session_sends_the_browser_to_sign_in(
    browser: Browser, console_site: ConsoleSite
) -> None:
    site = console_site
    await sign_in(browser, site, "vera", f"/lockers/{LOCKER}")
    await browser.wait_attribute("#live", "data-live", "live")
    # A viewer reads everything and is offered no action.
    assert await browser.script("return document.querySelector('#action-form, .pick')") is None

    # The session runs out while the page is open: the next change on the live stream finds
    # it ended, and the page goes to the sign-in page by itself.
    site.clock.advance(IDLE_S + 1)
    await site.book("CONSOLE-AFTER")
    await browser.wait_text("#note", "Your session has ended; sign in again.")
    assert await browser.script("return location.pathname") == "/console/login"
    await browser.type("#operator_id", "vera")
    await browser.type("#password", "correct horse battery staple")
    await browser.click("#sign-in")
    await browser.wait_text("h1", f"Locker {LOCKER}")  # back where it was
    await browser.wait_text("#grid", "CONSOLE-AFTER")


async def _media(browser: Browser, media: str) -> None:
    """Show the page as printed ("print") or on screen ("")."""
    command = "Emulation.setEmulatedMedia"
    await asyncio.to_thread(browser.driver.execute_cdp_cmd, command, {"media": media})


async def _to_phone(browser: Browser) -> None:
    """The same signed-in page on a phone's screen (cheaper than a second site and sign-in)."""
    browser.viewport = PHONE
    metrics = {"width": PHONE.width, "height": PHONE.height, "deviceScaleFactor": PHONE.scale}

    def switch() -> None:
        driver = browser.driver
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics | {"mobile": True})
        driver.execute_cdp_cmd(
            "Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5}
        )

    await asyncio.to_thread(switch)


async def test_the_manifest_reports_and_audit_pages(
    browser: Browser, console_site: ConsoleSite
) -> None:
    site = console_site
    first = await site.deposit("CONSOLE-LATE-1")
    second = await site.deposit("CONSOLE-LATE-2")
    taken = await site.deposit("CONSOLE-TAKEN")
    site.clock.advance(5 * 3600)
    # The locker lives in the same fast-forwarded world: a code typed "now" by its clock is
    # live (the gateway refuses keypad entries older than [keypad] entry_max_age).
    site.locker.update_faults({"clock_skew": 5 * 3600})
    await site.pick_up("CONSOLE-TAKEN", taken)  # a dwell time of 5 hours
    site.clock.advance(68 * 3600)  # past the 72 h pickup window: the other two are overdue

    await sign_in(browser, site, "alice", "/manifest")
    await browser.wait_text(f"#manifest-{LOCKER}", "CONSOLE-LATE-1")
    rows = await browser.script(
        f"return [...document.querySelectorAll('#manifest-{LOCKER} tbody tr')]"
        ".map(r => r.cells[0].textContent + ' ' + r.cells[1].textContent)"
    )
    assert rows == sorted([f"{first} CONSOLE-LATE-1", f"{second} CONSOLE-LATE-2"])
    assert await browser.script(UNNAMED) == []
    await browser.screenshot("manifest")
    # Printed, the sheet is the manifest alone: no navigation, no buttons.
    await _media(browser, "print")
    try:
        hidden = "return getComputedStyle(document.querySelector(arguments[0])).display"
        assert await browser.script(hidden, "header.top") == "none"
        assert await browser.script(hidden, "#print") == "none"
        assert await browser.script(hidden, "p.print-only") == "block"
        await browser.screenshot("manifest-print")
    finally:
        await _media(browser, "")

    await browser.click("a[href='/console']")
    await browser.wait_attribute(f"#locker-{LOCKER}", "data-online", "yes")
    await browser.screenshot("overview")

    await browser.click("a[href='/console/reports']")
    await browser.wait_text("#chart-dwell-title", "Dwell time")
    dwell = await browser.script(
        "return [...document.querySelectorAll('#table-dwell tbody tr')]"
        ".map(r => r.cells[0].textContent + '=' + r.cells[1].textContent)"
    )
    assert dwell == ["< 1 h=0", "1-6 h=1", "6-24 h=0", "1-2 d=0", "2-3 d=0", "> 3 d=0"]
    title = await browser.script("return document.querySelector('#chart-peak title').textContent")
    assert title == "Deposits by hour of day (UTC)"
    assert await browser.script(UNNAMED) == []
    await browser.screenshot("reports")

    await browser.click("a[href='/console/audit']")
    await browser.wait_attribute("#verify", "data-ok", "yes")
    await browser.wait_text("#audit", "operator.login")
    assert await browser.script(UNNAMED) == []
    await browser.click("a[href='/console/parcels']")
    await browser.wait_text("#overdue", "CONSOLE-LATE-2")
    assert await browser.script(UNNAMED) == []

    # On a phone: no sideways scrolling, one card per parcel.
    await _to_phone(browser)
    wide = "return document.documentElement.scrollWidth > window.innerWidth"
    for page in ("/manifest", "", f"/lockers/{LOCKER}"):
        await browser.open(site.url + page)
        await browser.find("main h1")
        assert not await browser.script(wide), page
        await browser.screenshot("phone" + (page.replace("/", "-") or "-overview"))
    display = "return getComputedStyle(document.querySelector(arguments[0])).display"
    await browser.open(f"{site.url}/manifest")
    assert await browser.script(display, f"#manifest-{LOCKER} tr") == "block"
