"""Parcel search, a parcel's page and its actions, and the maintenance open of an empty
compartment: in a real Chromium against the gateway, PostgreSQL, the broker and the emulated
locker, and over plain HTTP for the refusals (roles, CSRF, confirmation, conflicts)."""

from __future__ import annotations

import asyncio
import html
import re

import httpx

from gateway.domain.audit import AuditAction
from tests.browser.test_kiosk import UNNAMED
from tests.console.conftest import ConsoleSite, eventually, sign_in
from tests.console.test_console_http import signed_in
from tests.support.browser import PHONE, Browser

LOCKER = "WAW-CENTRAL-01"


async def uid_of(site: ConsoleSite, parcel_id: str) -> str:
    async with site.gateway.store.transaction() as tx:
        parcel = await tx.parcels.get("acme", parcel_id)
    assert parcel is not None
    return parcel.uid


async def audit_whats(site: ConsoleSite) -> list[tuple[str, str, str]]:
    async with site.gateway.store.transaction() as tx:
        entries = await tx.audit.latest(20, action=AuditAction.ADMIN_ACTION.value)
    return [(e.actor, e.details["what"], e.details["reason"]) for e in entries]


async def on_phone(browser: Browser) -> None:
    """The same signed-in browser on a phone's screen."""
    browser.viewport = PHONE
    metrics = {"width": PHONE.width, "height": PHONE.height, "deviceScaleFactor": PHONE.scale}
    command = "Emulation.setDeviceMetricsOverride"
    await asyncio.to_thread(browser.driver.execute_cdp_cmd, command, metrics | {"mobile": True})


async def test_find_a_parcel_expire_it_and_open_an_empty_door(
    browser: Browser, console_site: ConsoleSite
) -> None:
    site = console_site
    # The carrier listens for its parcel events: the page lists their deliveries.
    events = ["parcel.reserved", "parcel.ready_for_pickup", "parcel.expired", "parcel.picked_up"]
    hook = await site.post(
        "/v1/webhooks", {"url": site.receiver.url(), "events": events}, "hook-parcels-1"
    )
    assert hook.status_code == 201, hook.text
    door = await site.deposit("CONSOLE-P1")
    other = await site.deposit("CONSOLE-P2")

    # Search from the parcels page: by the carrier's parcel id.
    await sign_in(browser, site, "oscar", "/parcels")
    await browser.click("#find-parcel")
    await browser.type("#search-q", "CONSOLE-P1")
    await browser.click("#search-submit")
    await browser.wait_text("#results-title", "1 parcel found")
    assert await browser.script(UNNAMED) == []
    await browser.click("#found-CONSOLE-P1")

    # The parcel's page: state, place, history, deliveries, and what may be done.
    await browser.wait_text("h1", "Parcel CONSOLE-P1")
    await browser.wait_text("#parcel-state", "ready for pickup")
    await browser.wait_text("#parcel-compartment", door)
    await browser.wait_text("#history", "parcel.ready_for_pickup")
    await browser.wait_text("#parcel-uid", await uid_of(site, "CONSOLE-P1"))

    async def delivered() -> int:
        return len(site.receiver.delivered())

    await eventually(delivered, 4, 15)  # reserved and ready, of both parcels
    await browser.open(await browser.script("return location.href"))
    await browser.wait_text("#parcel-deliveries", "delivered")
    offered = await browser.script(
        "return [...document.querySelectorAll('.act-grid button[id^=do-]')].map(b => b.id)"
    )
    assert offered == ["do-expire", "do-picked_up", "do-open"]
    assert await browser.script(UNNAMED) == []
    await browser.type("#reason-expire", "recipient moved away")
    # A test artefact; docs/images/console-parcel.png (the README's picture) is a copy of it.
    await browser.screenshot("parcel")

    # Force-expire: a confirmation first (nothing changes), then the result.
    await browser.click("#do-expire")
    await browser.wait_text("#confirm-what", "Force-expire: parcel CONSOLE-P1 (acme)")
    await browser.wait_text("#confirm-reason", "recipient moved away")
    assert await site.parcel_state("CONSOLE-P1") == "ready_for_pickup"
    assert await browser.script(UNNAMED) == []
    await browser.click("#confirm-submit")
    await browser.wait_text("#note", "Parcel CONSOLE-P1 expired: expired.")
    await browser.wait_text("#parcel-state", "expired")
    await browser.wait_text("#history", "parcel.expired")
    assert await site.parcel_state("CONSOLE-P1") == "expired"

    # The other parcel, found by the header's search box, is marked picked up.
    await browser.type("#find-q", "CONSOLE-P2")
    await browser.click("#find-submit")
    await browser.click("#found-CONSOLE-P2")
    await browser.wait_text("h1", "Parcel CONSOLE-P2")
    await browser.type("#reason-picked_up", "recipient helped at the counter")
    await browser.click("#do-picked_up")
    await browser.click("#confirm-submit")
    await browser.wait_text("#note", "Parcel CONSOLE-P2 marked picked up: picked up.")
    assert await site.parcel_state("CONSOLE-P2") == "picked_up"

    # A maintenance open of an empty compartment from the locker page: the emulated locker
    # opens that door, and the live grid shows it.
    await browser.open(f"{site.url}/lockers/{LOCKER}")
    await browser.wait_attribute("#live", "data-live", "live")
    choices = await browser.script(
        "return [...document.querySelectorAll('#inspect-code option')].map(o => o.value)"
    )
    assert door not in choices  # the expired parcel is still inside
    assert other in choices  # picked up: empty again
    assert "M01" in choices
    await browser.script("document.querySelector('#inspect-code').value = 'M01'")
    await browser.type("#inspect-reason", "cleaning after a spill")
    await browser.click("#inspect-submit")
    await browser.wait_text("#confirm-what", f"Open the empty compartment M01 of locker {LOCKER}")
    await browser.click("#confirm-submit")
    await browser.wait_text("#note", "Door M01 (empty, inspection): the locker opened it.")
    await browser.wait_attribute("#cell-M01", "data-door", "open")
    assert site.locker.compartment("M01").door == "open"
    await browser.screenshot("inspection")

    # On a phone the parcel's page needs no sideways scrolling.
    await on_phone(browser)
    await browser.open(f"{site.url}/parcels/{await uid_of(site, 'CONSOLE-P1')}")
    await browser.wait_text("#parcel-state", "expired")
    assert not await browser.script("return document.documentElement.scrollWidth > innerWidth")
    await browser.screenshot("parcel-phone")

    assert await audit_whats(site) == [
        ("operator:oscar", "parcel.force_expire", "recipient moved away"),
        ("operator:oscar", "parcel.mark_picked_up", "recipient helped at the counter"),
        ("operator:oscar", "door.maintenance_open", "cleaning after a spill"),
    ]


async def test_parcel_actions_are_refused_without_role_csrf_or_confirmation(
    console_site: ConsoleSite,
) -> None:
    site = console_site
    code = await site.book("CONSOLE-R1")
    uid = await uid_of(site, "CONSOLE-R1")
    page = f"/console/parcels/{uid}"
    act = f"{page}/actions"
    form = {"action": "expire", "reason": "try it", "confirm": "yes"}

    async with httpx.AsyncClient(base_url=site.gateway.base_url) as anonymous:
        for path in (page, "/console/parcels/search?q=CONSOLE-R1"):
            answer = await anonymous.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["Location"].startswith("/console/login?next=/console/parcels")
        refused = await anonymous.post(act, data=form)
        assert refused.status_code == 401
    viewer, viewer_csrf = await signed_in(site, "vera")
    oscar, csrf = await signed_in(site, "oscar")
    try:
        # A viewer reads the page (no buttons) and the search, and may not act.
        seen = await viewer.get(page)
        assert seen.status_code == 200
        assert "Parcel CONSOLE-R1" in seen.text
        assert 'id="act-title"' not in seen.text
        found = await viewer.get("/console/parcels/search", params={"q": uid})
        assert 'id="found-CONSOLE-R1"' in found.text
        refused = await viewer.post(act, data=form | {"csrf_token": viewer_csrf})
        assert refused.status_code == 403
        assert "operator role" in refused.text
        locker_page = await viewer.get(f"/console/lockers/{LOCKER}")
        assert 'id="inspect-form"' not in locker_page.text
        inspect = f"/console/lockers/{LOCKER}/inspect"
        refused = await viewer.post(
            inspect,
            data={"code": "M01", "reason": "look"}
            | {
                "csrf_token": viewer_csrf,
                "confirm": "yes",
            },
        )
        assert refused.status_code == 403

        # An operator without the session's CSRF token, or from another site: refused.
        assert (await oscar.post(act, data=form)).status_code == 403
        cross = await oscar.post(
            act, data=form | {"csrf_token": csrf}, headers={"Origin": "https://evil.example"}
        )
        assert cross.status_code == 403

        # Without `confirm`, a page asking to confirm; nothing changed, nothing audited.
        ask = await oscar.post(
            act, data={"action": "open", "reason": "door check", "csrf_token": csrf}
        )
        assert ask.status_code == 200
        assert "Open the door remotely: parcel CONSOLE-R1 (acme)" in ask.text
        assert re.search(r'name="confirm" value="yes"', ask.text)
        assert await audit_whats(site) == []

        # What the lifecycle refuses is an error page saying why (a reserved parcel has no
        # pickup window to end), and nothing is audited.
        expired = await oscar.post(act, data=form | {"csrf_token": csrf})
        assert expired.status_code == 409
        assert 'id="error-message"' in expired.text
        assert await site.parcel_state("CONSOLE-R1") == "reserved"
        short = await oscar.post(act, data=form | {"csrf_token": csrf, "reason": "x"})
        assert short.status_code == 422
        assert "say why" in short.text
        missing = await oscar.get("/console/parcels/no-such-uid")
        assert missing.status_code == 404

        # A reserved parcel moves to another free compartment of its locker.
        offered = await oscar.get(page)
        assert 'id="do-reassign"' in offered.text
        assert f'<option value="{code}">' not in offered.text  # its own: not free
        target = "S03" if code != "S03" else "S02"
        moved = await oscar.post(
            act,
            data={
                "action": "reassign",
                "compartment": target,
                "reason": "door sticks",
                "confirm": "yes",
                "csrf_token": csrf,
            },
        )
        assert moved.status_code == 303
        assert moved.headers["Location"] == page
        async with site.gateway.store.transaction() as tx:
            parcel = await tx.parcels.get("acme", "CONSOLE-R1")
        assert parcel is not None
        assert parcel.compartment_code == target

        # The maintenance open of a compartment holding a parcel is the parcel's own open.
        held = await oscar.post(
            inspect,
            data={"code": target, "reason": "look", "confirm": "yes", "csrf_token": csrf},
        )
        assert held.status_code == 409
        assert "open the parcel's door instead" in html.unescape(held.text)
        assert site.locker.compartment(target).door == "closed"
        assert [w for _, w, _ in await audit_whats(site)] == ["parcel.reassign"]
    finally:
        await viewer.aclose()
        await oscar.aclose()


async def test_search_filters_by_state_and_locker(console_site: ConsoleSite) -> None:
    site = console_site
    await site.book("CONSOLE-S1")
    await site.deposit("CONSOLE-S2")
    client, _ = await signed_in(site, "vera")
    try:

        async def found(**query: str) -> list[str]:
            answer = await client.get("/console/parcels/search", params=query)
            assert answer.status_code == 200, answer.text
            return re.findall(r'id="found-([^"]+)"', answer.text)

        assert await found(state="reserved") == ["CONSOLE-S1"]
        assert await found(state="ready_for_pickup", locker=LOCKER) == ["CONSOLE-S2"]
        assert await found(locker="KRK-MAIN-01") == []
        assert await found(carrier="acme") == ["CONSOLE-S1", "CONSOLE-S2"]
        assert await found() == []  # nothing asked, nothing listed
        bad = await client.get("/console/parcels/search", params={"state": "lost"})
        assert bad.status_code == 422
    finally:
        await client.aclose()
