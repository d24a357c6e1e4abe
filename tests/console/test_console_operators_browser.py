"""Operator management in two real Chromiums (the admin's and the new operator's) against a
real gateway on PostgreSQL: the admin adds an operator, who signs in with the one-time
password and must choose their own; then the admin disables them and their session ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from gateway.domain.audit import AuditAction
from tests.browser.test_kiosk import UNNAMED
from tests.console.conftest import ConsoleSite, sign_in
from tests.support.browser import DESKTOP, Browser, artefact_name, start_chromium

NINA_PASSWORD = "nina's own long passphrase"


@pytest.fixture
async def second_browser(request: pytest.FixtureRequest) -> AsyncIterator[Browser]:
    """Another person's browser: its own Chromium, so its own cookies."""
    driver = await asyncio.to_thread(start_chromium)
    page = Browser(
        driver=driver, viewport=DESKTOP, name=artefact_name(request.node.nodeid) + "-second"
    )
    try:
        await asyncio.to_thread(page.reset)
        yield page
    finally:
        await asyncio.to_thread(driver.quit)


async def test_an_admin_adds_an_operator_who_sets_a_password_and_is_then_disabled(
    browser: Browser, second_browser: Browser, console_site: ConsoleSite
) -> None:
    site, nina = console_site, second_browser
    await sign_in(browser, site, "alice")
    await browser.click("#nav-operators")
    await browser.wait_text("h1", "Operators")
    assert await browser.script(UNNAMED) == []
    await browser.type("#add-id", "nina")
    await browser.type("#add-name", "Nina Nowak")
    await browser.click("#add-role option[value=operator]")
    await browser.type("#add-reason", "new starter, night shift")
    await browser.click("#add-submit")
    await browser.wait_text("#confirm-what", "Add nina (Nina Nowak) as operator")
    await browser.click("#confirm-submit")
    await browser.wait_text("#done", "nina added as operator.")
    one_time = await browser.attribute("#secret", "value")
    assert one_time is not None
    assert len(one_time) == 23
    assert await browser.script(UNNAMED) == []

    # Nina, at her own computer: the one-time password leads to choosing her own.
    await nina.open(f"{site.url}/login")
    await nina.type("#operator_id", "nina")
    await nina.type("#password", one_time)
    await nina.click("#sign-in")
    await nina.wait_text("#password-due", "You signed in with a one-time password")
    assert (await nina.script("return location.pathname")) == "/console/account/password"
    assert await nina.script(UNNAMED) == []
    await nina.click("a[href='/console/parcels']")
    await nina.wait_text("#password-due", "one-time password")  # nowhere else to go
    await nina.type("#current_password", one_time)
    await nina.type("#new_password", NINA_PASSWORD)
    await nina.type("#repeat_password", NINA_PASSWORD)
    await nina.click("#password-submit")
    await nina.wait_text("#note", "Your password is changed")
    await nina.wait_text("#whoami", "Nina Nowak (operator)")
    assert await nina.text("#nav-operators") == "<no such element>"  # not an admin

    # The admin's list shows her signed up.
    await browser.click("#secret-back")
    await browser.wait_text("#fact-state", "active")
    await browser.click("#nav-operators")
    await browser.wait_attribute("#op-nina", "data-active", "yes")
    await browser.wait_text("#op-nina", "active")

    # The admin disables her, with a reason and a confirmation.
    await browser.click("#op-nina a")
    await browser.type("#state-reason", "left the company")
    await browser.click("#state-submit")
    await browser.wait_text("#confirm-warning", "Their sessions end")
    await browser.click("#confirm-submit")
    await browser.wait_text("#note", "nina is disabled: signed out, tokens revoked.")
    await browser.wait_text("#fact-state", "disabled since")
    await browser.screenshot("operator-disabled")
    await browser.click("a[href='/console/operators']")
    await browser.wait_attribute("#op-nina", "data-active", "no")
    await browser.screenshot("operators")  # docs/images/console-operators.png

    # Her session ended at once: her next click lands on the sign-in page.
    await nina.click("a[href='/console/parcels']")
    await nina.wait_text("#note", "Your session has ended")
    await nina.type("#operator_id", "nina")
    await nina.type("#password", NINA_PASSWORD)
    await nina.click("#sign-in")
    await nina.wait_text("#login-error", "Not signed in")

    async with site.gateway.store.transaction() as tx:
        created = await tx.audit.latest(5, action=AuditAction.OPERATOR_CREATED.value)
        reset = await tx.audit.latest(5, action=AuditAction.OPERATOR_RESET.value)
        disabled = await tx.audit.latest(5, action=AuditAction.OPERATOR_DISABLED.value)
    assert [(e.actor, e.subject, e.details["reason"]) for e in created] == [
        ("operator:alice", "nina", "new starter, night shift")
    ]
    assert [(e.actor, e.details["password"]) for e in reset] == [("operator:nina", "own")]
    assert [(e.actor, e.details["reason"], e.details["sessionsEnded"]) for e in disabled] == [
        ("operator:alice", "left the company", 1)
    ]
