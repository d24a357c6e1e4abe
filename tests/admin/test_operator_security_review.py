"""Holes found by the session-7 security review of operator management, each pinned against
the running gateway on both databases (or, for pure functions, directly):

- a lapsed one-time password must not serve as the "current password" of a password change
  (with an API token that predates the reset, it would turn a viewer-scoped token into the
  operator's full role);
- the console's token form must keep the admin API's rule that a token never outlives the
  token that minted it;
- the answer carrying a new API token's secret is `Cache-Control: no-store`;
- a console live stream opened with an API token ends once the token is revoked;
- an IPv4-mapped IPv6 address is counted as its IPv4 address, not in one /64 shared by every
  IPv4 client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.domain.one_time_passwords import ONE_TIME_VALIDITY
from gateway.domain.operators import address_key
from tests.admin.conftest import AdminSite, Desk, problem

OPS = "/v1/admin/operators"
WHY = {"reason": "security review of one-time passwords"}
NEW_PASSWORD = "a passphrase nobody else knows"


async def _token(desk: Desk, **body: Any) -> dict[str, Any]:
    made = await desk.post("/v1/admin/tokens", {"name": "review"} | body)
    assert made.status_code == 201, made.text
    assert made.headers["Cache-Control"] == "no-store"  # the secret is in the answer
    found: dict[str, Any] = made.json()
    return found


async def test_a_lapsed_one_time_password_does_not_set_a_new_one(admin_site: AdminSite) -> None:
    alice = await admin_site.desk("alice")
    # Oscar's monitoring script holds a viewer token; then his password is reset (tokens kept).
    oscar = await admin_site.desk("oscar")
    viewer_token = (await _token(oscar, role="viewer"))["token"]
    reset = await alice.post(f"{OPS}/oscar/password-reset", WHY)
    one_time = reset.json()["oneTimePassword"]
    admin_site.clock.advance(ONE_TIME_VALIDITY.total_seconds() + 1)
    # Days later someone finds the one-time password in a chat log: it signs in no more ...
    problem(await (await admin_site.desk()).login("oscar", one_time), 401, "SecurityError")
    # ... and, with the viewer token, it must not become a password of their choosing either.
    async with admin_site.client() as script:
        changed = await script.post(
            "/v1/admin/session/password",
            json={"currentPassword": one_time, "newPassword": NEW_PASSWORD},
            headers={"Authorization": f"Bearer {viewer_token}"},
        )
    problem(changed, 403, "Forbidden")
    problem(await (await admin_site.desk()).login("oscar", NEW_PASSWORD), 401, "SecurityError")


async def test_the_console_token_form_keeps_a_token_from_outliving_its_minter(
    admin_site: AdminSite,
) -> None:
    oscar = await admin_site.desk("oscar")
    short = await _token(oscar, expiresAt="2030-01-01T00:00:00Z")
    async with admin_site.client() as script:
        minted = await script.post(
            "/console/account/tokens",
            data={"name": "forever", "role": "operator", "days": ""},
            headers={"Authorization": f"Bearer {short['token']}"},
        )
    assert minted.status_code in (200, 403), minted.text
    listed = (await oscar.get("/v1/admin/tokens")).json()["items"]
    forever = [t for t in listed if t["name"] == "forever"]
    # Either refused, or capped at the minting token's expiry (as POST /v1/admin/tokens does).
    assert all(t["expiresAt"] is not None for t in forever), forever
    assert all(t["expiresAt"] <= short["expiresAt"] for t in forever), forever


@pytest.mark.parametrize(
    ("client", "key"),
    [
        ("::ffff:203.0.113.7", "address:203.0.113.7"),
        ("::ffff:198.51.100.1", "address:198.51.100.1"),
    ],
)
def test_an_ipv4_mapped_client_is_counted_as_its_ipv4_address(client: str, key: str) -> None:
    assert address_key(client) == key


async def test_a_live_stream_opened_with_a_token_ends_when_the_operator_is_disabled(
    admin_site: AdminSite,
) -> None:
    """Disabling revokes the tokens "at once": a console live stream a token opened must end
    at its next change too, as a session's does (it used to run on until the connection
    closed, showing the grid to a disabled operator's script)."""
    alice = await admin_site.desk("alice")
    oscar = await admin_site.desk("oscar")
    token = (await _token(oscar, role="viewer"))["token"]
    locker = "WAW-CENTRAL-01"
    async with admin_site.client() as script:
        path = f"/console/lockers/{locker}/events"
        headers = {"Authorization": f"Bearer {token}"}
        async with script.stream("GET", path, headers=headers) as stream:
            assert stream.status_code == 200
            events = _events(stream.aiter_lines())
            async with asyncio.timeout(20):
                assert await anext(events) == "grid"
                off = await alice.post(f"{OPS}/oscar/disable", {"reason": "left the company"})
                assert off.status_code == 200, off.text
                changed = await alice.post(
                    f"/v1/admin/lockers/{locker}/compartments/A02/out-of-service",
                    {"reason": "door hinge broken"},
                )
                assert changed.status_code == 200, changed.text
                assert await anext(events) == "signed-out"


async def _events(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    async for line in lines:
        if line.startswith("event: "):
            yield line.removeprefix("event: ")
