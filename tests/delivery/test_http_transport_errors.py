"""The HTTP transport's failure texts (lastError, logs) never quote a request's headers."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from gateway.delivery.auth.base import AuthContext
from gateway.delivery.routes import Route, TargetKind
from gateway.delivery.transports.http import HttpTransport
from gateway.sdk.connectors import HttpRequest
from tests.delivery.engine_support import CARRIER, FAST, ProbeConfig, ProbeConnector
from tests.support.loopback import LOOPBACK

TOKEN = "tok-abc\x0bsecret-part"  # what a broken token endpoint might hand out


class BadTokenAuth:
    async def apply(
        self, request: HttpRequest, context: AuthContext, client: httpx.AsyncClient
    ) -> HttpRequest:
        return replace(request, headers={**request.headers, "Authorization": f"Bearer {TOKEN}"})

    def unauthorized(self) -> bool:
        return False

    def ssl_context(self) -> ssl.SSLContext | None:
        return None


@pytest.fixture
async def listener() -> AsyncIterator[str]:
    """A TCP port that accepts connections (the request never gets that far)."""

    async def ignore(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(ignore, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}/hooks"


async def test_a_header_h11_refuses_is_not_quoted_in_the_error(listener: str) -> None:
    route = Route(
        kind=TargetKind.CONNECTOR,
        target_id="acme-hooks",
        carrier_id=CARRIER,
        connector=ProbeConnector(config=ProbeConfig(url=listener)),
        auth=BadTokenAuth(),
        policy=FAST,
    )
    request = HttpRequest(url=listener, body=b"{}", headers={"Content-Type": "application/json"})
    async with HttpTransport(allow_private=LOOPBACK) as transport:
        outcome = await transport.send(request, route, event_id="e1", attempt=1)
    assert not outcome.ok
    assert outcome.error is not None
    assert "LocalProtocolError" in outcome.error
    assert "secret-part" not in outcome.error
    assert "tok-abc" not in outcome.error
