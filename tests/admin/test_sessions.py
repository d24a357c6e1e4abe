"""Operator sign-in against the running server: cookies, CSRF, lockouts, idle and absolute
expiry, sign-out — each refusal a problem+json, each outcome in the audit chain."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from http.cookies import SimpleCookie

import httpx
from sqlalchemy import func, select

from gateway.app import Gateway
from gateway.domain.audit import AuditAction
from gateway.http.operator_auth import CookiePolicy
from gateway.service.housekeeping import Housekeeping
from gateway.service.operators import OperatorService
from gateway.store.tables import login_attempts
from tests.admin.conftest import (
    ABSOLUTE_S,
    IDLE_S,
    LOCKOUT_S,
    MAX_FAILURES,
    PASSWORD,
    AdminSite,
    admin_settings,
    problem,
)

COMPARTMENT = "/v1/admin/lockers/WAW-CENTRAL-01/compartments/A01"


async def test_login_sets_a_hardened_session_cookie(admin_site: AdminSite) -> None:
    desk = await admin_site.desk()
    answer = await desk.login("oscar")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["operator"]["id"], body["role"], body["via"]) == ("oscar", "operator", "session")
    assert body["csrfToken"]
    cookie = SimpleCookie(answer.headers["Set-Cookie"])["olp_session"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/"
    # The database keeps a digest of the id, never the id the browser holds.
    async with admin_site.gateway.store.transaction() as tx:
        assert await tx.operators.session(cookie.value) is None
    who = await desk.get("/v1/admin/session")
    assert who.status_code == 200
    assert who.json()["csrfToken"] == body["csrfToken"]
    (entry,) = await admin_site.audit(AuditAction.OPERATOR_LOGIN)
    assert (entry.actor, entry.subject) == ("operator:oscar", "oscar")


async def test_wrong_password_and_unknown_account_are_refused_alike(
    admin_site: AdminSite,
) -> None:
    desk = await admin_site.desk()
    wrong = problem(await desk.login("oscar", "not the password"), 401, "SecurityError")
    unknown = problem(await desk.login("nobody", PASSWORD), 401, "SecurityError")
    assert wrong["detail"] == unknown["detail"] == "wrong operator id or password"
    assert "Set-Cookie" not in (await desk.login("oscar", "still wrong")).headers
    problem(await desk.get("/v1/admin/session"), 401, "SecurityError")
    failures = await admin_site.audit(AuditAction.OPERATOR_LOGIN_FAILED)
    assert [(e.subject, e.details["reason"]) for e in failures] == [
        ("oscar", "wrong-credentials"),
        ("nobody", "wrong-credentials"),
        ("oscar", "wrong-credentials"),
    ]


async def test_an_account_locks_after_repeated_failures_and_backs_off(
    admin_site: AdminSite,
) -> None:
    desk = await admin_site.desk()
    for _ in range(MAX_FAILURES - 1):
        problem(await desk.login("vera", "guess"), 401, "SecurityError")
    locked = await desk.login("vera", "guess")
    body = problem(locked, 401, "SecurityError")
    assert "too many failed sign-ins" in body["detail"]
    # The lock started when the attempt was counted, before its (slow) password check.
    assert LOCKOUT_S - 10 <= int(locked.headers["Retry-After"]) <= LOCKOUT_S
    # From another address the account is locked too: even the right password is refused.
    problem(await desk.login("vera"), 401, "SecurityError")
    admin_site.clock.advance(LOCKOUT_S + 1)
    # Then the next run of failures locks for twice as long (back-off).
    for _ in range(MAX_FAILURES - 1):
        problem(await desk.login("vera", "guess"), 401, "SecurityError")
    again = await desk.login("vera", "guess")
    assert 2 * LOCKOUT_S - 10 <= int(again.headers["Retry-After"]) <= 2 * LOCKOUT_S
    admin_site.clock.advance(2 * LOCKOUT_S + 1)
    assert (await desk.login("vera")).status_code == 200
    reasons = [
        e.details["reason"] for e in await admin_site.audit(AuditAction.OPERATOR_LOGIN_FAILED)
    ]
    assert "locked" in reasons
    locks = [
        e
        for e in await admin_site.audit(AuditAction.OPERATOR_LOGIN_FAILED)
        if "lockedUntil" in e.details
    ]
    assert len(locks) == 2


async def test_a_burst_of_guesses_gets_no_more_checks_than_the_limit(
    admin_site: AdminSite,
) -> None:
    """Concurrent attempts are counted before their (slow) password check, one by one: only
    the first MAX_FAILURES are checked at all, the others are refused as locked. Only the
    first refusal of the lock is audited; the others are counted, and the count is in the
    audit entry of the first attempt after the lock."""
    desks = [await admin_site.desk() for _ in range(3 * MAX_FAILURES)]
    answers = await asyncio.gather(*(d.login("oscar", f"guess {n}") for n, d in enumerate(desks)))
    assert {a.status_code for a in answers} == {401}
    failures = await admin_site.audit(AuditAction.OPERATOR_LOGIN_FAILED, limit=100)
    checked = [e for e in failures if e.details["reason"] == "wrong-credentials"]
    refused = [e for e in failures if e.details["reason"] == "locked"]
    assert (len(checked), len(refused)) == (MAX_FAILURES, 1)
    admin_site.clock.advance(LOCKOUT_S + 1)
    assert (await desks[0].login("oscar")).status_code == 200
    (signed_in,) = await admin_site.audit(AuditAction.OPERATOR_LOGIN)
    assert sum(signed_in.details["refusedWhileLocked"].values()) == 2 * MAX_FAILURES


async def test_refusals_while_locked_do_not_grow_the_audit_chain(admin_site: AdminSite) -> None:
    """A client hammering a locked key adds one audit entry, not one per request; the
    housekeeping pass purges counters gone stale and audits the refusals none reported."""
    desk = await admin_site.desk()
    for _ in range(MAX_FAILURES):
        problem(await desk.login("nobody", "guess"), 401, "SecurityError")
    before = len(await admin_site.audit(AuditAction.OPERATOR_LOGIN_FAILED, limit=100))
    for _ in range(30):
        problem(await desk.login("nobody", "guess"), 401, "SecurityError")
    after = await admin_site.audit(AuditAction.OPERATOR_LOGIN_FAILED, limit=100)
    assert len(after) == before + 1
    assert after[-1].details["reason"] == "locked"
    assert await counters(admin_site) == 2  # the account and the client address

    gateway = admin_site.gateway
    housekeeping = Housekeeping(
        store=gateway.store,
        parcels=gateway.parcels,
        idempotency_retention=timedelta(days=1),
        operator_auth=gateway.operator_auth,
        clock=admin_site.clock,
    )
    await housekeeping.run_once()
    assert await counters(admin_site) == 2  # still locked, and still counting: kept
    window = admin_site.gateway.settings.operators.login_window
    cap = admin_site.gateway.settings.operators.login_lockout_cap
    admin_site.clock.advance((window + cap).total_seconds() + LOCKOUT_S + 1)
    await housekeeping.run_once()
    assert await counters(admin_site) == 0
    reported = await admin_site.audit(AuditAction.OPERATOR_LOGIN_FAILED, limit=100)
    assert len(reported) == before + 2
    assert reported[-1].details["refusedWhileLocked"] == {"address:127.0.0.1": 30}
    assert reported[-1].details["client"] == "127.0.0.1"


async def counters(site: AdminSite) -> int:
    async with site.gateway.store.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(login_attempts))).scalar_one()


async def test_one_address_trying_many_accounts_is_locked(admin_site: AdminSite) -> None:
    """Each account stays under its own limit; the client address meets its limit."""
    desk = await admin_site.desk()
    for name in ("alice", "oscar"):
        problem(await desk.login(name, "guess"), 401, "SecurityError")
    locked = await desk.login("vera", "guess")
    assert "too many failed sign-ins" in problem(locked, 401, "SecurityError")["detail"]
    problem(await desk.login("alice"), 401, "SecurityError")  # locked address, right password


async def test_the_limit_holds_across_gateway_instances(
    admin_site: AdminSite, database_url: str
) -> None:
    """Failures counted by one instance lock sign-ins on another: the counter is in the DB."""
    settings = admin_settings(database_url).model_copy(update={"instance": "gw-2"})
    async with Gateway(settings=settings, clock=admin_site.clock) as second:
        first_desk = await admin_site.desk()
        async with httpx.AsyncClient(base_url=second.base_url) as other:
            for n in range(MAX_FAILURES):
                desk_client = first_desk.client if n % 2 == 0 else other
                answer = await desk_client.post(
                    "/v1/admin/session", json={"operatorId": "alice", "password": "guess"}
                )
                problem(answer, 401, "SecurityError")
            locked = await other.post(
                "/v1/admin/session", json={"operatorId": "alice", "password": PASSWORD}
            )
            assert "too many failed sign-ins" in problem(locked, 401, "SecurityError")["detail"]
            # A session made on one instance is honoured by the other (server-side rows).
            admin_site.clock.advance(LOCKOUT_S + 1)
            signed_in = await first_desk.login("alice")
            assert signed_in.status_code == 200
            other.cookies.set("olp_session", first_desk.client.cookies["olp_session"])
            assert (await other.get("/v1/admin/session")).status_code == 200


async def test_state_changes_need_the_sessions_csrf_token(admin_site: AdminSite) -> None:
    desk = await admin_site.desk("oscar")
    reason = {"reason": "door sticks, checking"}
    missing = problem(
        await desk.post(f"{COMPARTMENT}/out-of-service", reason, csrf=False), 403, "Forbidden"
    )
    assert "CSRF" in missing["detail"]
    forged = await desk.client.post(
        f"{COMPARTMENT}/out-of-service", json=reason, headers={"X-CSRF-Token": "x" * 43}
    )
    problem(forged, 403, "Forbidden")
    # Another session's token does not fit this session.
    other = await admin_site.desk("alice")
    borrowed = await desk.client.post(
        f"{COMPARTMENT}/out-of-service", json=reason, headers={"X-CSRF-Token": other.csrf or ""}
    )
    problem(borrowed, 403, "Forbidden")
    assert not await admin_site.audit(AuditAction.ADMIN_ACTION)  # nothing happened
    ok = await desk.post(f"{COMPARTMENT}/out-of-service", reason)
    assert ok.status_code == 200, ok.text
    assert ok.json()["state"] == "out_of_service"
    # Signing out is a state change as well.
    problem(await desk.client.delete("/v1/admin/session"), 403, "Forbidden")


async def test_a_session_ends_after_idle_time(admin_site: AdminSite) -> None:
    desk = await admin_site.desk("vera")
    admin_site.clock.advance(IDLE_S - 5)
    assert (await desk.get("/v1/admin/lockers")).status_code == 200  # used: idle starts over
    admin_site.clock.advance(IDLE_S - 5)
    assert (await desk.get("/v1/admin/lockers")).status_code == 200
    admin_site.clock.advance(IDLE_S + 1)
    problem(await desk.get("/v1/admin/lockers"), 401, "SecurityError")
    # Expired is gone: coming back within the idle time of the last use does not revive it.
    admin_site.clock.advance(-IDLE_S)
    problem(await desk.get("/v1/admin/lockers"), 401, "SecurityError")


async def test_a_session_ends_at_its_absolute_expiry_however_busy(admin_site: AdminSite) -> None:
    desk = await admin_site.desk("vera")
    step = IDLE_S // 2
    used = 0
    while used + step < ABSOLUTE_S:
        admin_site.clock.advance(step)
        used += step
        assert (await desk.get("/v1/admin/session")).status_code == 200, used
    admin_site.clock.advance(ABSOLUTE_S - used + 1)
    problem(await desk.get("/v1/admin/session"), 401, "SecurityError")


async def test_logout_ends_the_session_on_the_server(admin_site: AdminSite) -> None:
    desk = await admin_site.desk("oscar")
    cookie = desk.client.cookies["olp_session"]
    answer = await desk.client.delete(
        "/v1/admin/session", headers={"X-CSRF-Token": desk.csrf or ""}
    )
    assert answer.status_code == 204
    # A copy of the cookie kept elsewhere is worthless now.
    replayed = await admin_site.desk()
    replayed.client.cookies.set("olp_session", cookie)
    problem(await replayed.get("/v1/admin/session"), 401, "SecurityError")
    (entry,) = await admin_site.audit(AuditAction.OPERATOR_LOGOUT)
    assert entry.actor == "operator:oscar"


async def test_a_disabled_operators_session_ends(admin_site: AdminSite) -> None:
    desk = await admin_site.desk("oscar")
    service = OperatorService(store=admin_site.gateway.store, clock=admin_site.clock)
    await service.disable("oscar", reason="left the team")
    problem(await desk.get("/v1/admin/session"), 401, "SecurityError")
    problem(await desk.login("oscar"), 401, "SecurityError")


def test_cookie_is_secure_unless_the_gateway_listens_on_loopback_only() -> None:
    assert CookiePolicy.decide(None, "0.0.0.0", "Strict").secure
    assert CookiePolicy.decide(None, "10.1.2.3", "Strict").name == "__Host-olp_session"
    assert not CookiePolicy.decide(None, "127.0.0.1", "Strict").secure
    assert not CookiePolicy.decide(None, "::1", "Strict").secure
    assert not CookiePolicy.decide(None, "localhost", "Lax").secure
    assert CookiePolicy.decide(True, "127.0.0.1", "Strict").secure  # configured wins
    assert not CookiePolicy.decide(False, "0.0.0.0", "Strict").secure
