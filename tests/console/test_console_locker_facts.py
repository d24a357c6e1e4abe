"""What the console says about a locker beyond its grid, over HTTP against the running gateway:
what the locker made of an out-of-service change (the admin answer's `atLocker`), doors whose
temperature alarm is raised (overview faults, the locker page, the live grid), and the courier
sessions open at a locker."""

from __future__ import annotations

import asyncio
from html import unescape

from gateway.console.actions import service_note
from gateway.console.reads import ConsoleReads
from tests.console.conftest import ConsoleSite
from tests.console.test_console_http import signed_in
from tests.http.conftest import provision

LOCKER = "WAW-CENTRAL-01"  # emulated: answers SetAvailability
OFFLINE = "KRK-MAIN-01"  # provisioned, never booted
COLD = "GDA-COLD-01"  # chilled and frozen doors, not emulated


async def test_the_service_note_says_what_the_locker_made_of_the_change(
    console_site: ConsoleSite,
) -> None:
    site = console_site
    oscar, csrf = await signed_in(site, "oscar")
    try:

        async def act(locker_id: str, code: str, action: str) -> str:
            form = {"code": code, "action": action, "reason": "door checked", "csrf_token": csrf}
            done = await oscar.post(f"/console/lockers/{locker_id}/actions", data=form)
            assert done.status_code == 303, done.text
            return unescape((await oscar.get(done.headers["Location"])).text)

        shown = await act(LOCKER, "A02", "out_of_service")
        assert "Compartment A02 is out of service. The locker confirmed it." in shown
        assert not site.locker.compartment("A02").enabled
        shown = await act(LOCKER, "A02", "in_service")
        assert "Compartment A02 is back in service. The locker confirmed it." in shown
        assert site.locker.compartment("A02").enabled

        # A locker that is not connected: the gateway holds the change, the locker has not it.
        shown = await act(OFFLINE, "M01", "out_of_service")
        assert (
            "Compartment M01 is out of service. The locker has not confirmed it yet: tried "
            "again in the background, and at the locker's next start."
        ) in shown
    finally:
        await oscar.aclose()


def test_the_service_note_of_a_locker_without_the_command() -> None:
    out = service_note("M01", False, "unsupported")
    assert out == (
        "Compartment M01 is out of service. The locker has no such command: only the gateway "
        "refuses it (an offline grant may still open it)."
    )
    back = service_note("M01", True, "unsupported")
    assert back == (
        "Compartment M01 is back in service. The locker has no such command: the gateway "
        "alone decides."
    )
    # No availability sync behind the action (nothing was sent): the gateway's part only.
    assert service_note("M01", True, None) == "Compartment M01 is back in service."


async def test_an_alarmed_cold_door_shows_on_the_overview_the_locker_page_and_the_live_grid(
    console_site: ConsoleSite,
) -> None:
    site = console_site
    await provision(site.gateway, "gda-cold.yaml")
    reads = ConsoleReads(store=site.gateway.store, clock=site.clock)
    vera, _ = await signed_in(site, "vera")  # a viewer: these are read-only views
    try:
        page = unescape((await vera.get(f"/console/lockers/{COLD}")).text)
        assert '<p class="temp" id="temp-K01">chilled</p>' in page
        assert '<p class="temp" id="temp-F01">frozen</p>' in page
        assert 'id="temp-A01"' not in page  # ambient doors say nothing
        assert 'id="locker-faults"' not in page
        assert "out of its range" not in (await vera.get("/console")).text
        before = (await reads.grid_prints([COLD]))[COLD]

        # The locker reports K01 too warm (the row a TemperatureOutOfRange fault writes).
        at = site.clock()
        async with site.gateway.store.transaction() as tx:
            await tx.lockers.record_temperature(COLD, "K01", celsius=9.5, at=at, alarm=True)
        words = f"Door K01 (chilled) out of its range: 9.5 °C at {at:%H:%M} UTC"

        overview = unescape((await vera.get("/console")).text)
        assert f'<a href="/console/lockers/{COLD}#cell-K01">{COLD}</a>: {words}' in overview
        page = unescape((await vera.get(f"/console/lockers/{COLD}")).text)
        assert f'<li><a href="#cell-K01">{words}</a></li>' in page
        assert 'class="cell state-available alarm" id="cell-K01"' in page
        assert "chilled · <strong>temperature alarm</strong>" in page
        # The live feed compares these prints: a raised alarm redraws open locker pages.
        assert (await reads.grid_prints([COLD]))[COLD] != before

        async with site.gateway.store.transaction() as tx:
            await tx.lockers.record_temperature(COLD, "K01", celsius=4.0, at=at, alarm=False)
        assert "out of its range" not in (await vera.get("/console")).text
        assert (await reads.grid_prints([COLD]))[COLD] == before
    finally:
        await vera.aclose()


async def test_the_locker_page_lists_its_open_courier_sessions(console_site: ConsoleSite) -> None:
    site = console_site
    vera, _ = await signed_in(site, "vera")
    try:
        page = (await vera.get(f"/console/lockers/{LOCKER}")).text
        assert '<p id="rounds">No courier session is open here.</p>' in page

        door = await site.book("ROUND-C1")
        opened = await site.post(
            "/v1/courier-sessions", {"lockerId": LOCKER, "courierRef": "route-7"}, "round-c1"
        )
        assert opened.status_code == 201, opened.text
        sid, code = opened.json()["sessionId"], opened.json()["code"]

        def row(text: str) -> str:
            start = text.index(f'<tr id="round-{sid}">')
            return text[start : text.index("</tr>", start)]

        shown = row((await vera.get(f"/console/lockers/{LOCKER}")).text)
        assert '<th scope="row">acme</th><td>route-7</td>' in shown
        assert shown.endswith("<td>0</td>")  # no door opened yet

        # The courier types the session code: the reserved parcel's door opens.
        site.locker.enter_code(code)
        async with asyncio.timeout(10):
            await site.locker.wait_until(lambda: site.locker.compartment(door).door == "open")
        shown = row((await vera.get(f"/console/lockers/{LOCKER}")).text)
        assert shown.endswith("<td>1</td>")
        assert f'id="round-{sid}"' not in (await vera.get(f"/console/lockers/{OFFLINE}")).text

        closed = await site.post(f"/v1/courier-sessions/{sid}/close", {}, "close-c1")
        assert closed.status_code == 200, closed.text
        page = (await vera.get(f"/console/lockers/{LOCKER}")).text
        assert f'id="round-{sid}"' not in page
        assert "No courier session is open here." in page
    finally:
        await vera.aclose()
