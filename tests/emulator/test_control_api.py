"""The control API through a real aiohttp server on port 0, over a bank on a real broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from locker_emulator import EmulatorBank, Spec, preset_lockers

from tests.emulator.conftest import make_bank
from tests.emulator.fake_gateway import FakeGateway, is_event
from tests.support.mosquitto import Mosquitto

OPEN_A01 = {"compartmentCode": "A01", "purpose": "pickup"}


@pytest.fixture
async def api(
    broker: Mosquitto, spec: Spec, gateway: FakeGateway
) -> AsyncIterator[tuple[EmulatorBank, aiohttp.ClientSession]]:
    async with make_bank(broker, spec, lockers=preset_lockers(2, "small"), control_port=0) as bank:
        async with asyncio.timeout(5):
            await bank.wait_all_booted()
        assert bank.control_url is not None
        assert not bank.control_url.endswith(":0")
        async with aiohttp.ClientSession(base_url=bank.control_url) as http:
            yield bank, http


async def call(
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    content_type: str = "application/json",
) -> tuple[int, Any]:
    kwargs: dict[str, Any] = {"json": body}
    if raw is not None:
        kwargs = {"data": raw, "headers": {"Content-Type": content_type}}
    async with http.request(method, path, **kwargs) as response:
        assert response.content_type == "application/json"
        return response.status, await response.json()


async def test_list_and_show_lockers(api: tuple[EmulatorBank, aiohttp.ClientSession]) -> None:
    _, http = api
    status, body = await call(http, "GET", "/lockers")
    assert status == 200
    assert [one["id"] for one in body["lockers"]] == ["EMU-001", "EMU-002"]
    status, one = await call(http, "GET", "/lockers/EMU-001")
    assert status == 200
    assert one["online"]
    assert one["booted"]
    assert one["display"] is None
    a01 = one["compartments"][0]
    assert a01 == {
        "code": "A01",
        "sizeClass": "S",
        "door": "closed",
        "itemInside": False,
        "itemSensor": "absent",
        "enabled": True,
        "lastPurpose": None,
        "activeFaults": [],
        "faults": {
            "jammed": False,
            "stuck_lock": False,
            "lying_sensor": False,
            "door_left_open": None,
        },
    }


async def test_door_actions_through_the_api(
    api: tuple[EmulatorBank, aiohttp.ClientSession], gateway: FakeGateway
) -> None:
    bank, http = api
    status, body = await call(http, "POST", "/lockers/EMU-001/compartments/A01/deposit")
    assert status == 409
    assert "door is closed" in body["error"]["message"]
    cmd = await gateway.command("EMU-001", "OpenCompartment", OPEN_A01)
    await gateway.reply_to(cmd)
    status, body = await call(http, "POST", "/lockers/EMU-001/compartments/A01/leave-open")
    assert status == 200
    assert body["compartment"]["door"] == "open"
    assert body["compartment"]["lastPurpose"] == "pickup"
    status, body = await call(http, "POST", "/lockers/EMU-001/compartments/A01/close")
    assert status == 200
    assert body["compartment"]["door"] == "closed"
    closed = await gateway.wait_for(is_event("DoorClosed"))
    assert closed.payload == {"compartmentCode": "A01", "itemSensor": "absent"}
    # deposit, then take: each closes the door and reports what the sensor says
    for action, sensor in (("deposit", "present"), ("take", "absent")):
        cmd = await gateway.command("EMU-001", "OpenCompartment", OPEN_A01)
        await gateway.reply_to(cmd)
        status, body = await call(http, "POST", f"/lockers/EMU-001/compartments/A01/{action}")
        assert status == 200
        assert body["compartment"]["itemSensor"] == sensor
    await gateway.wait_for(lambda _: len(gateway.where(is_event("DoorClosed"))) == 3)
    sensors = [s.payload["itemSensor"] for s in gateway.where(is_event("DoorClosed"))]
    assert sensors == ["absent", "present", "absent"]
    assert bank["EMU-002"].compartment("A01").door == "closed"


async def test_keypad_faults_offline_and_log(
    api: tuple[EmulatorBank, aiohttp.ClientSession], gateway: FakeGateway
) -> None:
    bank, http = api
    status, body = await call(http, "POST", "/lockers/EMU-002/keypad", {"code": "98765"})
    assert status == 202
    entered = await gateway.wait_for(is_event("CodeEntered", "EMU-002"))
    assert entered.payload == {"code": "98765"}

    status, body = await call(
        http, "PUT", "/lockers/EMU-002/faults", {"slow_replies": 0.5, "clock_skew": -20}
    )
    assert status == 200
    assert body == {"slow_replies": 0.5, "clock_skew": -20.0}
    status, body = await call(
        http,
        "PUT",
        "/lockers/EMU-002/compartments/A02/faults",
        {"jammed": True, "door_left_open": 5},
    )
    assert status == 200
    assert body["compartment"]["faults"]["jammed"] is True
    assert body["compartment"]["faults"]["door_left_open"] == 5.0

    status, body = await call(http, "POST", "/lockers/EMU-002/offline", {"seconds": 0.3})
    assert status == 202
    async with asyncio.timeout(5):
        await bank["EMU-002"].wait_until(lambda: not bank["EMU-002"].online)
        await bank["EMU-002"].wait_until(lambda: bank["EMU-002"].booted)

    status, body = await call(http, "GET", "/lockers/EMU-002/log?limit=3")
    assert status == 200
    assert len(body["entries"]) == 3
    status, body = await call(http, "GET", "/lockers/EMU-002/log")
    sent = [e for e in body["entries"] if e["direction"] == "sent"]
    assert {"Status", "Boot", "CodeEntered"} <= {e["envelope"]["action"] for e in sent}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "needle"),
    [
        ("GET", "/lockers/NOPE", None, 404, "no locker"),
        ("GET", "/nowhere", None, 404, "/nowhere"),
        ("DELETE", "/lockers", None, 405, "DELETE"),
        ("POST", "/lockers/EMU-001/compartments/Z9/close", None, 404, "no compartment"),
        ("POST", "/lockers/EMU-001/compartments/A01/smash", None, 404, "no door action"),
        ("POST", "/lockers/EMU-001/keypad", {"code": "12"}, 400, "4 to 12 digits"),
        ("POST", "/lockers/EMU-001/keypad", {"code": 1234}, 400, "code is required"),
        ("POST", "/lockers/EMU-001/keypad", [1, 2], 400, "JSON object"),
        ("POST", "/lockers/EMU-001/keypad", {"code": "1234", "compartmentCode": "Q1"}, 404, "Q1"),
        ("PUT", "/lockers/EMU-001/faults", {"melting": True}, 400, "unknown locker fault"),
        ("PUT", "/lockers/EMU-001/faults", {"slow_replies": "lots"}, 400, "number of seconds"),
        ("PUT", "/lockers/EMU-001/faults", {"slow_replies": -1}, 400, "at least 0"),
        (
            "PUT",
            "/lockers/EMU-001/compartments/A01/faults",
            {"jammed": "yes"},
            400,
            "true or false",
        ),
        (
            "PUT",
            "/lockers/EMU-001/compartments/A01/faults",
            {"offline": 1},
            400,
            "unknown compartment",
        ),
        ("POST", "/lockers/EMU-001/offline", {"seconds": "soon"}, 400, "seconds"),
        ("POST", "/lockers/EMU-001/offline", {"minutes": 1}, 400, "unknown member"),
        ("GET", "/lockers/EMU-001/log?limit=-4", None, 400, "limit"),
    ],
)
async def test_bad_requests_get_clear_json_errors(
    api: tuple[EmulatorBank, aiohttp.ClientSession],
    method: str,
    path: str,
    body: Any,
    status: int,
    needle: str,
) -> None:
    bank, http = api
    got, answer = await call(http, method, path, body)
    assert got == status, answer
    assert answer["error"]["status"] == status
    assert needle in answer["error"]["message"]
    assert bank["EMU-001"].online  # still serving


async def test_a_body_that_is_not_json(api: tuple[EmulatorBank, aiohttp.ClientSession]) -> None:
    _, http = api
    status, body = await call(http, "PUT", "/lockers/EMU-001/faults", raw=b"\xff{{{")  # JSON type
    assert status == 400
    assert "JSON object" in body["error"]["message"]
    status, body = await call(http, "PUT", "/lockers/EMU-001/faults", raw=b"x" * 100_000)
    assert status == 413


async def test_a_body_must_be_sent_as_json(
    api: tuple[EmulatorBank, aiohttp.ClientSession], gateway: FakeGateway
) -> None:
    # A cross-site form (enctype=text/plain, or the default urlencoded) reaches the API without
    # a CORS preflight; the body used to be parsed as JSON whatever its Content-Type.
    bank, http = api
    form = b'{"code": "111111", "x": "="}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        status, body = await call(
            http, "POST", "/lockers/EMU-001/keypad", raw=form, content_type=content_type
        )
        assert status == 415, body
        assert body["error"]["code"] == "UnsupportedMediaType"
        assert content_type in body["error"]["message"]
    # Body-less routes too: a form sends its Content-Type even when it carries nothing.
    status, _ = await call(
        http,
        "POST",
        "/lockers/EMU-001/compartments/A01/deposit",
        raw=b"",
        content_type="text/plain",
    )
    assert status == 415
    status, _ = await call(
        http, "POST", "/lockers/EMU-001/offline", raw=b"", content_type="text/plain"
    )
    assert status == 415
    assert bank["EMU-001"].online
    assert not any(c["itemInside"] for c in bank["EMU-001"].snapshot()["compartments"])
    # JSON as application/json is taken; the locker sends in order, so once this code is at
    # the gateway a refused one would have been there before it.
    status, body = await call(http, "POST", "/lockers/EMU-001/keypad", {"code": "123456"})
    assert status == 202, body
    await gateway.wait_for(is_event("CodeEntered", "EMU-001"))
    codes = [seen.payload["code"] for seen in gateway.where(is_event("CodeEntered", "EMU-001"))]
    assert codes == ["123456"]
