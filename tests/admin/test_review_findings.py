"""Findings of the session-5 security review of operator sign-in and API tokens, each pinned."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from gateway.auth import operator_sessions
from gateway.auth.operator_secrets import verify_password
from gateway.domain.operators import Role
from gateway.http.routes.admin_common import ts
from gateway.service.operators import OperatorService
from gateway.store.tables import login_attempts
from tests.admin.conftest import MAX_FAILURES, AdminSite, problem


async def test_a_password_with_surrounding_spaces_signs_in(admin_site: AdminSite) -> None:
    # The CLI keeps a password exactly as typed; sign-in used to strip it, so such an
    # operator could never sign in (and every try counted towards the lockout).
    service = OperatorService(store=admin_site.gateway.store, clock=admin_site.clock)
    spaced = "  a passphrase with spaces  "
    await service.add("sam", name="Sam", role=Role.OPERATOR, password=spaced)
    desk = await admin_site.desk()
    assert (await desk.login("sam", spaced)).status_code == 200
    other = await admin_site.desk()
    problem(await other.login("sam", spaced.strip()), 401, "SecurityError")


async def test_a_token_expiry_without_offset_is_a_422_not_a_500(admin_site: AdminSite) -> None:
    desk = await admin_site.desk("oscar")
    answer = await desk.post("/v1/admin/tokens", {"name": "x", "expiresAt": "2099-01-01T00:00:00"})
    problem(answer, 422, "PropertyConstraintViolation")


async def test_a_token_cannot_mint_a_token_outliving_it(admin_site: AdminSite) -> None:
    # A leaked short-lived token must not be turned into a never-expiring one.
    service = OperatorService(store=admin_site.gateway.store, clock=admin_site.clock)
    short = await service.create_token(
        "oscar", name="short", expires_at=admin_site.clock() + timedelta(hours=1)
    )
    headers = {"Authorization": f"Bearer {short.secret}"}
    async with admin_site.client() as script:
        forever = await script.post("/v1/admin/tokens", json={"name": "forever"}, headers=headers)
        assert forever.status_code == 201, forever.text
        assert short.record.expires_at is not None
        assert forever.json()["expiresAt"] == ts(short.record.expires_at)
        later = (admin_site.clock() + timedelta(days=30)).isoformat()
        answer = await script.post(
            "/v1/admin/tokens", json={"name": "later", "expiresAt": later}, headers=headers
        )
        problem(answer, 403, "Forbidden")


async def test_a_sign_in_racing_a_password_reset_gets_no_session(
    admin_site: AdminSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The old password, checked while an admin resets it, must not open a session after."""
    service = OperatorService(store=admin_site.gateway.store, clock=admin_site.clock)

    async def reset_meanwhile(stored_hash: str | None, password: str) -> bool:
        good = await verify_password(stored_hash, password)  # the old hash: right
        await service.reset("oscar", password="a brand new passphrase")
        return good

    monkeypatch.setattr(operator_sessions, "verify_password", reset_meanwhile)
    desk = await admin_site.desk()
    problem(await desk.login("oscar"), 401, "SecurityError")
    async with admin_site.gateway.store.transaction() as tx:
        assert await tx.operators.end_sessions_of("oscar") == 0


async def test_a_locked_address_adds_no_counter_rows_whatever_ids_it_tries(
    admin_site: AdminSite,
) -> None:
    """Each attempt used to insert a counter for the id typed before the address lock was
    seen: one unauthenticated client could grow `login_attempts` at request rate."""
    desk = await admin_site.desk()
    for n in range(MAX_FAILURES):
        problem(await desk.login(f"guess-{n}", "guess"), 401, "SecurityError")
    before = await counter_rows(admin_site)
    for n in range(10):
        locked = problem(await desk.login(f"random-{n}", "guess"), 401, "SecurityError")
        assert "too many failed sign-ins" in locked["detail"]
    assert await counter_rows(admin_site) == before


async def counter_rows(site: AdminSite) -> int:
    async with site.gateway.store.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(login_attempts))).scalar_one()


async def test_signing_in_to_ones_own_account_does_not_reset_the_address_limit(
    admin_site: AdminSite,
) -> None:
    """An operator spraying guesses at others' accounts from one address must not wipe the
    address's count by signing in as themself between guesses."""
    desk = await admin_site.desk()
    for n in range(MAX_FAILURES - 1):
        problem(await desk.login("alice" if n % 2 else "vera", "guess"), 401, "SecurityError")
    assert (await desk.login("oscar")).status_code == 200  # the sprayer's own account
    locked = problem(await desk.login("alice", "guess"), 401, "SecurityError")
    assert "too many failed sign-ins" in locked["detail"]


async def test_right_passwords_never_lock_an_address_and_take_back_only_their_own_count(
    admin_site: AdminSite,
) -> None:
    desk = await admin_site.desk()
    for _ in range(MAX_FAILURES + 2):  # many right sign-ins from one address: never locked
        assert (await desk.login("oscar")).status_code == 200
    for _ in range(MAX_FAILURES - 1):
        problem(await desk.login("vera", "guess"), 401, "SecurityError")
    # Each of these tips the address into a lock before its check, which proved right.
    for _ in range(2):
        assert (await desk.login("alice")).status_code == 200
    locked = problem(await desk.login("vera", "guess"), 401, "SecurityError")
    assert "too many failed sign-ins" in locked["detail"]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b"no boundary"),
        ("multipart/form-data; boundary=xx", b"--xx\r\nno headers, no end"),
        ("application/x-www-form-urlencoded", b"csrf_token=\xff\xfe"),
        ("application/x-www-form-urlencoded; charset=no-such-charset", b"a=b"),
    ],
    ids=["multipart-no-boundary", "multipart-broken", "form-not-utf8", "form-bad-charset"],
)
async def test_an_unreadable_form_with_a_session_is_a_400_not_a_500(
    admin_site: AdminSite, content_type: str, body: bytes
) -> None:
    """Looking for the CSRF form field used to let the form parser's error escape as a 500."""
    desk = await admin_site.desk("oscar")
    answer = await desk.client.post(
        "/v1/admin/lockers/WAW-CENTRAL-01/compartments/A01/out-of-service",
        content=body,
        headers={"Content-Type": content_type},
    )
    problem(answer, 400, "FormatViolation")
