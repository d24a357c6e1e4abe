"""The console over plain HTTP against the running gateway: sign-in, CSRF, roles, headers,
and an open live stream that must not hold the gateway's shutdown up."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx

from gateway.app import Gateway
from tests.admin.conftest import PASSWORD
from tests.console.conftest import ConsoleSite
from tests.http.conftest import provision, settings_for

LOCKER = "WAW-CENTRAL-01"
PAGES = (
    "/console",
    f"/console/lockers/{LOCKER}",
    f"/console/lockers/{LOCKER}/grid",
    "/console/parcels",
    "/console/manifest",
    "/console/reports",
    "/console/deliveries",
    "/console/audit",
    "/console/audit?before=1",
)


async def signed_in(site: ConsoleSite, operator_id: str) -> tuple[httpx.AsyncClient, str]:
    """A browser-like client with a session cookie, and the session's CSRF token."""
    client = httpx.AsyncClient(base_url=site.gateway.base_url, timeout=30)
    form = {"operator_id": operator_id, "password": PASSWORD, "next": "/console"}
    answer = await client.post("/console/login", data=form)
    assert answer.status_code == 303, answer.text
    page = await client.get(f"/console/lockers/{LOCKER}")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return client, found.group(1)


async def compartment_state(site: ConsoleSite, code: str) -> str:
    async with site.gateway.store.transaction() as tx:
        found = await tx.lockers.compartment(LOCKER, code)
    assert found is not None
    return found.state.value


async def test_pages_need_a_session_and_carry_security_headers(console_site: ConsoleSite) -> None:
    async with httpx.AsyncClient(base_url=console_site.gateway.base_url) as client:
        answer = await client.get("/console/deliveries")
        assert answer.status_code == 303
        assert answer.headers["Location"] == "/console/login?next=/console/deliveries"
        login = await client.get("/console/login")
        assert login.status_code == 200
        csp = login.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert login.headers["X-Frame-Options"] == "DENY"
        assert login.headers["Cache-Control"] == "no-store"
        assert "<script>" not in login.text  # no inline script: CSP would block it

        wrong = {"operator_id": "oscar", "password": "not the password at all"}
        refused = await client.post("/console/login", data=wrong)
        assert refused.status_code == 401
        assert "wrong operator id or password" in refused.text
        assert "olp_session" not in refused.headers.get("Set-Cookie", "")
        # MAX_FAILURES in a row lock the account (and the address): the page says until when.
        locked = await client.post("/console/login", data=wrong)
        assert locked.status_code == 429
        assert "Too many failed sign-ins" in locked.text
        assert 'value="oscar"' in locked.text  # the id typed stays in its field


async def test_console_posts_need_the_csrf_token_and_the_operator_role(
    console_site: ConsoleSite,
) -> None:
    site = console_site
    oscar, csrf = await signed_in(site, "oscar")
    vera, vera_csrf = await signed_in(site, "vera")
    action = {"code": "A02", "action": "out_of_service", "reason": "door hinge loose"}
    path = f"/console/lockers/{LOCKER}/actions"
    try:
        # A session cookie alone is not enough: a cross-site form would carry it too.
        missing = await oscar.post(path, data=action)
        assert missing.status_code == 403, missing.text
        assert "CSRF" in missing.text
        wrong = await oscar.post(path, data=action | {"csrf_token": vera_csrf})
        assert wrong.status_code == 403
        assert await compartment_state(site, "A02") == "available"

        # A viewer sees no action form, and a post with its own valid token is refused.
        page = await vera.get(f"/console/lockers/{LOCKER}")
        assert 'id="action-form"' not in page.text
        assert "Choose A02" not in page.text
        viewer = await vera.post(path, data=action | {"csrf_token": vera_csrf})
        assert viewer.status_code == 403
        assert "operator role" in viewer.text
        assert await compartment_state(site, "A02") == "available"

        # Another site's page posting with the operator's token: refused by Origin.
        foreign = await oscar.post(
            path, data=action | {"csrf_token": csrf}, headers={"Origin": "https://evil.example"}
        )
        assert foreign.status_code == 403
        assert await compartment_state(site, "A02") == "available"

        done = await oscar.post(path, data=action | {"csrf_token": csrf})
        assert done.status_code == 303
        assert done.headers["Location"] == f"/console/lockers/{LOCKER}"
        assert await compartment_state(site, "A02") == "out_of_service"
        note = await oscar.get(done.headers["Location"])
        assert "Compartment A02 is out of service." in note.text
        # A refused action says why, on a page with the error's status.
        twice = await oscar.post(path, data=action | {"csrf_token": csrf})
        assert twice.status_code == 409
        assert "compartment A02 is out of service already" in twice.text
        no_reason = await oscar.post(path, data=action | {"csrf_token": csrf, "reason": ""})
        assert no_reason.status_code == 422
        assert "the reason goes into the audit trail" in no_reason.text

        # Signing out needs the token too, then the session is gone.
        assert (await oscar.post("/console/logout")).status_code == 403
        out = await oscar.post("/console/logout", data={"csrf_token": csrf})
        assert out.status_code == 303
        again = await oscar.get("/console")
        assert again.status_code == 303
        assert again.headers["Location"].startswith("/console/login")
    finally:
        await oscar.aclose()
        await vera.aclose()


async def test_pages_on_sqlite_and_an_open_stream_does_not_hold_the_shutdown_up(
    tmp_path: Path,
) -> None:
    """aiohttp waits up to 60 s for open responses at shutdown; the console ends its
    streams at once instead."""
    from gateway.auth.operator_secrets import hash_password
    from gateway.domain.operators import Operator, Role

    url = f"sqlite+aiosqlite:///{tmp_path / 'console.db'}"
    gateway = Gateway(settings=settings_for(url))
    await gateway.__aenter__()
    try:
        await provision(gateway, "waw-central.yaml")
        async with gateway.store.transaction() as tx:
            operator = Operator("vera", "Vera", Role.VIEWER, gateway.clock())
            await tx.operators.add(operator, hash_password(PASSWORD))
        client = httpx.AsyncClient(base_url=gateway.base_url, timeout=30)
        form = {"operator_id": "vera", "password": PASSWORD}
        assert (await client.post("/console/login", data=form)).status_code == 303
        # Every page's queries on SQLite too (the browser tests run on PostgreSQL).
        for page in PAGES:
            answer = await client.get(page)
            assert answer.status_code == 200, (page, answer.text)
        async with client.stream("GET", f"/console/lockers/{LOCKER}/events") as stream:
            assert stream.headers["Content-Type"] == "text/event-stream"
            lines = stream.aiter_lines()
            async with asyncio.timeout(10):
                async for line in lines:
                    if line == "event: grid":
                        break
            started = time.monotonic()
            await gateway.__aexit__(None, None, None)
            stopped = time.monotonic() - started
    finally:
        await client.aclose()
    assert stopped < 5, f"the gateway took {stopped:.1f} s to stop with a stream open"


async def test_a_change_made_through_another_instance_reaches_the_live_stream(
    console_site: ConsoleSite,
) -> None:
    """Two gateway instances on one PostgreSQL: a page served by the first sees an action
    taken through the second (the feed reads committed state, not in-process events)."""
    site = console_site
    url = site.gateway.settings.store.database_url
    other = Gateway(settings=settings_for(url, instance="gw-2"), clock=site.clock)
    async with other:
        second = ConsoleSite(other, site.bank, site.client, site.carrier, site.clock, site.receiver)
        vera, _ = await signed_in(site, "vera")
        oscar, csrf = await signed_in(second, "oscar")
        try:
            path = f"/console/lockers/{LOCKER}/events"
            async with vera.stream("GET", path) as stream:
                grids = _grids(stream.aiter_lines())
                async with asyncio.timeout(10):
                    first = await anext(grids)
                    assert 'id="cell-X01" data-state="available"' in first
                    action = {"code": "X01", "action": "out_of_service", "reason": "glass cracked"}
                    done = await oscar.post(
                        f"/console/lockers/{LOCKER}/actions", data=action | {"csrf_token": csrf}
                    )
                    assert done.status_code == 303, done.text
                    changed = await anext(grids)
                assert 'id="cell-X01" data-state="out_of_service"' in changed
        finally:
            await vera.aclose()
            await oscar.aclose()


async def _grids(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """The grid HTML of each `grid` event of a stream."""
    event = None
    async for line in lines:
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: ") and event == "grid":
            yield str(json.loads(line.removeprefix("data: "))["html"])


async def test_an_operator_unlocks_a_locked_keypad_from_the_overview(
    console_site: ConsoleSite,
) -> None:
    site = console_site
    now = site.clock()
    async with site.gateway.store.transaction() as tx:
        counter = await tx.keypads.claim(LOCKER)
        locked = replace(counter, lockouts=1, locked_until=now + timedelta(minutes=15))
        await tx.keypads.save(locked)
    oscar, csrf = await signed_in(site, "oscar")
    vera, vera_csrf = await signed_in(site, "vera")
    path = f"/console/keypads/{LOCKER}/clear"
    try:
        seen = await vera.get("/console")
        assert f'id="lockout-{LOCKER}"' in seen.text
        assert f'id="clear-{LOCKER}"' not in seen.text  # a viewer gets no button
        refused = await vera.post(path, data={"reason": "on the phone", "csrf_token": vera_csrf})
        assert refused.status_code == 403

        page = await oscar.get("/console")
        assert f"{LOCKER}</a>: Keypad locked until" in page.text
        done = await oscar.post(path, data={"reason": "owner identified", "csrf_token": csrf})
        assert done.status_code == 303
        after = await oscar.get(done.headers["Location"])
        assert f"The keypad of {LOCKER} takes codes again." in after.text
        assert f'id="lockout-{LOCKER}"' not in after.text
        async with site.gateway.store.transaction() as tx:
            assert not (await tx.keypads.claim(LOCKER)).locked(site.clock())
            (entry,) = await tx.audit.latest(1, action="keypad.cleared")
        assert (entry.actor, entry.details["reason"]) == ("operator:oscar", "owner identified")
    finally:
        await oscar.aclose()
        await vera.aclose()
