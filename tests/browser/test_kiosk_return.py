"""A return without a label dropped off through the kiosk page in a real Chromium: the sender
types the drop-off code, the scanner's label goes in the label field, the parcel goes in, and
the carrier's parcel is named by the label."""

from __future__ import annotations

from tests.browser.test_kiosk import open_kiosk, site
from tests.e2e.conftest import LOCKER, Site
from tests.support.browser import Browser

__all__ = ["site"]


async def test_a_return_is_dropped_off_and_labelled_at_the_kiosk(
    browser: Browser, site: Site
) -> None:
    await open_kiosk(browser, site)
    announced = await site.post(
        "/v1/returns", {"lockerId": LOCKER, "reference": "RMA-KIOSK-1", "sizeClass": "S"}
    )
    assert announced.status_code == 201, announced.text
    ret = announced.json()
    door = ret["compartmentCode"]
    card = f"#door-{door}"

    await browser.type("#keypad-label", "ACME-RET-KIOSK-1")
    await browser.type("#keypad-code", ret["code"])
    await browser.click("#key-enter")
    await browser.wait_attribute(card, "data-door", "open")
    await browser.wait_text("#feedback", "label ACME-RET-KIOSK-1")
    assert await browser.script("return document.getElementById('keypad-label').value") == ""
    await browser.click(f"#put-in-{door}")
    await browser.click(f"#close-{door}")
    await browser.wait_attribute(card, "data-inside", "yes")
    await site.wait_state("ACME-RET-KIOSK-1", "dropped_off")
    read = (await site.get(f"/v1/returns/{ret['returnId']}")).json()
    assert (read["state"], read["labelSource"]) == ("dropped_off", "locker")
