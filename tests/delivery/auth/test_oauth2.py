"""OAuth2 client credentials against a respx token endpoint: cache, 401 refresh, sharing, errors."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from gateway.delivery.auth import AuthFailed, AuthPlugin, build_auth_plugin, parse_auth_config
from tests.delivery.auth.conftest import CARRIER_URL, attempt, rendered
from tests.support.clock import MovableClock

TOKEN_URL = "https://auth.carrier.example/oauth2/token"
CLIENT_ID = "openlocker-gw"
SECRET = "cs-7f3a9c0e5b1d4e2aa8b6c4d2e0f1a3b5"


def plugin(clock: MovableClock | None = None, **overrides: Any) -> AuthPlugin:
    config = {
        "type": "oauth2-client-credentials",
        "token_url": TOKEN_URL,
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "scope": ["lockers.events", "lockers.status"],
        "audience": "https://api.carrier.example",
        "extra_params": {"resource": "locker-events"},
        **overrides,
    }
    return build_auth_plugin(parse_auth_config(config), clock=clock or MovableClock())


def token(value: str, **extra: Any) -> httpx.Response:
    return httpx.Response(200, json={"access_token": value, "token_type": "Bearer", **extra})


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


async def bearer(auth: AuthPlugin, client: httpx.AsyncClient) -> str:
    signed = await auth.apply(rendered(), attempt(), client)
    return signed.headers["Authorization"]


async def send(auth: AuthPlugin, client: httpx.AsyncClient) -> httpx.Response:
    """What the engine does: apply, send, and on 401 ask the plugin once for a retry."""
    for retry in (False, True):
        signed = await auth.apply(rendered(), attempt(), client)
        response = await client.post(signed.url, content=signed.body, headers=dict(signed.headers))
        if response.status_code != 401 or retry or not auth.unauthorized():
            return response
    raise AssertionError("unreachable")


async def test_one_token_serves_many_requests(
    mock: respx.MockRouter, client: httpx.AsyncClient
) -> None:
    endpoint = mock.post(TOKEN_URL).mock(return_value=token("tok-1", expires_in=3600))
    auth = plugin()

    headers = [await bearer(auth, client) for _ in range(5)]

    assert headers == ["Bearer tok-1"] * 5
    assert endpoint.call_count == 1
    sent = endpoint.calls.last.request
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(sent.content.decode()) == {
        "grant_type": ["client_credentials"],
        "scope": ["lockers.events lockers.status"],
        "audience": ["https://api.carrier.example"],
        "resource": ["locker-events"],
    }
    scheme, _, credentials = sent.headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(credentials).decode() == f"{CLIENT_ID}:{SECRET}"


async def test_client_secret_post_sends_the_credentials_in_the_form(
    mock: respx.MockRouter, client: httpx.AsyncClient
) -> None:
    endpoint = mock.post(TOKEN_URL).mock(return_value=token("tok-1"))
    auth = plugin(token_auth_method="client_secret_post", scope="lockers.events")

    await bearer(auth, client)

    sent = endpoint.calls.last.request
    assert "Authorization" not in sent.headers
    form = parse_qs(sent.content.decode())
    assert form["client_id"] == [CLIENT_ID]
    assert form["client_secret"] == [SECRET]
    assert form["scope"] == ["lockers.events"]


async def test_token_is_renewed_shortly_before_expires_in(
    mock: respx.MockRouter, client: httpx.AsyncClient
) -> None:
    endpoint = mock.post(TOKEN_URL).mock(
        side_effect=[token("tok-1", expires_in=120), token("tok-2", expires_in=120)]
    )
    clock = MovableClock()
    auth = plugin(clock, expiry_leeway_s=30)

    assert await bearer(auth, client) == "Bearer tok-1"
    clock.advance(89)  # 120 s lifetime - 30 s leeway = renewed from 90 s on
    assert await bearer(auth, client) == "Bearer tok-1"
    clock.advance(2)
    assert await bearer(auth, client) == "Bearer tok-2"
    assert endpoint.call_count == 2


async def test_a_short_lived_token_is_still_reused_for_half_its_life(
    mock: respx.MockRouter, client: httpx.AsyncClient
) -> None:
    endpoint = mock.post(TOKEN_URL).mock(
        side_effect=[token("tok-1", expires_in="10"), token("tok-2", expires_in=10)]
    )
    clock = MovableClock()
    auth = plugin(clock, expiry_leeway_s=30)

    assert await bearer(auth, client) == "Bearer tok-1"
    clock.advance(4.9)
    assert await bearer(auth, client) == "Bearer tok-1"
    clock.advance(0.2)
    assert await bearer(auth, client) == "Bearer tok-2"
    assert endpoint.call_count == 2


@pytest.mark.parametrize("expires_in", [None, "soon"])
async def test_token_without_usable_expiry_is_kept_until_a_401(
    mock: respx.MockRouter,
    client: httpx.AsyncClient,
    expires_in: str | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    extra = {} if expires_in is None else {"expires_in": expires_in}
    endpoint = mock.post(TOKEN_URL).mock(side_effect=[token("tok-1", **extra), token("tok-2")])
    clock = MovableClock()
    auth = plugin(clock)

    assert await bearer(auth, client) == "Bearer tok-1"
    clock.advance(86_400 * 30)
    assert await bearer(auth, client) == "Bearer tok-1"
    assert auth.unauthorized() is True
    assert await bearer(auth, client) == "Bearer tok-2"
    assert endpoint.call_count == 2
    assert ("no number" in caplog.text) is (expires_in is not None)


async def test_a_401_fetches_a_fresh_token_and_retries_once(
    mock: respx.MockRouter, client: httpx.AsyncClient
) -> None:
    endpoint = mock.post(TOKEN_URL).mock(
        side_effect=[token("revoked", expires_in=3600), token("fresh", expires_in=3600)]
    )
    carrier = mock.post(CARRIER_URL).mock(
        side_effect=lambda request: httpx.Response(
            200 if request.headers["Authorization"] == "Bearer fresh" else 401
        )
    )
    auth = plugin()

    response = await send(auth, client)

    assert response.status_code == 200
    assert [call.request.headers["Authorization"] for call in carrier.calls] == [
        "Bearer revoked",
        "Bearer fresh",
    ]
    assert endpoint.call_count == 2


async def test_a_second_401_is_not_retried_again(
    mock: respx.MockRouter, client: httpx.AsyncClient
) -> None:
    endpoint = mock.post(TOKEN_URL).mock(side_effect=[token("a"), token("b"), token("c")])
    carrier = mock.post(CARRIER_URL).mock(return_value=httpx.Response(401))

    response = await send(plugin(), client)

    assert response.status_code == 401
    assert carrier.call_count == 2
    assert endpoint.call_count == 2


async def test_concurrent_deliveries_share_one_token_request(
    mock: respx.MockRouter, client: httpx.AsyncClient
) -> None:
    release = asyncio.Event()

    async def slow_token(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return token("shared", expires_in=3600)

    endpoint = mock.post(TOKEN_URL).mock(side_effect=slow_token)
    auth = plugin()

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(bearer(auth, client), name=f"delivery-{n}") for n in range(20)]
        await asyncio.sleep(0.05)  # every delivery is now waiting for the one token request
        release.set()

    assert {task.result() for task in tasks} == {"Bearer shared"}
    assert endpoint.call_count == 1


async def test_concurrent_401s_for_one_old_token_fetch_one_new_token(
    mock: respx.MockRouter, client: httpx.AsyncClient
) -> None:
    endpoint = mock.post(TOKEN_URL).mock(
        side_effect=[token("old", expires_in=3600), token("new", expires_in=3600), token("x")]
    )
    refused = 0
    all_refused = asyncio.Event()
    deliveries = 5

    async def carrier(request: httpx.Request) -> httpx.Response:
        nonlocal refused
        if request.headers["Authorization"] != "Bearer old":
            return httpx.Response(200)
        refused += 1
        if refused == deliveries:
            all_refused.set()
        await all_refused.wait()  # every delivery holds a 401 before any of them retries
        return httpx.Response(401)

    mock.post(CARRIER_URL).mock(side_effect=carrier)
    auth = plugin()
    assert await bearer(auth, client) == "Bearer old"

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(send(auth, client), name=f"d-{n}") for n in range(deliveries)]

    assert [task.result().status_code for task in tasks] == [200] * deliveries
    assert endpoint.call_count == 2


async def test_concurrent_deliveries_share_one_failure(
    mock: respx.MockRouter, client: httpx.AsyncClient
) -> None:
    release = asyncio.Event()

    async def failing(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return httpx.Response(503, text="maintenance")

    endpoint = mock.post(TOKEN_URL).mock(side_effect=failing)
    auth = plugin()

    async def attempt_one() -> BaseException | None:
        try:
            await bearer(auth, client)
        except AuthFailed as err:
            return err
        return None

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(attempt_one(), name=f"delivery-{n}") for n in range(10)]
        await asyncio.sleep(0.05)
        release.set()

    assert all(isinstance(task.result(), AuthFailed) for task in tasks)
    assert endpoint.call_count == 1


async def test_a_failed_token_request_is_tried_again_by_the_next_delivery(
    mock: respx.MockRouter, client: httpx.AsyncClient
) -> None:
    endpoint = mock.post(TOKEN_URL).mock(
        side_effect=[httpx.Response(500), token("tok-1", expires_in=3600)]
    )
    auth = plugin()

    with pytest.raises(AuthFailed):
        await bearer(auth, client)
    assert await bearer(auth, client) == "Bearer tok-1"
    assert endpoint.call_count == 2


TLS_FAILURE = "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get issuer"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param(
            httpx.Response(400, json={"error": "invalid_client", "error_description": "unknown"}),
            "refused the client (HTTP 400): invalid_client (unknown)",
            id="400-invalid-client",
        ),
        pytest.param(
            httpx.Response(401, json={"error": "invalid_client"}),
            "refused the client (HTTP 401): invalid_client",
            id="401-invalid-client",
        ),
        pytest.param(
            httpx.Response(
                400, json={"error": "invalid_request", "error_description": f"bad secret {SECRET}"}
            ),
            "bad secret [redacted]",
            id="server-echoes-the-secret",
        ),
        pytest.param(httpx.Response(500, text="Internal error"), "HTTP 500", id="500"),
        pytest.param(httpx.Response(503, json={"retry": True}), "HTTP 503", id="503-json"),
        pytest.param(httpx.Response(302, headers={"Location": "/login"}), "HTTP 302", id="302"),
        pytest.param(
            httpx.Response(200, text="<html>Sign in</html>"), "no JSON object", id="html-200"
        ),
        pytest.param(httpx.Response(200, json=["tok"]), "no JSON object", id="json-list"),
        pytest.param(
            httpx.Response(200, json={"token_type": "Bearer"}),
            "without an access_token",
            id="no-token",
        ),
        pytest.param(
            httpx.Response(200, json={"access_token": "t", "token_type": "mac"}),
            "'mac' token; only Bearer",
            id="mac-token",
        ),
        pytest.param(httpx.ReadTimeout("timed out"), "did not answer within 10 s", id="timeout"),
        pytest.param(httpx.ConnectError("Connection refused"), "unreachable", id="refused"),
        pytest.param(httpx.ConnectError(TLS_FAILURE), "CERTIFICATE_VERIFY_FAILED", id="tls"),
    ],
)
async def test_token_endpoint_failures_are_auth_failed_without_the_secret(
    mock: respx.MockRouter,
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    answer: httpx.Response | Exception,
    expected: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    if isinstance(answer, Exception):
        mock.post(TOKEN_URL).mock(side_effect=answer)
    else:
        mock.post(TOKEN_URL).mock(return_value=answer)

    with pytest.raises(AuthFailed) as failure:
        await bearer(plugin(), client)

    message = str(failure.value)
    assert expected in message
    assert TOKEN_URL in message
    assert SECRET not in message
    assert SECRET not in caplog.text
    assert base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode() not in caplog.text


async def test_static_plugins_do_not_ask_for_a_retry_on_401() -> None:
    config = parse_auth_config({"type": "api-key", "value": "k-123"})
    assert build_auth_plugin(config).unauthorized() is False
