"""Recipient self-service through the JSON API: the carrier's link, one extension, new codes,
a redirect request, and every way a link or a request is refused (a real gateway over SQLite
and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from gateway.domain.enums import ParcelAction
from gateway.domain.hold_policy import HoldPolicy, PolicyScope
from tests.http.conftest import Site, site
from tests.support.problems import problem as refused

__all__ = ["site"]  # the fixture, used by name

DAY = timedelta(days=1)


async def ready(site: Site, parcel_id: str, **extra: Any) -> str:
    """A parcel booked at WAW-CENTRAL-01 and deposited; returns its self-service token."""
    body = {"parcelId": parcel_id, "lockerId": "WAW-CENTRAL-01", "sizeClass": "S"} | extra
    assert (await site.post("/v1/parcels", body, key=f"book-{parcel_id}")).status_code == 201
    parcel = await site.gateway.parcels.get("acme", parcel_id)
    await site.gateway.parcels.apply_action(parcel.uid, ParcelAction.DEPOSIT)
    return await link(site, parcel_id)


async def link(site: Site, parcel_id: str) -> str:
    answer = await site.client.post(
        f"/v1/parcels/{parcel_id}/self-service-link", headers=site.acme.auth()
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    site.spec.validate("self-service-link", body)
    assert body["url"] == f"{site.gateway.base_url}/self-service/{body['token']}"
    token: str = body["token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def call(site: Site, token: str, what: str, body: Any = None) -> httpx.Response:
    path = "/v1/self-service/parcel" + (f"/{what}" if what else "")
    if what:
        return await site.client.post(path, json=body, headers=bearer(token))
    return await site.client.get(path, headers=bearer(token))


async def test_the_recipient_sees_the_parcel_and_extends_it_once(site: Site) -> None:
    token = await ready(site, "SS-1")
    view = (await call(site, token, "")).json()
    site.spec.validate("self-service-parcel", view)
    assert view["state"] == "ready_for_pickup"
    assert view["locker"]["lockerId"] == "WAW-CENTRAL-01"
    assert (view["extensionDaysAvailable"], view["codesLeft"], view["canRedirect"]) == (2, 3, True)
    before = await site.gateway.parcels.get("acme", "SS-1")
    assert before.pickup_until is not None

    extended = await call(site, token, "extend", {"days": 1})
    assert extended.status_code == 200, extended.text
    site.spec.validate("self-service-parcel", extended.json())
    after = await site.gateway.parcels.get("acme", "SS-1")
    assert after.pickup_until == before.pickup_until + DAY
    assert extended.json()["extensionDaysAvailable"] == 0
    # The carrier's record and history show it, like the carrier's own extension.
    record = (await site.get("/v1/parcels/SS-1")).json()
    assert record["recipientRequests"]["extendedAt"] is not None
    events = (await site.get("/v1/parcels/SS-1/events")).json()["items"]
    assert events[-1]["type"] == "parcel.ready_for_pickup"
    assert events[-1]["details"] == {"by": "recipient", "days": 1}
    # The reminder moved with the deadline (24 h before it, the settings' default lead).
    assert after.next_reminder_at == after.pickup_until - DAY

    again = refused(await call(site, token, "extend", {}), 409, "IllegalTransition")
    assert "once already" in again["detail"]
    assert (await site.gateway.parcels.get("acme", "SS-1")).pickup_until == after.pickup_until


async def test_an_extension_past_the_limit_or_not_allowed_is_refused(site: Site) -> None:
    token = await ready(site, "SS-2")
    over = refused(
        await call(site, token, "extend", {"days": 3}), 422, "PropertyConstraintViolation"
    )
    assert over["errors"][0]["pointer"] == "/days"
    refused(await call(site, token, "extend", {"days": "two"}), 422, "PropertyConstraintViolation")
    refused(
        await call(site, token, "extend", {"days": 1, "x": 1}), 422, "PropertyConstraintViolation"
    )
    typed = await site.client.post(
        "/v1/self-service/parcel/extend", content=b"days=1", headers=bearer(token)
    )
    refused(typed, 415, "UnsupportedMediaType")
    assert (await call(site, token, "extend", {})).status_code == 200  # all 2 days

    # A carrier whose policy allows no extension: the recipient is told so.
    async with site.gateway.store.transaction() as tx:
        await tx.hold_policies.put(
            PolicyScope.CARRIER, "acme", HoldPolicy(extension_days=0), actor="test"
        )
    strict = await ready(site, "SS-3")
    assert (await call(site, strict, "")).json()["extensionDaysAvailable"] == 0
    no = refused(await call(site, strict, "extend", {}), 409, "IllegalTransition")
    assert "allows no extension" in no["detail"]


async def test_a_new_code_opens_the_locker_and_older_ones_stop(site: Site) -> None:
    token = await ready(site, "SS-4")
    codes = []
    for left in (2, 1, 0):
        answer = await call(site, token, "code")
        assert answer.status_code == 200, answer.text
        site.spec.validate("access-code", answer.json())
        assert answer.json()["purpose"] == "pickup"
        codes.append(answer.json()["code"])
        assert (await call(site, token, "")).json()["codesLeft"] == left
    limit = refused(await call(site, token, "code"), 409, "IllegalTransition")
    assert "3 new codes" in limit["detail"]
    async with site.gateway.store.transaction() as tx:
        assert await site.gateway.codes.redeem(tx, "WAW-CENTRAL-01", codes[0]) is None
        assert await site.gateway.codes.redeem(tx, "WAW-CENTRAL-01", codes[-1]) is not None
    record = (await site.get("/v1/parcels/SS-4")).json()
    assert record["recipientRequests"]["codesIssued"] == 3


async def test_a_redirect_request_is_recorded_for_the_carrier(site: Site) -> None:
    token = await ready(site, "SS-5")
    refused(await call(site, token, "redirect", {"lockerId": "NOWHERE-1"}), 404, "NotFound")
    same = await call(site, token, "redirect", {"lockerId": "WAW-CENTRAL-01"})
    refused(same, 422, "PropertyConstraintViolation")
    refused(await call(site, token, "redirect", {}), 422, "PropertyConstraintViolation")
    asked = await call(site, token, "redirect", {"lockerId": "KRK-MAIN-01"})
    assert asked.status_code == 200, asked.text
    assert (asked.json()["redirectLockerId"], asked.json()["canRedirect"]) == ("KRK-MAIN-01", False)
    record = (await site.get("/v1/parcels/SS-5")).json()
    assert record["recipientRequests"]["redirectLockerId"] == "KRK-MAIN-01"
    assert record["state"] == "ready_for_pickup"  # asked, not done: the carrier redirects
    twice = refused(
        await call(site, token, "redirect", {"lockerId": "KRK-MAIN-01"}), 409, "IllegalTransition"
    )
    assert "asked for already" in twice["detail"]
    # The carrier acts on it; the new parcel gets the new locker's policy, the link follows
    # the old one, which now says where the parcel went.
    body = {"lockerId": "KRK-MAIN-01", "newParcelId": "SS-5-R"}
    assert (await site.post("/v1/parcels/SS-5/redirect", body, key="redir-ss5")).status_code == 201
    assert (await call(site, token, "")).json()["state"] == "redirected"
    refused(await call(site, token, "code"), 409, "IllegalTransition")


@pytest.mark.parametrize("tamper", ["expired", "signature", "carrier-token", "none", "scheme"])
async def test_a_bad_link_is_refused_and_shows_nothing(site: Site, tamper: str) -> None:
    token = await ready(site, f"SS-BAD-{tamper}")
    headers = bearer(token)
    if tamper == "expired":
        site.clock.advance(timedelta(hours=24).total_seconds())
    elif tamper == "signature":
        head, claims, sig = token.split(".")
        headers = bearer(f"{head}.{claims}.{'A' * len(sig)}")
    elif tamper == "carrier-token":
        headers = site.acme.auth()  # a carrier's own JWT is no recipient link
    elif tamper == "none":
        headers = {}
    else:
        headers = {"Authorization": f"Basic {token}"}
    answer = await site.client.get("/v1/self-service/parcel", headers=headers)
    body = refused(answer, 401, "SecurityError")
    assert "SS-BAD" not in answer.text
    if tamper == "expired":
        assert "expired" in body["detail"]
    post = await site.client.post("/v1/self-service/parcel/code", headers=headers)
    refused(post, 401, "SecurityError")


async def test_only_a_waiting_last_mile_parcel_of_the_carrier_gets_a_link(site: Site) -> None:
    body = {"parcelId": "SS-GONE", "lockerId": "WAW-CENTRAL-01", "sizeClass": "S"}
    assert (await site.post("/v1/parcels", body, key="book-ss-gone")).status_code == 201
    other = await site.client.post(
        "/v1/parcels/SS-GONE/self-service-link", headers=site.globex.auth()
    )
    refused(other, 404, "NotFound")  # another carrier's parcel does not exist for it
    await site.post("/v1/parcels/SS-GONE/cancel", {}, key="cancel-ss-gone")
    done = await site.client.post("/v1/parcels/SS-GONE/self-service-link", headers=site.acme.auth())
    assert "no recipient waiting" in refused(done, 409, "IllegalTransition")["detail"]
