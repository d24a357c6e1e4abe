"""Admins manage operators over the admin API, against the running server on both databases:
add with a one-time password, reset, disable and enable, change a role, list and revoke
tokens, set one's own password; each refusal a problem+json, each action in the audit chain
with who, what and why (and which API token acted)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from gateway.domain.audit import AuditAction
from gateway.domain.one_time_passwords import ONE_TIME_VALIDITY
from tests.admin.conftest import PASSWORD, AdminSite, Desk, problem

OPS = "/v1/admin/operators"
WHY = {"reason": "new starter on the night shift"}
NEW_PASSWORD = "my very own passphrase 42"
LOCKERS = "/v1/admin/lockers"


async def add(desk: Desk, operator_id: str, role: str = "operator") -> dict[str, Any]:
    answer = await desk.post(OPS, {"id": operator_id, "name": "Nina N.", "role": role} | WHY)
    assert answer.status_code == 201, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Location"] == f"{OPS}/{operator_id}"
    body: dict[str, Any] = answer.json()
    return body


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def test_a_new_operator_signs_in_once_with_the_one_time_password_and_sets_their_own(
    admin_site: AdminSite,
) -> None:
    alice = await admin_site.desk("alice")
    made = await add(alice, "nina")
    one_time = made["oneTimePassword"]
    assert len(one_time) == 23
    assert made["operator"]["oneTimePasswordExpiresAt"] == made["expiresAt"]
    problem(await alice.post(OPS, {"id": "nina", "role": "viewer"} | WHY), 409, "AlreadyExists")

    nina = await admin_site.desk()
    signed = await nina.login("nina", one_time)
    assert signed.status_code == 200, signed.text
    assert signed.json()["operator"]["oneTimePasswordExpiresAt"] is not None
    # Until the password is their own, the session does nothing else.
    refused = problem(await nina.get(LOCKERS), 403, "Forbidden")
    assert "signed in with a one-time password: set your own first" in refused["detail"]
    problem(await nina.post("/v1/admin/tokens", {"name": "x"}), 403, "Forbidden")
    assert (await nina.get("/v1/admin/session")).status_code == 200
    # The current password is proved first; the new one must be a real password.
    change = "/v1/admin/session/password"
    wrong = {"currentPassword": "not it at all", "newPassword": NEW_PASSWORD}
    problem(await nina.post(change, wrong), 403, "Forbidden")
    short = {"currentPassword": one_time, "newPassword": "short"}
    problem(await nina.post(change, short), 422, "PropertyConstraintViolation")
    problem(
        await nina.post(change, {"currentPassword": one_time, "newPassword": one_time}),
        422,
        "PropertyConstraintViolation",
    )
    problem(
        await nina.post(
            change, {"currentPassword": one_time, "newPassword": NEW_PASSWORD}, csrf=False
        ),
        403,
        "Forbidden",
    )
    done = await nina.post(change, {"currentPassword": one_time, "newPassword": NEW_PASSWORD})
    assert done.status_code == 200, done.text
    assert done.json()["operator"]["oneTimePasswordExpiresAt"] is None
    assert (await nina.get(LOCKERS)).status_code == 200  # the same session carries on
    # The one-time password is spent; the new one signs in.
    again = await admin_site.desk()
    problem(await again.login("nina", one_time), 401, "SecurityError")
    assert (await again.login("nina", NEW_PASSWORD)).status_code == 200

    (created,) = await admin_site.audit(AuditAction.OPERATOR_CREATED)
    assert (created.actor, created.subject) == ("operator:alice", "nina")
    assert (created.details["role"], created.details["reason"]) == ("operator", WHY["reason"])
    assert one_time not in str(created.details)
    own = [e for e in await admin_site.audit(AuditAction.OPERATOR_RESET) if e.subject == "nina"]
    assert [(e.actor, e.details["password"], e.details["wasOneTime"]) for e in own] == [
        ("operator:nina", "own", True)
    ]
    failed = await admin_site.audit(AuditAction.OPERATOR_LOGIN_FAILED)
    assert "password-change: wrong current password" in [e.details["reason"] for e in failed]


async def test_a_one_time_password_lapses(admin_site: AdminSite) -> None:
    alice = await admin_site.desk("alice")
    one_time = (await add(alice, "late"))["oneTimePassword"]
    admin_site.clock.advance(ONE_TIME_VALIDITY.total_seconds() + 1)
    alice = await admin_site.desk("alice")  # the first session went idle meanwhile
    late = await admin_site.desk()
    problem(await late.login("late", one_time), 401, "SecurityError")
    failed = await admin_site.audit(AuditAction.OPERATOR_LOGIN_FAILED)
    assert failed[-1].details["reason"] == "one-time-password-expired"
    # The admin issues another.
    reset = await alice.post(f"{OPS}/late/password-reset", WHY)
    assert reset.status_code == 200, reset.text
    assert (await late.login("late", reset.json()["oneTimePassword"])).status_code == 200


async def test_only_admins_manage_operators(admin_site: AdminSite) -> None:
    calls: list[tuple[str, str, Any]] = [
        ("POST", OPS, {"id": "x", "role": "viewer"} | WHY),
        ("GET", f"{OPS}/vera", None),
        ("POST", f"{OPS}/vera/password-reset", WHY),
        ("POST", f"{OPS}/vera/disable", WHY),
        ("POST", f"{OPS}/vera/enable", WHY),
        ("POST", f"{OPS}/vera/role", {"role": "admin"} | WHY),
        ("POST", f"{OPS}/vera/tokens/ot_000000000000/revoke", WHY),
    ]
    for who in ("oscar", "vera"):
        desk = await admin_site.desk(who)
        for method, path, body in calls:
            answer = await desk.client.request(
                method, path, json=body, headers={"X-CSRF-Token": desk.csrf or ""}
            )
            problem(answer, 403, "Forbidden")
    async with admin_site.client() as anonymous:
        for method, path, body in calls:
            answer = await anonymous.request(method, path, json=body)
            problem(answer, 401, "SecurityError")
            carrier = await anonymous.request(
                method, path, json=body, headers=admin_site.acme.auth()
            )
            problem(carrier, 401, "SecurityError")
    # A cookie session's change without its CSRF token is refused, even an admin's.
    alice = await admin_site.desk("alice")
    problem(await alice.post(f"{OPS}/vera/disable", WHY, csrf=False), 403, "Forbidden")
    assert await admin_site.audit(AuditAction.OPERATOR_DISABLED) == []
    # A reason is required.
    problem(await alice.post(f"{OPS}/vera/disable", {}), 422, "PropertyConstraintViolation")
    problem(await alice.post(f"{OPS}/nobody/disable", WHY), 404, "NotFound")


async def test_disabling_ends_sessions_and_tokens_at_once_and_enabling_lets_in_again(
    admin_site: AdminSite,
) -> None:
    alice = await admin_site.desk("alice")
    oscar = await admin_site.desk("oscar")
    token = (await oscar.post("/v1/admin/tokens", {"name": "night script"})).json()
    async with admin_site.client() as script:
        assert (await script.get(LOCKERS, headers=bearer(token["token"]))).status_code == 200
        listed = (await alice.get(f"{OPS}/oscar")).json()
        assert [t["id"] for t in listed["tokens"]] == [token["id"]]
        assert "token" not in listed["tokens"][0]

        off = await alice.post(f"{OPS}/oscar/disable", {"reason": "left the company"})
        assert off.status_code == 200, off.text
        assert off.json()["active"] is False
        problem(await oscar.get(LOCKERS), 401, "SecurityError")
        problem(await script.get(LOCKERS, headers=bearer(token["token"])), 401, "SecurityError")
        problem(await (await admin_site.desk()).login("oscar"), 401, "SecurityError")

        on = await alice.post(f"{OPS}/oscar/enable", {"reason": "came back"})
        assert on.json()["active"] is True
        assert (await (await admin_site.desk()).login("oscar")).status_code == 200
        # Revoked stays revoked: new tokens are made anew.
        problem(await script.get(LOCKERS, headers=bearer(token["token"])), 401, "SecurityError")
    (disabled,) = await admin_site.audit(AuditAction.OPERATOR_DISABLED)
    assert (disabled.actor, disabled.subject) == ("operator:alice", "oscar")
    assert disabled.details == {
        "reason": "left the company",
        "sessionsEnded": 1,
        "tokensRevoked": 1,
    }
    enabled = [
        e for e in await admin_site.audit(AuditAction.OPERATOR_RESET) if e.subject == "oscar"
    ]
    assert [e.details for e in enabled] == [{"enabled": True, "reason": "came back"}]


async def test_the_last_enabled_admin_cannot_disable_or_demote_themself(
    admin_site: AdminSite,
) -> None:
    alice = await admin_site.desk("alice")
    last = problem(await alice.post(f"{OPS}/alice/disable", WHY), 409, "IllegalTransition")
    assert "the last enabled admin" in last["detail"]
    demote = {"role": "operator"} | WHY
    problem(await alice.post(f"{OPS}/alice/role", demote), 409, "IllegalTransition")
    assert (await alice.get(LOCKERS)).status_code == 200  # still an admin, still signed in
    # With a second admin, alice may step down; then the other is the last.
    promoted = await alice.post(f"{OPS}/vera/role", {"role": "admin"} | WHY)
    assert promoted.json()["role"] == "admin"
    stepped = await alice.post(f"{OPS}/alice/role", demote)
    assert stepped.status_code == 200, stepped.text
    problem(await alice.get(f"{OPS}/vera"), 403, "Forbidden")  # at once, same session
    vera = await admin_site.desk("vera")
    problem(await vera.post(f"{OPS}/vera/disable", WHY), 409, "IllegalTransition")
    roles = [
        (e.subject, e.details["previousRole"], e.details["role"])
        for e in await admin_site.audit(AuditAction.OPERATOR_RESET)
    ]
    assert roles == [("vera", "viewer", "admin"), ("alice", "admin", "operator")]


async def test_a_reset_ends_sessions_and_can_revoke_tokens(admin_site: AdminSite) -> None:
    alice = await admin_site.desk("alice")
    oscar = await admin_site.desk("oscar")
    kept = (await oscar.post("/v1/admin/tokens", {"name": "kept"})).json()
    reset = await alice.post(f"{OPS}/oscar/password-reset", {"reason": "forgot it"})
    body = reset.json()
    assert (body["sessionsEnded"], body["tokensRevoked"]) == (1, 0)
    assert reset.headers["Cache-Control"] == "no-store"
    problem(await oscar.get(LOCKERS), 401, "SecurityError")
    problem(await (await admin_site.desk()).login("oscar"), 401, "SecurityError")  # old one
    async with admin_site.client() as script:
        # A plain reset keeps the scripts running; a compromise revokes them too.
        assert (await script.get(LOCKERS, headers=bearer(kept["token"]))).status_code == 200
        again = await alice.post(
            f"{OPS}/oscar/password-reset", {"reason": "laptop stolen", "revokeTokens": True}
        )
        assert again.json()["tokensRevoked"] == 1
        problem(await script.get(LOCKERS, headers=bearer(kept["token"])), 401, "SecurityError")
    entries = [e.details for e in await admin_site.audit(AuditAction.OPERATOR_RESET)]
    assert [(d["password"], d["reason"], d["tokensRevoked"]) for d in entries] == [
        ("one-time", "forgot it", 0),
        ("one-time", "laptop stolen", 1),
    ]
    assert body["oneTimePassword"] not in str(entries)


async def test_an_admin_revokes_anyones_token_and_the_trail_names_the_acting_token(
    admin_site: AdminSite,
) -> None:
    alice = await admin_site.desk("alice")
    vera = await admin_site.desk("vera")
    theirs = (await vera.post("/v1/admin/tokens", {"name": "dashboard"})).json()
    mine = (await alice.post("/v1/admin/tokens", {"name": "provisioning"})).json()
    async with admin_site.client() as script:
        # A token of another operator is not found under this one.
        wrong = await script.post(
            f"{OPS}/oscar/tokens/{theirs['id']}/revoke", json=WHY, headers=bearer(mine["token"])
        )
        problem(wrong, 404, "NotFound")
        done = await script.post(
            f"{OPS}/vera/tokens/{theirs['id']}/revoke",
            json={"reason": "dashboard retired"},
            headers=bearer(mine["token"]),  # no CSRF token: none is needed
        )
        assert done.status_code == 200, done.text
        assert done.json()["revokedAt"] is not None
        problem(await script.get(LOCKERS, headers=bearer(theirs["token"])), 401, "SecurityError")
        role = await script.post(
            f"{OPS}/oscar/role", json={"role": "viewer"} | WHY, headers=bearer(mine["token"])
        )
        assert role.status_code == 200, role.text
    (revoked,) = await admin_site.audit(AuditAction.OPERATOR_TOKEN_REVOKED)
    acting = f"operator:alice/token:{mine['id']}"
    assert (revoked.actor, revoked.subject) == (acting, "vera")
    assert revoked.details == {"tokenId": theirs["id"], "reason": "dashboard retired"}
    (changed,) = await admin_site.audit(AuditAction.OPERATOR_RESET)
    assert changed.actor == acting
    assert mine["token"] not in str([revoked, changed])


async def test_wrong_current_passwords_count_against_the_sign_in_limit(
    admin_site: AdminSite,
) -> None:
    vera = await admin_site.desk("vera")
    wrong = {"currentPassword": "a wrong guess", "newPassword": NEW_PASSWORD}
    answers = [await vera.post("/v1/admin/session/password", wrong) for _ in range(4)]
    assert [a.status_code for a in answers] == [403] * 4
    locked = answers[-1].json()
    assert "too many wrong passwords for this account; try again after" in locked["detail"]
    # Locked: the right password is refused too, here and at the sign-in form.
    right = {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}
    problem(await vera.post("/v1/admin/session/password", right), 403, "Forbidden")
    problem(await (await admin_site.desk()).login("vera"), 401, "SecurityError")


async def test_the_list_says_who_holds_a_one_time_password(admin_site: AdminSite) -> None:
    alice = await admin_site.desk("alice")
    await add(alice, "nina", role="viewer")
    listed = (await alice.get(OPS)).json()["items"]
    pending = {o["id"]: o["oneTimePasswordExpiresAt"] is not None for o in listed}
    assert pending == {"alice": False, "nina": True, "oscar": False, "vera": False}


async def test_an_api_token_acting_is_named_in_admin_actions(admin_site: AdminSite) -> None:
    oscar = await admin_site.desk("oscar")
    token = (await oscar.post("/v1/admin/tokens", {"name": "ops script"})).json()
    async with httpx.AsyncClient(base_url=admin_site.gateway.base_url) as script:
        answer = await script.post(
            f"{LOCKERS}/WAW-CENTRAL-01/compartments/A02/out-of-service",
            json={"reason": "door hinge broken"},
            headers=bearer(token["token"]),
        )
        assert answer.status_code == 200, answer.text
    (entry,) = await admin_site.audit(AuditAction.ADMIN_ACTION)
    assert entry.actor == f"operator:oscar/token:{token['id']}"
    assert token["token"] not in str(entry.details)


async def test_two_admins_demoting_each_other_at_once_leave_one_admin(
    admin_site: AdminSite,
) -> None:
    alice = await admin_site.desk("alice")
    promoted = await alice.post(f"{OPS}/vera/role", {"role": "admin"} | WHY)
    assert promoted.status_code == 200, promoted.text
    vera = await admin_site.desk("vera")
    demote = {"role": "viewer", "reason": "one admin is enough"}
    answers = await asyncio.gather(
        alice.post(f"{OPS}/vera/role", demote), vera.post(f"{OPS}/alice/role", demote)
    )
    # One wins; the other is refused as the last admin (409), or, if it was checked after the
    # first committed, as no admin any more (403).
    statuses = sorted(a.status_code for a in answers)
    assert statuses in ([200, 403], [200, 409]), [a.text for a in answers]
    async with admin_site.gateway.store.transaction() as tx:
        assert len(await tx.operators.active_admins()) == 1
