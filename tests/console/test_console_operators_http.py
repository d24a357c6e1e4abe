"""The console's operator pages over plain HTTP against the running gateway, on both
databases: admins only, CSRF on every form, a confirmation before each change, the one-time
password shown once, a password change forced after it, the last admin kept, own tokens."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.domain.audit import AuditAction
from tests.admin.conftest import PASSWORD, AdminSite
from tests.admin.conftest import admin_site as admin_site_fixture  # noqa: F401 - the fixture

NEW_PASSWORD = "a passphrase of my own"


class Browser:
    """A browser-like client with a cookie jar, signed in to the console."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.csrf = ""

    async def sign_in(self, operator_id: str, password: str = PASSWORD) -> httpx.Response:
        form = {"operator_id": operator_id, "password": password, "next": "/console"}
        answer = await self.client.post("/console/login", data=form)
        assert answer.status_code == 303, answer.text
        return answer

    async def page(self, path: str) -> httpx.Response:
        answer = await self.client.get(path)
        found = re.search(r'name="csrf_token" value="([^"]+)"', answer.text)
        if found:
            self.csrf = found.group(1)
        return answer

    async def post(self, path: str, form: dict[str, str], *, csrf: bool = True) -> httpx.Response:
        data = form | ({"csrf_token": self.csrf} if csrf else {})
        return await self.client.post(path, data=data)


class Browsers:
    """Makes browsers for one test (closed after it)."""

    def __init__(self, site: AdminSite) -> None:
        self.site = site
        self.clients: list[httpx.AsyncClient] = []

    def new(self) -> Browser:
        client = httpx.AsyncClient(base_url=self.site.gateway.base_url, timeout=30)
        self.clients.append(client)
        return Browser(client)

    async def signed_in(self, operator_id: str, path: str = "/console") -> Browser:
        browser = self.new()
        await browser.sign_in(operator_id)
        assert (await browser.page(path)).status_code == 200
        return browser


@pytest.fixture
async def browsers(admin_site_fixture: AdminSite) -> AsyncIterator[Browsers]:  # noqa: F811
    """Browsers on a gateway with operators of every role (tests/admin/conftest.py)."""
    made = Browsers(admin_site_fixture)
    yield made
    for client in made.clients:
        await client.aclose()


async def active(site: AdminSite, operator_id: str) -> bool:
    async with site.gateway.store.transaction() as tx:
        found = await tx.operators.get(operator_id)
    assert found is not None
    return found.operator.active


async def test_only_admins_see_and_use_the_operator_pages(
    browsers: Browsers,
) -> None:
    admin_site = browsers.site
    alice = await browsers.signed_in("alice")
    assert 'id="nav-operators"' in (await alice.page("/console")).text
    assert 'id="nav-account"' in (await alice.page("/console")).text
    for who in ("oscar", "vera"):
        other = await browsers.signed_in(who)
        home = await other.page("/console")
        assert 'id="nav-operators"' not in home.text
        assert 'id="nav-account"' in home.text
        assert (await other.page("/console/operators")).status_code == 403
        assert (await other.page("/console/operators/vera")).status_code == 403
        refused = await other.post("/console/operators/vera/disable", {"reason": "not mine"})
        assert refused.status_code == 403
        add = {"id": "eve", "role": "admin", "reason": "sneaky", "confirm": "yes"}
        assert (await other.post("/console/operators", add)).status_code == 403
    assert await active(admin_site, "vera")
    # Signed out: the sign-in page, not the operators.
    async with httpx.AsyncClient(base_url=admin_site.gateway.base_url) as anonymous:
        answer = await anonymous.get("/console/operators")
        assert answer.status_code == 303
        assert answer.headers["Location"].startswith("/console/login?next=/console/operators")


async def test_a_change_needs_the_csrf_token_and_a_confirmation(
    browsers: Browsers,
) -> None:
    admin_site = browsers.site
    alice = await browsers.signed_in("alice", "/console/operators/vera")
    vera = await browsers.signed_in("vera")
    form = {"reason": "left the team", "confirm": "yes"}
    forged = await alice.post("/console/operators/vera/disable", form, csrf=False)
    assert forged.status_code == 403
    assert "CSRF" in forged.text
    # Another site's form is refused by Origin too.
    cross = await alice.client.post(
        "/console/operators/vera/disable",
        data=form | {"csrf_token": alice.csrf},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    # The first post only asks.
    asked = await alice.post("/console/operators/vera/disable", {"reason": "left the team"})
    assert asked.status_code == 200
    assert 'id="confirm-submit"' in asked.text
    assert "Disable vera" in asked.text
    assert await active(admin_site, "vera")
    assert await admin_site.audit(AuditAction.OPERATOR_DISABLED) == []
    done = await alice.post("/console/operators/vera/disable", form)
    assert done.status_code == 303
    assert done.headers["Location"] == "/console/operators/vera"
    shown = await alice.page("/console/operators/vera")
    assert "vera is disabled: signed out, tokens revoked." in shown.text
    assert "disabled since" in shown.text
    # Vera's session ended at once: her next page is the sign-in page.
    ended = await vera.client.get("/console")
    assert ended.status_code == 303
    assert ended.headers["Location"].endswith("&ended=1")
    (entry,) = await admin_site.audit(AuditAction.OPERATOR_DISABLED)
    assert (entry.actor, entry.details["reason"]) == ("operator:alice", "left the team")


async def test_an_added_operator_must_set_their_own_password_first(
    browsers: Browsers,
) -> None:
    alice = await browsers.signed_in("alice", "/console/operators")
    form = {"id": "nina", "name": "Nina Nowak", "role": "operator", "reason": "new starter"}
    asked = await alice.post("/console/operators", form)
    assert "Add nina (Nina Nowak) as operator" in asked.text
    shown = await alice.post("/console/operators", form | {"confirm": "yes"})
    assert shown.status_code == 200
    assert shown.headers["Cache-Control"] == "no-store"
    found = re.search(r'id="secret" class="secret" readonly value="([^"]+)"', shown.text)
    assert found, shown.text
    one_time = found.group(1)
    # Once only: the operator's page never shows it again.
    assert one_time not in (await alice.page("/console/operators/nina")).text
    assert one_time not in (await alice.page("/console/operators")).text

    nina: Browser = browsers.new()
    await nina.sign_in("nina", one_time)
    for path in ("/console", "/console/parcels", "/console/account"):
        sent = await nina.client.get(path)
        assert (sent.status_code, sent.headers.get("Location")) == (
            303,
            "/console/account/password",
        )
    page = await nina.page("/console/account/password")
    assert "You signed in with a one-time password" in page.text
    change = "/console/account/password"
    wrong = {"current_password": "nope", "new_password": NEW_PASSWORD}
    again = await nina.post(change, wrong | {"repeat_password": NEW_PASSWORD})
    assert again.status_code == 403
    assert "Not changed: the current password is wrong." in again.text
    differ = {"current_password": one_time, "new_password": NEW_PASSWORD}
    assert (await nina.post(change, differ | {"repeat_password": "other"})).status_code == 422
    assert (await nina.post(change, differ, csrf=False)).status_code == 403
    done = await nina.post(change, differ | {"repeat_password": NEW_PASSWORD})
    assert (done.status_code, done.headers["Location"]) == (303, "/console")
    home = await nina.page("/console")
    assert home.status_code == 200
    assert "Your password is changed" in home.text
    # The one-time password signs in no more; the new one does.
    fresh: Browser = browsers.new()
    refused = await fresh.client.post(
        "/console/login", data={"operator_id": "nina", "password": one_time}
    )
    assert refused.status_code == 401
    await fresh.sign_in("nina", NEW_PASSWORD)
    assert (await fresh.client.get("/console")).status_code == 200


async def test_the_last_admin_is_kept_and_a_reset_ends_sessions(
    browsers: Browsers,
) -> None:
    admin_site = browsers.site
    alice = await browsers.signed_in("alice", "/console/operators/alice")
    form = {"reason": "stepping down", "confirm": "yes"}
    kept = await alice.post("/console/operators/alice/disable", form)
    assert kept.status_code == 409
    assert "the last enabled admin" in kept.text
    demote = await alice.post("/console/operators/alice/role", form | {"role": "viewer"})
    assert demote.status_code == 409
    assert await active(admin_site, "alice")

    oscar = await browsers.signed_in("oscar")
    reset = await alice.post("/console/operators/oscar/reset", {"reason": "forgot it"})
    assert "Every session of theirs ends now" in reset.text
    shown = await alice.post("/console/operators/oscar/reset", {"reason": "forgot it"} | form)
    assert "1 session(s) ended, 0 token(s) revoked" in shown.text
    assert (await oscar.client.get("/console")).status_code == 303


async def test_operators_make_and_revoke_their_own_tokens(
    browsers: Browsers,
) -> None:
    admin_site = browsers.site
    vera = await browsers.signed_in("vera", "/console/account")
    too_high = await vera.post("/console/account/tokens", {"name": "x", "role": "admin"})
    assert too_high.status_code == 422
    made = await vera.post("/console/account/tokens", {"name": "wallboard", "days": "30"})
    assert made.status_code == 200
    secret = re.search(r'value="(olpo_[^"]+)"', made.text)
    assert secret, made.text
    token_id = re.search(r"Token (ot_[0-9a-f]+) \(viewer\) made", made.text)
    assert token_id, made.text
    listed = await vera.page("/console/account")
    assert f'id="token-{token_id.group(1)}"' in listed.text
    assert secret.group(1) not in listed.text
    async with httpx.AsyncClient(base_url=admin_site.gateway.base_url) as script:
        headers = {"Authorization": f"Bearer {secret.group(1)}"}
        assert (await script.get("/v1/admin/lockers", headers=headers)).status_code == 200
        revoke = f"/console/account/tokens/{token_id.group(1)}/revoke"
        asked = await vera.post(revoke, {})
        assert 'id="confirm-submit"' in asked.text
        assert (await script.get("/v1/admin/lockers", headers=headers)).status_code == 200
        done = await vera.post(revoke, {"confirm": "yes"})
        assert done.status_code == 303
        assert (await script.get("/v1/admin/lockers", headers=headers)).status_code == 401
    # An admin sees it on vera's page, revoked.
    alice = await browsers.signed_in("alice", "/console/operators/vera")
    page = await alice.page("/console/operators/vera")
    assert f'id="token-{token_id.group(1)}"' in page.text
    assert "revoked" in page.text
