"""The console's sign-in form refuses cross-site posts, `Origin: null` included (found by the
session-5 security review): a sandboxed iframe's form sends that, and the sign-in form has no
CSRF token yet, so Origin is its only cross-site defence (login CSRF otherwise)."""

from __future__ import annotations

import httpx

from tests.admin.conftest import PASSWORD
from tests.console.conftest import ConsoleSite


async def test_a_sign_in_posted_from_a_sandboxed_frame_is_refused(
    console_site: ConsoleSite,
) -> None:
    form = {"operator_id": "oscar", "password": PASSWORD, "next": "/console"}
    async with httpx.AsyncClient(base_url=console_site.gateway.base_url) as client:
        for headers in ({"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}):
            answer = await client.post("/console/login", data=form, headers=headers)
            assert answer.status_code == 403, headers
            assert "olp_session" not in answer.headers.get("Set-Cookie", "")
        own = {"Origin": console_site.gateway.base_url, "Sec-Fetch-Site": "same-origin"}
        assert (await client.post("/console/login", data=form, headers=own)).status_code == 303


async def test_an_unreadable_sign_in_form_is_a_400_not_a_500(console_site: ConsoleSite) -> None:
    """The sign-in form has no session, so no CSRF check reads (and vets) its body first: a
    body that does not parse as its content type used to escape as a 500."""
    own = {"Origin": console_site.gateway.base_url}
    async with httpx.AsyncClient(base_url=console_site.gateway.base_url) as client:
        for content_type, body in (
            ("multipart/form-data", b"no boundary"),
            ("application/x-www-form-urlencoded; charset=no-such-charset", b"a=b"),
            ("application/x-www-form-urlencoded", b"operator_id=\xff\xfe"),
        ):
            answer = await client.post(
                "/console/login", content=body, headers=own | {"Content-Type": content_type}
            )
            assert answer.status_code == 400, (content_type, answer.text[:200])
            assert "cannot be read" in answer.text
