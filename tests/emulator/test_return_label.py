"""The emulator's keypad reports a scanned parcel label with a code (a return's drop-off),
valid against olp-code-entered.json, from the control API and the kiosk page; a malformed
label is refused."""

from __future__ import annotations

import aiohttp
from locker_emulator import EmulatorBank

from tests.emulator.fake_gateway import FakeGateway, is_event
from tests.emulator.test_control_api import api, call
from tests.emulator.test_kiosk_page import kiosk, post

__all__ = ["api", "kiosk"]


async def test_a_scanned_label_goes_out_with_the_code(
    api: tuple[EmulatorBank, aiohttp.ClientSession], gateway: FakeGateway
) -> None:
    _, http = api
    body = {"code": "48213907", "label": "RA123456785GB"}
    status, _ = await call(http, "POST", "/lockers/EMU-002/keypad", body)
    assert status == 202
    entered = await gateway.wait_for(is_event("CodeEntered", "EMU-002"))
    assert entered.payload == body


async def test_a_malformed_label_is_refused(
    api: tuple[EmulatorBank, aiohttp.ClientSession], gateway: FakeGateway
) -> None:
    _, http = api
    for label, detail in ((" RA1", "parcel label"), ("x" * 65, "parcel label"), (7, "string")):
        status, body = await call(
            http, "POST", "/lockers/EMU-001/keypad", {"code": "1234", "label": label}
        )
        assert status == 400, body
        assert detail in body["error"]["message"]


async def test_the_kiosk_keypad_sends_a_typed_label_with_the_code(
    kiosk: tuple[EmulatorBank, aiohttp.ClientSession], gateway: FakeGateway
) -> None:
    _, http = kiosk
    async with http.get("/kiosk/EMU-001") as response:
        assert 'id="keypad-label"' in await response.text()
    form = {"code": "48291375", "label": " ACME-RET-77 "}
    status, body = await post(http, "/kiosk/EMU-001/keypad", form)
    assert status == 200, body
    assert "label ACME-RET-77" in body["message"]
    entered = await gateway.wait_for(is_event("CodeEntered", "EMU-001"))
    assert entered.payload == {"code": "48291375", "label": "ACME-RET-77"}

    status, body = await post(http, "/kiosk/EMU-001/keypad", {"code": "48291375", "label": "-x"})
    assert status == 400
    assert "parcel label" in body["message"]
    # An empty label field is nothing scanned: the code goes alone.
    status, body = await post(http, "/kiosk/EMU-002/keypad", {"code": "48291376", "label": ""})
    assert status == 200, body
    alone = await gateway.wait_for(is_event("CodeEntered", "EMU-002"))
    assert alone.payload == {"code": "48291376"}
