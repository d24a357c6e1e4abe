"""The subscriptions API: create, read, list, delete, isolation between carriers, bad input."""

from __future__ import annotations

from typing import Any

import pytest

from tests.webhooks.conftest import FakeCarrier, Hooks, running


async def test_create_read_list_and_delete(hooks: Hooks) -> None:
    url = hooks.carrier.url()
    created = await hooks.site.post(
        "/v1/webhooks",
        {"url": url, "events": ["parcel.ready_for_pickup"], "description": "app pushes"},
        key="create-sub-1",
    )
    assert created.status_code == 201
    sub = created.json()
    hooks.site.spec.validate("webhook-subscription", sub)
    assert created.headers["Location"] == f"/v1/webhooks/{sub['id']}"
    assert (sub["url"], sub["events"], sub["active"]) == (url, ["parcel.ready_for_pickup"], True)
    everything = await hooks.subscribe()
    assert everything["events"] is None  # every type, including future ones
    assert everything["description"] is None

    assert (await hooks.site.get(f"/v1/webhooks/{sub['id']}")).json() == sub
    listed = (await hooks.site.get("/v1/webhooks")).json()
    hooks.site.spec.validate("webhook-list", listed)
    assert [s["id"] for s in listed["items"]] == [sub["id"], everything["id"]]

    deleted = await hooks.delete(sub["id"])
    assert (deleted.status_code, deleted.content) == (204, b"")
    again = await hooks.delete(sub["id"])
    assert again.status_code == 204  # DELETE is idempotent
    gone = (await hooks.site.get(f"/v1/webhooks/{sub['id']}")).json()
    assert gone["active"] is False
    listed = (await hooks.site.get("/v1/webhooks")).json()
    assert [s["id"] for s in listed["items"]] == [everything["id"]]


async def test_create_is_idempotent(hooks: Hooks) -> None:
    body = {"url": hooks.carrier.url()}
    first = await hooks.site.post("/v1/webhooks", body, key="same-key-1")
    replay = await hooks.site.post("/v1/webhooks", body, key="same-key-1")
    assert (replay.status_code, replay.json()) == (201, first.json())
    assert len((await hooks.site.get("/v1/webhooks")).json()["items"]) == 1
    other = await hooks.site.post("/v1/webhooks", {"url": body["url"] + "2"}, key="same-key-1")
    assert (other.status_code, other.json()["code"]) == (409, "IdempotencyConflict")
    missing = await hooks.site.post("/v1/webhooks", body)
    assert (missing.status_code, missing.json()["code"]) == (400, "IdempotencyKeyMissing")


async def test_another_carriers_subscription_is_not_found(hooks: Hooks) -> None:
    sub = await hooks.subscribe()
    globex = hooks.site.globex
    base = f"/v1/webhooks/{sub['id']}"
    answers = [
        await hooks.site.get(base, carrier=globex),
        await hooks.site.get(f"{base}/deliveries", carrier=globex),
        await hooks.delete(sub["id"], carrier=globex),
        await hooks.site.post(f"{base}/deliveries/1/retry", {}, key="globex-r1", carrier=globex),
    ]
    assert [(a.status_code, a.json()["code"]) for a in answers] == [(404, "NotFound")] * 4
    assert (await hooks.site.get("/v1/webhooks", carrier=globex)).json() == {"items": []}
    assert (await hooks.site.get(base)).json()["active"] is True  # untouched


async def test_unknown_ids_are_not_found(hooks: Hooks) -> None:
    sub = await hooks.subscribe()
    missing = "00000000-0000-4000-8000-000000000000"
    for path in (
        f"/v1/webhooks/{missing}",
        f"/v1/webhooks/{missing}/deliveries",
        "/v1/webhooks/not-a-uuid",
    ):
        assert (await hooks.site.get(path)).status_code == 404, path
    for delivery in ("999", "abc", "0"):
        path = f"/v1/webhooks/{sub['id']}/deliveries/{delivery}/retry"
        answer = await hooks.site.post(path, {}, key=f"retry-{delivery}-x")
        assert (answer.status_code, answer.json()["code"]) == (404, "NotFound"), delivery


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"url": "ftp://hooks.example/x"}, "/url"),
        ({"url": "hooks.example/relative"}, "/url"),
        ({"url": "https://user:pw@hooks.example/x"}, "/url"),
        ({"url": "https://hooks.example/" + "a" * 2040}, "/url"),
        ({"url": "http://:8080/hooks"}, "/url"),
        ({"url": "http://hooks.example:99999/x"}, "/url"),
        ({"url": "https://hooks.example/x", "events": ["parcel.teleported"]}, "/events/0"),
        ({"url": "https://hooks.example/x", "events": []}, "/events"),
        ({"url": "https://hooks.example/x", "secret": "s3cr3t"}, "/secret"),
        ({"events": ["parcel.reserved"]}, "/url"),
    ],
)
async def test_bad_subscriptions_are_422_problems(
    hooks: Hooks, body: dict[str, Any], pointer: str
) -> None:
    answer = await hooks.site.post("/v1/webhooks", body, key="bad-sub-1")
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    hooks.site.spec.validate("problem", problem)
    assert problem["code"] == "PropertyConstraintViolation"
    assert pointer in [e["pointer"] for e in problem["errors"]]


@pytest.mark.parametrize(
    ("query", "pointer"),
    [
        ({"state": "failed"}, "/query/state"),
        ({"limit": "0"}, "/query/limit"),
        ({"cursor": "bm9wZQ"}, "/query/cursor"),
        ({"colour": "red"}, "/query/colour"),
    ],
)
async def test_bad_delivery_queries_are_422_problems(
    hooks: Hooks, query: dict[str, str], pointer: str
) -> None:
    sub = await hooks.subscribe()
    path = f"/v1/webhooks/{sub['id']}/deliveries"
    answer = await hooks.site.client.get(path, params=query, headers=hooks.site.acme.auth())
    assert answer.status_code == 422
    assert [e["pointer"] for e in answer.json()["errors"]] == [pointer]


async def test_retry_body_is_closed_and_only_dead_deliveries_retry(
    hooks: Hooks, receiver: FakeCarrier
) -> None:
    sub = await hooks.subscribe()
    await hooks.book("WH-API-1", reserve=False)
    (delivered,) = await hooks.settled(sub["id"], 1)
    path = f"/v1/webhooks/{sub['id']}/deliveries/{delivered['id']}/retry"
    unknown = await hooks.site.post(path, {"force": True}, key="retry-force-1")
    assert (unknown.status_code, unknown.json()["errors"][0]["pointer"]) == (422, "/force")
    not_dead = await hooks.site.post(path, {}, key="retry-live-1")
    assert (not_dead.status_code, not_dead.json()["code"]) == (409, "IllegalTransition")


async def test_deliveries_are_paged_oldest_first(hooks: Hooks, receiver: FakeCarrier) -> None:
    sub = await hooks.subscribe()
    for n in range(5):
        await hooks.book(f"WH-PAGE-{n}", reserve=False)
    everything = await hooks.settled(sub["id"], 5)
    seen: list[int] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await hooks.site.get(f"/v1/webhooks/{sub['id']}/deliveries", **params)).json()
        hooks.site.spec.validate("webhook-delivery-list", page)
        seen += [d["id"] for d in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == [d["id"] for d in everything] == sorted(seen)


async def test_a_carrier_holds_a_limited_number_of_subscriptions(
    database_url: str, receiver: FakeCarrier
) -> None:
    async with running(database_url, receiver, webhook_max_subscriptions=2) as hooks:
        first = await hooks.subscribe()
        await hooks.subscribe()
        third = await hooks.site.post("/v1/webhooks", {"url": receiver.url()}, key="third-key-1")
        assert (third.status_code, third.json()["code"]) == (403, "Forbidden")
        assert (await hooks.delete(first["id"])).status_code == 204
        await hooks.subscribe()  # room again
