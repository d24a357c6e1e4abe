"""Who may call the admin API: anonymous and carrier callers are refused, roles are checked,
and personal API tokens work without CSRF within their role until revoked or expired."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from gateway.domain.audit import AuditAction
from gateway.domain.operators import Role
from gateway.service.operators import OperatorService
from tests.admin.conftest import AdminSite, problem

OUT_OF_SERVICE = "/v1/admin/lockers/WAW-CENTRAL-01/compartments/A02/out-of-service"
REASON = {"reason": "cleaning the compartment"}


def admin_routes(site: AdminSite) -> list[tuple[str, str]]:
    """Every (method, path) the running app serves under /v1/admin, ids filled in."""
    runner = site.gateway._runner
    assert runner is not None
    app: web.Application = runner.app
    found = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter", "")
        if path.startswith("/v1/admin/") and route.method != "HEAD":
            filled = (
                path.replace("{locker_id}", "WAW-CENTRAL-01")
                .replace("{code}", "A01")
                .replace("{uid}", "no-such-uid")
                .replace("{token_id}", "ot_000000000000")
                .replace("{operator_id}", "vera")
                .replace("{delivery_id}", "1")
                .replace("{scope}", "carrier")  # hold-time policies
                .replace("{scope_id}", "acme")
            )
            found.append((route.method, filled))
    return found


async def test_anonymous_callers_get_401_everywhere(admin_site: AdminSite) -> None:
    routes = admin_routes(admin_site)
    assert len(routes) >= 20
    async with admin_site.client() as client:
        for method, path in routes:
            if (method, path) == ("POST", "/v1/admin/session"):
                continue  # signing in is the way in
            answer = await client.request(method, path, json=REASON)
            problem(answer, 401, "SecurityError")


async def test_a_carrier_token_does_not_open_the_admin_api(admin_site: AdminSite) -> None:
    async with admin_site.client() as client:
        for method, path in (("GET", "/v1/admin/lockers"), ("POST", OUT_OF_SERVICE)):
            answer = await client.request(method, path, json=REASON, headers=admin_site.acme.auth())
            body = problem(answer, 401, "SecurityError")
            assert "carrier token" in body["detail"]
    # And an operator's session does not open the carrier API.
    desk = await admin_site.desk("alice")
    problem(await desk.get("/v1/parcels"), 401, "SecurityError")


async def test_a_viewer_reads_but_does_not_act(admin_site: AdminSite) -> None:
    viewer = await admin_site.desk("vera")
    assert (await viewer.get("/v1/admin/lockers")).status_code == 200
    assert (await viewer.get("/v1/admin/parcels")).status_code == 200
    body = problem(await viewer.post(OUT_OF_SERVICE, REASON), 403, "Forbidden")
    assert "operator role" in body["detail"]
    operator = await admin_site.desk("oscar")
    assert (await operator.post(OUT_OF_SERVICE, REASON)).status_code == 200


async def test_only_admins_list_operators(admin_site: AdminSite) -> None:
    for name in ("vera", "oscar"):
        desk = await admin_site.desk(name)
        problem(await desk.get("/v1/admin/operators"), 403, "Forbidden")
    desk = await admin_site.desk("alice")
    items = (await desk.get("/v1/admin/operators")).json()["items"]
    assert [(o["id"], o["role"]) for o in items] == [
        ("alice", "admin"),
        ("oscar", "operator"),
        ("vera", "viewer"),
    ]


async def test_api_tokens_need_no_csrf_and_keep_their_role(admin_site: AdminSite) -> None:
    desk = await admin_site.desk("oscar")
    made = await desk.post("/v1/admin/tokens", {"name": "nightly report", "role": "viewer"})
    assert made.status_code == 201, made.text
    viewer_token = made.json()
    assert viewer_token["token"].startswith("olpo_")
    listed = (await desk.get("/v1/admin/tokens")).json()["items"]
    assert [t["id"] for t in listed] == [viewer_token["id"]]
    assert "token" not in listed[0]  # shown once, at creation
    made = await desk.post("/v1/admin/tokens", {"name": "automation"})
    operator_token = made.json()
    assert operator_token["role"] == "operator"
    # A token cannot climb above its operator.
    problem(await desk.post("/v1/admin/tokens", {"name": "x", "role": "admin"}), 403, "Forbidden")

    async with admin_site.client() as script:

        def bearer(token: dict[str, str]) -> dict[str, str]:
            return {"Authorization": f"Bearer {token['token']}"}

        answer = await script.get("/v1/admin/lockers", headers=bearer(viewer_token))
        assert answer.status_code == 200
        refused = await script.post(OUT_OF_SERVICE, json=REASON, headers=bearer(viewer_token))
        problem(refused, 403, "Forbidden")
        done = await script.post(OUT_OF_SERVICE, json=REASON, headers=bearer(operator_token))
        assert done.status_code == 200, done.text  # no CSRF token: none is needed
        (entry,) = await admin_site.audit(AuditAction.ADMIN_ACTION)
        # The trail names the token that acted (its id, never the secret).
        acting = f"operator:oscar/token:{operator_token['id']}"
        assert (entry.actor, entry.details["reason"]) == (acting, REASON["reason"])

        revoked = await desk.client.delete(
            f"/v1/admin/tokens/{operator_token['id']}", headers={"X-CSRF-Token": desk.csrf or ""}
        )
        assert revoked.json()["revokedAt"] is not None
        problem(
            await script.get("/v1/admin/lockers", headers=bearer(operator_token)),
            401,
            "SecurityError",
        )
        # A token with an expiry stops working then.
        service = OperatorService(store=admin_site.gateway.store, clock=admin_site.clock)
        short = await service.create_token(
            "vera", name="short", expires_at=admin_site.clock() + timedelta(minutes=5)
        )
        headers = {"Authorization": f"Bearer {short.secret}"}
        assert (await script.get("/v1/admin/lockers", headers=headers)).status_code == 200
        admin_site.clock.advance(301)
        problem(await script.get("/v1/admin/lockers", headers=headers), 401, "SecurityError")
        # A token's role follows its operator down: demoted to viewer, the token reads only.
        await service.reset("oscar", role=Role.VIEWER)
        again = await service.create_token("alice", name="admin script")
        await service.reset("alice", role=Role.VIEWER)
        answer = await script.post(
            OUT_OF_SERVICE.replace("A02", "A01"),
            json=REASON,
            headers={"Authorization": f"Bearer {again.secret}"},
        )
        problem(answer, 403, "Forbidden")
    created = await admin_site.audit(AuditAction.OPERATOR_TOKEN_CREATED)
    assert {e.details["tokenId"] for e in created} >= {viewer_token["id"], operator_token["id"]}
    (revoke,) = await admin_site.audit(AuditAction.OPERATOR_TOKEN_REVOKED)
    assert revoke.details["tokenId"] == operator_token["id"]


async def test_a_forged_or_unknown_token_is_refused(admin_site: AdminSite) -> None:
    async with admin_site.client() as script:
        for value in ("Bearer olpo_" + "A" * 43, "Basic YWxpY2U6eA==", "Bearer x"):
            answer = await script.get("/v1/admin/lockers", headers={"Authorization": value})
            problem(answer, 401, "SecurityError")
