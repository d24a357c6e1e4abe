"""Cross-site forms cannot drive the kiosk: found by the session-5 security review."""

from __future__ import annotations

import aiohttp
import pytest
from locker_emulator import EmulatorBank

from tests.emulator.test_kiosk_page import kiosk  # noqa: F401 - the fixture

JAM = {"name": "jammed", "on": "1"}


@pytest.mark.parametrize(
    "headers",
    [
        # A form in a sandboxed iframe (or after a cross-site redirect) sends `Origin: null`.
        {"Origin": "null"},
        # No Origin at all, but the browser says the request came from another site.
        {"Sec-Fetch-Site": "cross-site"},
    ],
    ids=["null-origin", "fetch-metadata"],
)
async def test_a_cross_site_form_is_refused(
    kiosk: tuple[EmulatorBank, aiohttp.ClientSession],  # noqa: F811
    headers: dict[str, str],
) -> None:
    bank, http = kiosk
    async with http.post("/kiosk/EMU-001/doors/A01/faults", data=JAM, headers=headers) as answer:
        assert answer.status == 403
    assert not bank["EMU-001"].compartment("A01").faults.jammed


async def test_the_pages_own_forms_still_work(
    kiosk: tuple[EmulatorBank, aiohttp.ClientSession],  # noqa: F811
) -> None:
    bank, http = kiosk
    own = {"Origin": str(http._base_url).rstrip("/"), "Sec-Fetch-Site": "same-origin"}
    async with http.post(
        "/kiosk/EMU-001/doors/A01/faults", data=JAM, headers=own | {"Accept": "application/json"}
    ) as answer:
        assert answer.status == 200, await answer.text()
    assert bank["EMU-001"].compartment("A01").faults.jammed


async def test_an_unreadable_form_is_a_400_not_a_500(
    kiosk: tuple[EmulatorBank, aiohttp.ClientSession],  # noqa: F811
) -> None:
    _, http = kiosk
    for content_type, body in (
        ("multipart/form-data", b"no boundary"),
        ("application/x-www-form-urlencoded; charset=no-such-charset", b"code=1234"),
    ):
        headers = {"Content-Type": content_type}
        async with http.post("/kiosk/EMU-001/keypad", data=body, headers=headers) as answer:
            assert answer.status == 400, content_type
