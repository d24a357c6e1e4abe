"""The kiosk page's server side over a real bank and broker: pages, actions, the event stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from locker_emulator import ControlApi, EmulatorBank, Spec, preset_lockers

from tests.emulator.conftest import make_bank
from tests.emulator.fake_gateway import FakeGateway, is_event
from tests.support.mosquitto import Mosquitto

OPEN_A01 = {"compartmentCode": "A01", "purpose": "deposit"}
JSON = {"Accept": "application/json"}


@pytest.fixture
async def kiosk(
    broker: Mosquitto, spec: Spec, gateway: FakeGateway
) -> AsyncIterator[tuple[EmulatorBank, aiohttp.ClientSession]]:
    async with make_bank(broker, spec, lockers=preset_lockers(2, "small"), control_port=0) as bank:
        async with asyncio.timeout(5):
            await bank.wait_all_booted()
        assert bank.control_url is not None
        async with aiohttp.ClientSession(base_url=bank.control_url) as http:
            yield bank, http


async def post(
    http: aiohttp.ClientSession, path: str, form: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    async with http.post(path, data=form or {}, headers=JSON) as response:
        return response.status, await response.json()


async def next_event(stream: aiohttp.ClientResponse) -> dict[str, str]:
    """The regions of the next `locker` event (keep-alive comments skipped)."""
    data = ""
    async with asyncio.timeout(5):
        while True:
            line = (await stream.content.readline()).decode().rstrip("\n")
            if line.startswith("data: "):
                data = line[len("data: ") :]
            elif line == "" and data:
                regions: dict[str, str] = json.loads(data)["regions"]
                return regions


async def until(stream: aiohttp.ClientResponse, text: str) -> dict[str, str]:
    """The regions of the first event whose doors show `text` (other changes come between)."""
    regions = await next_event(stream)
    while text not in regions["doors"]:
        regions = await next_event(stream)
    return regions


async def test_pages_list_the_lockers_and_show_one(
    kiosk: tuple[EmulatorBank, aiohttp.ClientSession],
) -> None:
    _, http = kiosk
    async with http.get("/kiosk") as response:
        assert response.status == 200
        index = await response.text()
    assert 'href="/kiosk/EMU-001"' in index
    assert 'href="/kiosk/EMU-002"' in index
    async with http.get("/kiosk/EMU-001") as response:
        assert response.content_type == "text/html"
        page = await response.text()
    assert '<label for="keypad-code">Code</label>' in page
    assert 'id="door-A01"' in page
    assert 'data-door="closed"' in page
    assert 'id="scan-token"' in page
    # The versioned script and style sheet are served.
    for asset in ("kiosk.js", "kiosk.css"):
        start = page.index(f"/kiosk/static/{asset}")
        url = page[start : page.index('"', start)]
        async with http.get(url) as response:
            assert response.status == 200, url
    async with http.get("/kiosk/NOPE-1") as response:
        assert response.status == 404


async def test_a_delivery_through_the_kiosk_forms_and_the_event_stream(
    kiosk: tuple[EmulatorBank, aiohttp.ClientSession], gateway: FakeGateway
) -> None:
    bank, http = kiosk
    async with http.get("/kiosk/EMU-001/events") as stream:
        assert stream.content_type == "text/event-stream"
        first = await next_event(stream)
        assert 'id="door-A01"' in first["doors"]
        assert 'data-door="open"' not in first["doors"]

        status, body = await post(http, "/kiosk/EMU-001/keypad", {"code": "48291375"})
        assert status == 200, body
        entered = await gateway.wait_for(is_event("CodeEntered"))
        assert entered.payload == {"code": "48291375"}

        status, body = await post(http, "/kiosk/EMU-001/doors/A01/put-in")
        assert status == 409
        assert "door must be open" in body["message"]

        await gateway.reply_to(await gateway.command("EMU-001", "OpenCompartment", OPEN_A01))
        opened = await until(stream, 'data-door="open"')
        assert 'id="put-in-A01"' in opened["doors"]

        assert (await post(http, "/kiosk/EMU-001/doors/A01/put-in"))[0] == 200
        await until(stream, "Parcel placed: close the door to finish")
        assert bank["EMU-001"].compartment("A01").door == "open"  # nothing reported yet
        status, body = await post(http, "/kiosk/EMU-001/doors/A01/close")
        assert (status, body["message"]) == (200, "Door A01 closed with the parcel inside")
    closed = await gateway.wait_for(is_event("DoorClosed"))
    assert closed.payload == {"compartmentCode": "A01", "itemSensor": "present"}


async def test_fault_buttons_reach_the_locker(
    kiosk: tuple[EmulatorBank, aiohttp.ClientSession],
) -> None:
    bank, http = kiosk
    status, _ = await post(http, "/kiosk/EMU-001/doors/A02/faults", {"name": "jammed", "on": "1"})
    assert status == 200
    assert bank["EMU-001"].compartment("A02").faults.jammed
    await post(http, "/kiosk/EMU-001/doors/A02/faults", {"name": "door_left_open", "on": "1"})
    assert bank["EMU-001"].compartment("A02").faults.door_left_open == 30.0
    status, body = await post(http, "/kiosk/EMU-001/doors/A02/faults", {"name": "explode"})
    assert status == 400, body
    status, _ = await post(http, "/kiosk/EMU-001/faults", {"slow_replies": "1.5"})
    assert status == 200
    assert bank["EMU-001"].faults.slow_replies == 1.5
    status, body = await post(http, "/kiosk/EMU-001/faults", {"clock_skew": "soon"})
    assert status == 400, body
    status, _ = await post(http, "/kiosk/EMU-002/outage", {"kind": "power_loss", "seconds": "30"})
    assert status == 200
    assert not bank["EMU-002"].booted
    dark = bank["EMU-002"]
    await asyncio.wait_for(dark.wait_until(lambda: dark.model.offline_until is not None), 5)
    async with http.get("/kiosk/EMU-002") as response:
        assert "Offline (outage)" in await response.text()


async def test_plain_forms_redirect_back_and_other_sites_are_refused(
    kiosk: tuple[EmulatorBank, aiohttp.ClientSession],
) -> None:
    bank, http = kiosk
    async with http.post(
        "/kiosk/EMU-001/keypad", data={"code": "12"}, allow_redirects=False
    ) as response:
        assert response.status == 303
        assert response.headers["Location"].startswith("/kiosk/EMU-001?note=Not%20sent")
    async with http.post(
        "/kiosk/EMU-001/doors/A01/faults",
        data={"name": "jammed", "on": "1"},
        headers={"Origin": "http://evil.example"},
    ) as response:
        assert response.status == 403
    assert not bank["EMU-001"].compartment("A01").faults.jammed
    for path in ("/kiosk/EMU-001/doors/Z99/close", "/kiosk/EMU-001/doors/Z99/faults"):
        async with http.post(path, data={"name": "jammed", "on": "1"}, headers=JSON) as response:
            assert response.status == 404, path


async def test_an_open_event_stream_does_not_hold_up_shutdown(
    broker: Mosquitto, spec: Spec, gateway: FakeGateway
) -> None:
    async with make_bank(broker, spec) as bank:
        await asyncio.wait_for(bank.wait_all_booted(), 5)
        api = ControlApi(lockers=bank.lockers, port=0)
        await api.start()
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{api.url}/kiosk/EMU-001/events") as stream,
        ):
            await next_event(stream)
            async with asyncio.timeout(3):  # aiohttp would wait up to 60 s for the handler
                await api.stop()
